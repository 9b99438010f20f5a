/**
 * Reading run directories (see `format.ts`): the list of runs, `run.json`, and incremental
 * reads of the append-only `metrics.jsonl` / `events.jsonl` files. Everything here is
 * read-only and tolerant of a run that is being written at the same time: a torn (half
 * written) last line is left for the next read, a malformed line is skipped and counted.
 *
 * @example
 * ```ts
 * import { listRuns, readMetrics } from "./reader.ts";
 * const runs = await listRuns("runs");
 * for (const run of runs) console.log(run.id, run.info?.status);
 * if (runs[0]) {
 *   const first = await readMetrics(runs[0].dir);
 *   // later: only what was appended since
 *   const next = await readMetrics(runs[0].dir, { sinceOffset: first.offset });
 *   console.log(first.records.length, next.records.length);
 * }
 * ```
 *
 * @module
 */
import { isAbsolute, join, resolve, sep } from "node:path";
import {
  type MetricsRecord,
  RUN_FILES,
  RUN_STATUSES,
  type RunEvent,
  type RunInfo,
} from "./format.ts";
import { openRunFile, readSmallRunText, RunFileError } from "./_safe_file.ts";

export { RunFileError } from "./_safe_file.ts";

/** The most bytes `run.json` may have (a larger one is a problem of that run, not read). */
export const MAX_RUN_INFO_BYTES = 1 << 20;

/** A path that a request or caller asked for could not be resolved safely. */
export class UnsafePathError extends Error {
  /** `400` for a malformed or escaping path, `404` for a path that does not exist. */
  readonly status: 400 | 404;
  /** Creates the error (`400` unless told otherwise). */
  constructor(message: string, status: 400 | 404 = 400) {
    super(message);
    this.name = "UnsafePathError";
    this.status = status;
  }
}

/**
 * Checks one relative path (may contain `/`-separated segments) and returns its segments.
 * Rejects empty segments, `.` and `..`, backslashes, NUL, `%` (so no encoded slash or dot can
 * be decoded later) and absolute paths.
 */
export function safeSegments(part: string): string[] {
  if (typeof part !== "string" || part.length === 0) {
    throw new UnsafePathError("empty path");
  }
  if (isAbsolute(part) || /^[a-zA-Z]:/.test(part)) {
    throw new UnsafePathError(`absolute path not allowed: ${JSON.stringify(part)}`);
  }
  const segments = part.split("/");
  for (const s of segments) {
    if (s === "" || s === "." || s === "..") {
      throw new UnsafePathError(`path segment ${JSON.stringify(s)} not allowed in ${part}`);
    }
    if (/[\\\0%]/.test(s)) {
      throw new UnsafePathError(`character not allowed in path ${JSON.stringify(part)}`);
    }
  }
  return segments;
}

/**
 * Resolves `parts` inside `root` and returns the real (symlink-free) absolute path. Throws
 * {@link UnsafePathError} (status 400) for `..`, absolute paths, `%`-encoded characters,
 * backslashes, or a symlink whose target lies outside `root`; status 404 when the path does
 * not exist.
 *
 * @example
 * ```ts
 * import { resolveInside } from "./reader.ts";
 * const file = await resolveInside("runs", "tiny-20250101-000000", "viz/index.json");
 * console.log(file);
 * ```
 */
export async function resolveInside(root: string, ...parts: string[]): Promise<string> {
  const segments = parts.flatMap(safeSegments);
  let realRoot: string;
  try {
    realRoot = await Deno.realPath(root);
  } catch {
    throw new UnsafePathError(`runs directory ${root} does not exist`, 404);
  }
  const candidate = join(realRoot, ...segments);
  let real: string;
  try {
    real = await Deno.realPath(candidate);
  } catch {
    throw new UnsafePathError(`not found: ${segments.join("/")}`, 404);
  }
  if (real !== realRoot && !real.startsWith(realRoot.endsWith(sep) ? realRoot : realRoot + sep)) {
    throw new UnsafePathError(`path escapes the runs directory: ${segments.join("/")}`);
  }
  return real;
}

/** One entry of {@link listRuns}. */
export interface RunListEntry {
  /** Directory name (the run id). */
  id: string;
  /** Absolute path of the run directory. */
  dir: string;
  /** The parsed run.json, or `null` when it is missing or unreadable (see `error`). */
  info: RunInfo | null;
  /** Why `info` is null. */
  error?: string;
  /** Fields of run.json that had the wrong type and were left out of `info`. */
  problems?: string[];
  /** Modification time of run.json (ms), for "recent first" ordering. */
  mtime: number;
}

