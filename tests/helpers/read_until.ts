/**
 * Reads a child's text output until `pattern` matches what has arrived (or the stream ends).
 *
 * @module
 */

/** Reads `reader` until `pattern` matches; returns all text read and the match, if any. */
export async function readUntil(
  reader: ReadableStreamDefaultReader<string>,
  pattern: RegExp,
): Promise<{ out: string; match: string | undefined }> {
  let out = "";
  while (!pattern.test(out)) {
    const r = await reader.read();
    if (r.done) break;
    out += r.value;
  }
  return { out, match: pattern.exec(out)?.[0] };
}
