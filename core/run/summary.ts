/**
 * The summary of one run that listings, queries and the runs table use: run.json's facts, the
 * metadata sidecar, and the derived state, flattened into cells (one per column: name,
 * experiment, status, tags, each hyperparameter, best/last/test metrics, duration, start).
 *
 * @example
 * ```ts
 * import { runCells, summarizeRun } from "./summary.ts";
 * const s = summarizeRun("r1", "/runs/r1", null, { error: "no run.json" });
 * console.log(runCells(s).status); // "invalid"
 * ```
 *
 * @module
 */
import { isAbsolute } from "node:path";
import type { RunInfo } from "./format.ts";
import { emptyMeta, type RunMeta } from "./meta.ts";
import type { DerivedStatus } from "./state.ts";
import type { RunRestarts } from "./restarts.ts";

/** One cell of the runs table. */
export type Cell = string | number | boolean | string[] | null;

/** A run's summary (what the run index keeps per run). */
export interface RunSummaryRecord {
  /** The folder name. */
  id: string;
  /** Absolute folder path. */
  dir: string;
  /** The metadata sidecar (defaults when there is none or it is corrupt). */
  meta: RunMeta;
  /** Why the sidecar could not be used. */
  metaProblem?: string;
  /** Why run.json could not be read (then most fields are empty). */
  error?: string;
  /** Fields of run.json with a wrong type. */
  problems?: string[];
  /** Experiment name. */
  experiment: string | null;
  /** run.json's status, or `invalid`; see `state` for the derived one. */
  status: RunInfo["status"] | "invalid";
  /** The derived state (`crashed` for a dead `running` run). */
  state: DerivedStatus | "invalid";
  /** Why a crashed run is judged dead. */
  crashReason?: string;
  /** Why training stopped early, or the error of a failed run. */
  stopReason?: string;
  /** ISO start time. */
  createdAt: string | null;
  /** ISO time of the last run.json update. */
  updatedAt: string | null;
  /** ISO end time. */
  endedAt: string | null;
  /**
   * How long the run's processes were alive, in ms (null: no start or end time): from start
   * to end (or to the last update while running), less the time it was dead between a crash
   * and a resume (see {@linkcode activeDurationMs}). Computed once, when the run is read.
   */
  durationMs: number | null;
  /** Finished epochs. */
  epochs: number;
  /** Hyperparameters: the standard options and the experiment's params (a tracked run: its
   * whole config), nested keys flattened with dots. */
  hyper: Record<string, string | number | boolean>;
  /** Best value per metric, with its 0-based epoch. */
  best: Record<string, { value: number; epoch: number }>;
  /** Last epoch's value per metric. */
  last: Record<string, number>;
  /** Test accuracy, when evaluated. */
  testAcc: number | null;
  /** tfjs backend name. */
  backend: string | null;
  /**
   * Whether the run has a model to export (`runModelState`): `yes`, `untrained` (only the
   * starting point), `none`; `null` when not looked at.
   */
  model: "yes" | "untrained" | "none" | null;
  /** What resuming it needs besides the folder: an experiment file, callback plugins. */
  resumeNeeds?: { experimentFile: boolean; plugins: number };
  /** True for a run written by the tracking API (resumed by rerunning its script). */
  tracked?: boolean;
}

/** What resuming the run of `config` needs: its experiment file (not a built-in), plugins. */
/**
 * What resuming a run with this config needs besides its folder (an experiment file, callback
 * plugins); undefined when nothing.
 *
 * @example
 * ```ts
 * import { resumeNeedsOf } from "./summary.ts";
 * console.log(resumeNeedsOf({ experimentSource: "./my_exp.ts" }));
 * ```
 */
export function resumeNeedsOf(config: Record<string, unknown>): RunSummaryRecord["resumeNeeds"] {
  const code = config.code as { experiment?: { source?: unknown }; plugins?: unknown } | undefined;
  const source = code?.experiment?.source ?? config.experimentSource;
  const experimentFile = typeof source === "string" && isAbsolute(source);
  const plugins = Array.isArray(code?.plugins) ? code.plugins.length : 0;
  return experimentFile || plugins ? { experimentFile, plugins } : undefined;
}

/**
 * The options every experiment has (settable with flags, `--set` and sweeps), stored in
 * run.json's config: the hyperparameter columns. The one list (`core/experiment/options.ts` uses it).
 */