/**
 * Lists the runs in `runsDir`: every sub-directory that has a `run.json`. Reads only run.json
 * (never metrics), a few files at a time, so hundreds of runs list quickly. Newest first
 * (by `createdAt`, then modification time). A missing `runsDir` gives an empty list.
 */
export async function listRuns(runsDir: string): Promise<RunListEntry[]> {
  const root = resolve(runsDir);
  const names: string[] = [];
  try {
    for await (const e of Deno.readDir(root)) {
      if (e.isDirectory && !e.name.startsWith(".")) names.push(e.name);
    }
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return [];
    throw err;
  }
  const out: RunListEntry[] = [];
  const limit = 16;
  for (let i = 0; i < names.length; i += limit) {
    const chunk = names.slice(i, i + limit);
    const entries = await Promise.all(chunk.map((name) => readListEntry(root, name)));
    for (const e of entries) if (e) out.push(e);
  }
  out.sort((a, b) =>
    (b.info?.createdAt ?? "").localeCompare(a.info?.createdAt ?? "") || b.mtime - a.mtime
  );
  return out;
}

async function readListEntry(root: string, name: string): Promise<RunListEntry | null> {
  const dir = join(root, name);
  const file = join(dir, RUN_FILES.info);
  let mtime = 0;
  try {
    mtime = (await Deno.lstat(file)).mtime?.getTime() ?? 0;
  } catch {
    return null; // not a run directory
  }
  try {
    const { info, problems } = await readRunInfoChecked(dir);
    return { id: name, dir, info, mtime, ...(problems.length ? { problems } : {}) };
  } catch (err) {
    return { id: name, dir, info: null, error: (err as Error).message, mtime };
  }
}

/**
 * Reads and validates `run.json` of the run in `runDir`. Throws an error naming the file
 * when it is missing, a symlink or not a regular file, larger than
 * {@linkcode MAX_RUN_INFO_BYTES}, not JSON, or lacks `id`/`status`. Optional fields of the
 * wrong type are dropped (see {@linkcode readRunInfoChecked} for the list).
 */
export async function readRunInfo(runDir: string): Promise<RunInfo> {
  return (await readRunInfoChecked(runDir)).info;
}

/**
 * {@linkcode readRunInfo} plus the problems found: each optional field of the wrong type is
 * left out of `info` and named in `problems`, so one odd run never breaks a listing.
 */
export async function readRunInfoChecked(
  runDir: string,
): Promise<{ info: RunInfo; problems: string[] }> {
  const file = join(runDir, RUN_FILES.info);
  let text: string;
  try {
    text = await readSmallRunText(runDir, RUN_FILES.info, MAX_RUN_INFO_BYTES);
  } catch (err) {
    throw new Error(`cannot read ${file}: ${(err as Error).message}`);
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw new Error(
      `${file} is not valid JSON (${(err as Error).message}); it is written by the trainer ` +
        `with write-then-rename, so the file was edited or copied partially`,
    );
  }
  return validateRunInfo(raw, file);
}

type FieldCheck = (v: unknown) => boolean;
const isString: FieldCheck = (v) => typeof v === "string";
const isCount: FieldCheck = (v) => typeof v === "number" && Number.isInteger(v) && v >= 0;
const isObject: FieldCheck = (v) => typeof v === "object" && v !== null && !Array.isArray(v);
const isTime: FieldCheck = (v) => typeof v === "string" && Number.isFinite(Date.parse(v));

/** Optional (or defaulted) run.json fields and the type each must have. */
const FIELDS: Record<string, [FieldCheck, string]> = {
  experiment: [isString, "a string"],
  stopReason: [isString, "a string"],
  error: [isString, "a string"],
  config: [isObject, "an object"],
  backend: [
    (v) => isObject(v) && isString((v as Record<string, unknown>).name),
    "an object with a name",
  ],
  versions: [isObject, "an object"],
  dataset: [isObject, "an object"],
  createdAt: [isTime, "an ISO time"],
  updatedAt: [isTime, "an ISO time"],
  endedAt: [isTime, "an ISO time"],
  pid: [isCount, "a process id"],
  epochs: [isCount, "a non-negative integer"],
  steps: [isCount, "a non-negative integer"],
  test: [
    (v) => isObject(v) && typeof (v as Record<string, unknown>).accuracy === "number",
    "an object with an accuracy",
  ],
  best: [
    (v) =>
      isObject(v) &&
      Object.values(v as Record<string, unknown>).every((b) =>
        isObject(b) && typeof (b as Record<string, unknown>).value === "number" &&
        typeof (b as Record<string, unknown>).epoch === "number"
      ),
    "an object of {value, epoch}",
  ],
};

/**
 * Checks a parsed run.json: `id` and a known `status` are required (else throws naming
 * `file`); other fields of the wrong type are dropped and listed in `problems`.
 */
