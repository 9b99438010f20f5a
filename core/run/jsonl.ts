/**
 * A run's append-only JSON-lines files: incremental reading from a byte offset, a chunk at a
 * time (never the whole file at once), leaving a torn last line for the next read and
 * skipping malformed lines. Appending whole lines is `line_log.ts`'s `LineLog`.
 *
 * @example
 * ```ts
 * import { readJsonLines } from "./jsonl.ts";
 * const isAny = (v: unknown): v is unknown => true;
 * const first = await readJsonLines("runs/default-20261201-101010", "events.jsonl", isAny);
 * const next = await readJsonLines("runs/default-20261201-101010", "events.jsonl", isAny, {
 *   sinceOffset: first.offset,
 * });
 * console.log(first.records.length, next.records.length);
 * ```
 *
 * @module
 */
import { type ConfinedFile, FsError, openConfined } from "../fs/confine.ts";

/** Options of an incremental JSON-lines read. */
export interface ReadLinesOptions {
  /** Byte offset returned by the previous read; 0 (the default) reads from the start. */
  sinceOffset?: number;
  /**
   * Stop after about this many bytes (whole lines only; default: to the end of the file).
   * `more` then says whether the file goes on; pass `offset` back to continue.
   */
  maxBytes?: number;
}

/** The result of an incremental JSON-lines read. */
export interface LinesResult<T> {
  /** Records parsed from complete lines after `sinceOffset`. */
  records: T[];
  /** Byte offset to pass as `sinceOffset` next time (just after the last complete line). */
  offset: number;
  /** Complete lines that were not valid records (skipped). */
  skipped: number;
  /**
   * True when the file was shorter than `sinceOffset` (replaced or truncated): the read
   * restarted at 0 and `records` holds the whole file.
   */
  reset: boolean;
  /** True when `maxBytes` stopped the read before the end of the file. */
  more?: boolean;
}

/** Bytes read per chunk: a file of any size is read a chunk at a time, never all at once. */
export const READ_CHUNK_BYTES = 1 << 20;

/** A single line longer than this is skipped as malformed (a run file is never code). */
const MAX_LINE_BYTES = 16 << 20;

/**
 * Reads the complete lines of the JSON-lines file `rel` of run `runDir` from byte
 * `sinceOffset` on, a chunk at a time. A last line without its newline (being written) is
 * not consumed; a malformed line is skipped. A missing file reads as empty; a symlink or a
 * file that is not regular is refused ({@linkcode FsError}).
 */
export async function readJsonLines<T>(
  runDir: string,
  rel: string,
  isRecord: (v: unknown) => v is T,
  options: ReadLinesOptions = {},
): Promise<LinesResult<T>> {
  let since = Math.max(0, Math.floor(options.sinceOffset ?? 0));
  let fh: ConfinedFile;
  try {
    fh = await openConfined(runDir, rel);
  } catch (err) {
    if (err instanceof FsError && err.status === 404) {
      return { records: [], offset: 0, skipped: 0, reset: since > 0 };
    }
    throw err;
  }
  try {
    const size = (await fh.stat()).size;
    let reset = false;
    if (since > size) {
      since = 0;
      reset = true;
    }
    const end = options.maxBytes === undefined
      ? size
      : Math.min(size, since + Math.max(1, options.maxBytes));
    const records: T[] = [];
    let skipped = 0;
    let offset = since;
    let carry = new Uint8Array(0);
    const chunk = new Uint8Array(READ_CHUNK_BYTES);
    // An offset inside a line (the rest of a line skipped as too long, or a caller's guess):
    // that line's tail is skipped, never read as a line of its own.
    let skipping = false;
    if (since > 0) {
      skipping = (await fh.read(chunk, 0, 1, since - 1)).bytesRead === 1 && chunk[0] !== 10;
    }
    let pos = since;
    while (pos < size) {
      const n = (await fh.read(chunk, 0, chunk.length, pos)).bytesRead;
      if (n === 0) break;
      pos += n;
      const bytes = carry.length ? concat(carry, chunk.subarray(0, n)) : chunk.subarray(0, n);
      const lastNl = bytes.lastIndexOf(10);
      if (lastNl < 0) {
        if (skipping || bytes.length > MAX_LINE_BYTES) {
          if (!skipping) skipped++;
          skipping = true;
          carry = new Uint8Array(0);
          offset = pos;
          // A long run of bytes without a newline (a corrupt or sparse file) is skipped a
          // step at a time too: the caller continues from `offset`.
          if (offset >= end && end < size) return { records, offset, skipped, reset, more: true };
        } else {
          carry = bytes.slice();
        }
        continue;
      }
      const start = skipping ? bytes.indexOf(10) + 1 : 0;
      skipping = false;
      const text = new TextDecoder().decode(bytes.subarray(start, Math.max(start, lastNl)));
      const parsed = parseLines(text, isRecord);
      for (const r of parsed.records) records.push(r);
      skipped += parsed.skipped;
      offset = pos - (bytes.length - lastNl - 1);
      carry = bytes.slice(lastNl + 1);
      if (offset >= end && end < size) {
        return { records, offset, skipped, reset, more: true };
      }
    }
    return { records, offset, skipped, reset };
  } finally {
    await fh.close();
  }
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}

/** Parses newline-separated JSON, skipping blank and malformed lines. */
export function parseLines<T>(
  text: string,
  isRecord: (v: unknown) => v is T,
): { records: T[]; skipped: number } {
  const records: T[] = [];
  let skipped = 0;
  for (const line of text.split("\n")) {
    const trimmed = line.trim();
    if (trimmed === "") continue;
    try {
      const v = JSON.parse(trimmed);
      if (isRecord(v)) records.push(v);
      else skipped++;
    } catch {
      skipped++;
      const salvaged = salvage(trimmed, isRecord);
      if (salvaged !== undefined) records.push(salvaged);
    }
  }
  return { records, skipped };
}

/**
 * A torn line left by a crash, followed by a record appended after a restart, reads as
 * `{"epoch": 9, "ti{"epoch":10,...}`: recover the complete record that follows the fragment.
 */
function salvage<T>(line: string, isRecord: (v: unknown) => v is T): T | undefined {
  for (let i = line.indexOf('{"', 1); i > 0; i = line.indexOf('{"', i + 1)) {
    try {
      const v = JSON.parse(line.slice(i));
      if (isRecord(v)) return v;
    } catch { /* keep looking */ }
  }
  return undefined;
}