export const STANDARD_HYPERPARAMETERS = [
  "epochs",
  "batchSize",
  "learningRate",
  "imageSize",
  "seed",
  "precision",
] as const;

/** Names of the non-hyperparameter, non-metric columns. */
export const RUN_COLUMNS = [
  "id",
  "name",
  "experiment",
  "status",
  "tags",
  "note",
  "archived",
  "finished_epochs",
  "duration",
  "start",
  "backend",
  "model",
] as const;

type HyperValue = string | number | boolean;

/**
 * Adds `value` under `key` to `out`, an object's keys flattened with dots (`data.augment`), an
 * array as its JSON text; a key that is a run column or already taken gets `params.` in front.
 */
function addFlat(out: Record<string, HyperValue>, key: string, value: unknown, depth = 0): void {
  if (typeof value === "object" && value !== null && !Array.isArray(value) && depth < 8) {
    for (const [k, v] of Object.entries(value)) addFlat(out, `${key}.${k}`, v, depth + 1);
    return;
  }
  const cell = typeof value === "number" || typeof value === "string" || typeof value === "boolean"
    ? value
    : Array.isArray(value)
    ? JSON.stringify(value)
    : undefined;
  if (cell === undefined) return;
  const clash = (RUN_COLUMNS as readonly string[]).includes(key) || key in out;
  out[clash ? `params.${key}` : key] = cell;
}

/**
 * The hyperparameter columns of a run: the standard options and the experiment's `params`
 * for a trainer run, every key of the config for a run of the tracking API; nested keys are
 * flattened with dots.
 */
function flattenHyper(
  config: Record<string, unknown>,
  tracked: boolean,
): Record<string, HyperValue> {
  const out: Record<string, HyperValue> = {};
  if (tracked) {
    for (const [k, v] of Object.entries(config)) addFlat(out, k, v);
    return out;
  }
  for (const k of STANDARD_HYPERPARAMETERS) {
    const v = config[k];
    if (typeof v === "number" || typeof v === "string" || typeof v === "boolean") out[k] = v;
  }
  const params = config.params;
  if (typeof params === "object" && params !== null && !Array.isArray(params)) {
    for (const [k, v] of Object.entries(params as Record<string, unknown>)) addFlat(out, k, v);
  }
  return out;
}

/**
 * Builds a run's summary from its run.json (or the reason it is unreadable) and sidecar;
 * `extra.restarts` (`readRunRestarts`) takes the time a resumed run was dead out of its
 * duration.
 *
 * @example
 * ```ts
 * import { summarizeRun } from "./summary.ts";
 * import { readRunInfo } from "./run_info.ts";
 * const dir = "runs/default-20261201-101010";
 * const s = summarizeRun("default-20261201-101010", dir, await readRunInfo(dir));
 * console.log(s.hyper, s.best);
 * ```
 */
export function summarizeRun(
  id: string,
  dir: string,
  info: RunInfo | null,
  extra: {
    error?: string;
    problems?: string[];
    meta?: RunMeta;
    metaProblem?: string;
    model?: RunSummaryRecord["model"];
    restarts?: RunRestarts;
  } = {},
): RunSummaryRecord {
  const base = {
    id,
    dir,
    meta: extra.meta ?? emptyMeta(),
    ...(extra.metaProblem ? { metaProblem: extra.metaProblem } : {}),
  };
  if (!info) {
    return {
      ...base,
      error: extra.error ?? "run.json cannot be read",
      experiment: null,
      status: "invalid",
      state: "invalid",
      createdAt: null,
      updatedAt: null,
      endedAt: null,
      durationMs: null,
      epochs: 0,
      hyper: {},
      best: {},
      last: {},
      testAcc: null,
      backend: null,
      model: extra.model ?? null,
    };
  }
  const best = { ...(info.best ?? {}) };
  const needs = resumeNeedsOf(info.config ?? {});
  return {
    ...base,
    ...(extra.problems?.length ? { problems: extra.problems } : {}),
    experiment: info.experiment || null,
    status: info.status,
    state: info.status,
    ...(info.stopReason || info.error ? { stopReason: info.stopReason ?? info.error } : {}),
    createdAt: info.createdAt || null,
    updatedAt: info.updatedAt || null,
    endedAt: info.endedAt ?? null,
    durationMs: aliveMs(info, extra.restarts),
    epochs: info.epochs ?? 0,
    hyper: flattenHyper(info.config ?? {}, info.tracked !== undefined),
    ...(info.tracked ? { tracked: true } : {}),
    best,
    last: { ...(info.last ?? {}) },
    testAcc: typeof info.test?.accuracy === "number" ? info.test.accuracy : null,
    backend: info.backend?.name ?? null,
    model: extra.model ?? null,
    ...(needs ? { resumeNeeds: needs } : {}),
  };
}