export function validateRunInfo(
  raw: unknown,
  file = RUN_FILES.info as string,
): { info: RunInfo; problems: string[] } {
  if (!isObject(raw)) throw new Error(`${file} is not a JSON object: not a convdeck run.json`);
  const r = raw as Record<string, unknown>;
  if (typeof r.id !== "string" || typeof r.status !== "string") {
    throw new Error(`${file} lacks "id" or "status": not a convdeck run.json`);
  }
  if (!(RUN_STATUSES as readonly string[]).includes(r.status)) {
    throw new Error(
      `${file} has status ${JSON.stringify(r.status)}, not one of ${RUN_STATUSES.join(", ")}`,
    );
  }
  const problems: string[] = [];
  const info: Record<string, unknown> = { ...r };
  for (const [key, [check, what]] of Object.entries(FIELDS)) {
    if (info[key] === undefined) continue;
    if (!check(info[key])) {
      problems.push(`${key} should be ${what}, got ${JSON.stringify(info[key])?.slice(0, 60)}`);
      delete info[key];
    }
  }
  info.format = 1;
  info.experiment ??= "";
  info.config ??= {};
  info.versions ??= {};
  info.createdAt ??= "";
  info.updatedAt ??= info.createdAt;
  info.epochs ??= 0;
  info.steps ??= 0;
  return { info: info as unknown as RunInfo, problems };
}

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
 * file that is not regular is refused ({@linkcode RunFileError}).
 */
export async function readJsonLines<T>(
  runDir: string,
  rel: string,
  isRecord: (v: unknown) => v is T,
  options: ReadLinesOptions = {},
): Promise<LinesResult<T>> {
  let since = Math.max(0, Math.floor(options.sinceOffset ?? 0));
  let fh: Deno.FsFile;
  try {
    fh = await openRunFile(runDir, rel);
  } catch (err) {
    if (err instanceof RunFileError && err.status === 404) {
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
    await fh.seek(since, Deno.SeekMode.Start);
    const chunk = new Uint8Array(READ_CHUNK_BYTES);
    let pos = since;
    while (pos < size) {
      const n = await fh.read(chunk);
      if (n === null) break;
      pos += n;
      const bytes = carry.length ? concat(carry, chunk.subarray(0, n)) : chunk.subarray(0, n);
      const lastNl = bytes.lastIndexOf(10);
      if (lastNl < 0) {
        carry = bytes.length > MAX_LINE_BYTES ? new Uint8Array(0) : bytes.slice();
        if (bytes.length > MAX_LINE_BYTES) {
          skipped++;
          offset = pos;
        }
        continue;
      }
      const text = new TextDecoder().decode(bytes.subarray(0, lastNl));
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
    fh.close();
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

/** True for an object with numeric `epoch`, `step` and `time` (a `metrics.jsonl` record). */
export function isMetricsRecord(v: unknown): v is MetricsRecord {
  if (typeof v !== "object" || v === null || Array.isArray(v)) return false;
  const r = v as Record<string, unknown>;
  return typeof r.epoch === "number" && typeof r.step === "number" && typeof r.time === "number";
}

/** True for an object with a string `type` and numeric `epoch` (an `events.jsonl` record). */
export function isRunEvent(v: unknown): v is RunEvent {
  if (typeof v !== "object" || v === null || Array.isArray(v)) return false;
  const r = v as Record<string, unknown>;
  return typeof r.type === "string" && typeof r.epoch === "number";
}

/**
 * Reads `metrics.jsonl` of `runDir` incrementally (see {@link readJsonLines}). Epoch records
 * have no `batch` key; batch records do.
 */
export function readMetrics(
  runDir: string,
  options: ReadLinesOptions = {},
): Promise<LinesResult<MetricsRecord>> {
  return readJsonLines(runDir, RUN_FILES.metrics, isMetricsRecord, options);
}

/** Reads `events.jsonl` of `runDir` incrementally (see {@link readJsonLines}). */
export function readEvents(
  runDir: string,
  options: ReadLinesOptions = {},
): Promise<LinesResult<RunEvent>> {
  return readJsonLines(runDir, RUN_FILES.events, isRunEvent, options);
}

/** The most bytes of `model.txt` returned. */
const MAX_SUMMARY_BYTES = 1 << 20;

/** Reads `model.txt` of `runDir`, or `null` when there is none. */
export async function readModelSummary(runDir: string): Promise<string | null> {
  try {
    return await readSmallRunText(runDir, RUN_FILES.summary, MAX_SUMMARY_BYTES);
  } catch (err) {
    if (err instanceof RunFileError && err.status === 404) return null;
    throw err;
  }
}
