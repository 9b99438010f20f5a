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

/** A text stream read as it comes: wait for a pattern (with a deadline), see all read so far. */
export interface TextWatcher {
  /** Reads until `re` matches all text read so far; throws after `ms` showing that text. */
  waitFor(re: RegExp, ms: number): Promise<void>;
  /** All text read so far. */
  text(): string;
}

/** Watches `reader` (e.g. an SSE response body decoded to text). */
export function watchText(reader: ReadableStreamDefaultReader<string>): TextWatcher {
  let buf = "";
  return {
    async waitFor(re, ms) {
      const deadline = Date.now() + ms;
      while (!re.test(buf)) {
        const left = deadline - Date.now();
        if (left <= 0) throw new Error(`timeout waiting for ${re} in:\n${buf}`);
        const r = await Promise.race([
          reader.read(),
          new Promise<null>((ok) => setTimeout(() => ok(null), left)),
        ]);
        if (r && !r.done) buf += r.value;
      }
    },
    text: () => buf,
  };
}
