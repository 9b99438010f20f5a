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
import { join, resolve } from "node:path";
import { type MetricsRecord, RUN_FILES, type RunEvent, type RunInfo } from "./format.ts";
import { FsError, readConfinedText } from "../fs/confine.ts";
import { type LinesResult, readJsonLines, type ReadLinesOptions } from "./jsonl.ts";
import { readRunInfoChecked } from "./run_info.ts";

export { FsError, type FsErrorStatus, resolveInside, safeSegments } from "../fs/confine.ts";
/**
 * The error of a refused or missing run file: the one confinement error, `FsError`, under
 * its older names (kept for the public API).
 */
export { FsError as RunFileError, FsError as UnsafePathError } from "../fs/confine.ts";
export {
  MAX_RUN_INFO_BYTES,
  readRunInfo,
  readRunInfoChecked,
  validateRunInfo,
} from "./run_info.ts";
export {
  type LinesResult,
  parseLines,
  READ_CHUNK_BYTES,
  readJsonLines,
  type ReadLinesOptions,
} from "./jsonl.ts";

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
    return await readConfinedText(runDir, RUN_FILES.summary, MAX_SUMMARY_BYTES);
  } catch (err) {
    if (err instanceof FsError && err.status === 404) return null;
    throw err;
  }
}