/** The alive time of run `info` with its `restarts` (see {@linkcode activeDurationMs}). */
function aliveMs(info: RunInfo, restarts: RunRestarts | undefined): number | null {
  const start = Date.parse(info.createdAt || "");
  const end = Date.parse(info.endedAt ?? (info.updatedAt || ""));
  if (!Number.isFinite(start) || !Number.isFinite(end)) return null;
  if (!restarts) return Math.max(0, end - start);
  return activeDurationMs(start, end, restarts.lastRecords, restarts.at);
}

/**
 * The run's duration in ms: the time its processes were alive (wall time from start to end,
 * or to the last update while running, less the time it was dead before a resume), as
 * computed when the run was read ({@linkcode RunSummaryRecord.durationMs}). Every place that
 * shows a run's duration (the runs table, `runs list` and `runs show`, the run page) uses it.
 *
 * @example
 * ```ts
 * import { runDurationMs, summarizeRun } from "./summary.ts";
 * runDurationMs(summarizeRun("r", "/runs/r", null)); // null
 * ```
 */
export function runDurationMs(s: RunSummaryRecord): number | null {
  return s.durationMs;
}

/**
 * Time the run's processes were alive, in ms: like {@linkcode runDurationMs}, but a run that
 * was resumed does not count the time between its last record (metrics or event) before a
 * `resumed`/`restarted` event and that event (the process was dead then). `times` are the
 * record times (ms) of metrics.jsonl and events.jsonl; `restarts` the times of the resume
 * events.
 *
 * @example
 * ```ts
 * import { activeDurationMs } from "./summary.ts";
 * // Ran 0-10 s, died, resumed at 100 s, ended at 110 s: 20 s alive.
 * activeDurationMs(0, 110_000, [0, 5_000, 10_000, 100_000, 105_000], [100_000]); // 20000
 * ```
 */
export function activeDurationMs(
  start: number,
  end: number,
  times: readonly number[],
  restarts: readonly number[],
): number {
  if (!Number.isFinite(start) || !Number.isFinite(end)) return 0;
  const starts = [start, ...restarts.filter((t) => t > start && t <= end)].sort((a, b) => a - b);
  let total = 0;
  for (let k = 0; k < starts.length; k++) {
    const from = starts[k];
    const next = starts[k + 1];
    let last = from;
    if (next === undefined) last = end;
    else for (const t of times) if (t >= from && t < next && t > last) last = t;
    total += Math.max(0, last - from);
  }
  return total;
}

/**
 * The run's cells by column key: the run columns ({@linkcode RUN_COLUMNS}; `duration` in
 * seconds, `start` in ms since 1970), each hyperparameter by name, `best.<metric>`,
 * `last.<metric>` and `test_acc`.
 *
 * @example
 * ```ts
 * import { runCells, summarizeRun } from "./summary.ts";
 * runCells(summarizeRun("r", "/runs/r", null)).id; // "r"
 * ```
 */
export function runCells(s: RunSummaryRecord): Record<string, Cell> {
  const duration = s.durationMs;
  const start = Date.parse(s.createdAt ?? "");
  const cells: Record<string, Cell> = {
    id: s.id,
    name: s.meta.name ?? null,
    experiment: s.experiment,
    status: s.state,
    tags: s.meta.tags,
    note: s.meta.note ?? null,
    archived: s.meta.archived,
    finished_epochs: s.epochs,
    duration: duration === null ? null : duration / 1000,
    start: Number.isFinite(start) ? start : null,
    backend: s.backend,
    model: s.model ?? null,
  };
  // for-in, not Object.entries: this runs for every run of a runs folder on a start.
  const { hyper, best, last } = s;
  for (const k in hyper) cells[k] = hyper[k];
  for (const k in best) cells["best." + k] = best[k].value;
  for (const k in last) cells["last." + k] = last[k];
  cells.test_acc = s.testAcc;
  return cells;
}
