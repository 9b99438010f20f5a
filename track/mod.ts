/**
 * Track any TypeScript training loop, in Deno and Node: `init()` a run, `log()` numbers,
 * `finish()`. A tfjs `model.fit` gets the same with `run.fitCallback()`. The run is an
 * ordinary convdeck run (runs table, queries on config keys, compare, the live dashboard,
 * tags, notes, delete), with the trainer's lock and heartbeat: a killed script shows
 * `crashed` and continues with `init({ resume: id })`. Imports no tfjs backend, sharp or Hono;
 * `node:` built-ins only.
 *
 * @example
 * ```ts
 * import { init } from "./mod.ts";
 * const run = await init({
 *   runs: await Deno.makeTempDir(),
 *   name: "mlp",
 *   config: { lr: 0.01, hidden: 64, data: { augment: true } },
 *   metrics: { f1: "max" },
 * });
 * for (let step = 1; step <= 100; step++) run.log({ loss: 1 / step });
 * run.log({ val_loss: 0.4, f1: 0.7 }, { epoch: 0 });
 * await run.finish();
 * ```
 *
 * @module
 */
import { RunRecorder } from "../core/run/recorder.ts";
import { checkName, checkNote, checkTag } from "../core/run/meta.ts";
import { VERSION } from "../core/version.ts";
import { watchRun } from "./exit_hooks.ts";
import { Run } from "./run.ts";

export { type FinishOptions, type LogPosition, Run, type SaveModelInfo } from "./run.ts";
export type { FitCallbackOptions, ModelLike, TfjsCallback } from "./fit_callback.ts";
export type { LayersModelLike } from "../core/run/checkpoint_writer.ts";

/** Options of {@linkcode init}. */
export interface InitOptions {
  /** The runs folder (default `runs`). */
  runs?: string;
  /** The run's display name; also the first part of its id unless `experiment` is given. */
  name?: string;
  /** The experiment (group) name, the first part of the run id (default: `name` or `track`). */
  experiment?: string;
  /** Tags (letters, digits, `_.:+-`). */
  tags?: string[];
  /** A free-form note. */
  note?: string;
  /** Hyperparameters, any JSON: every key (nested ones as `a.b`) is a runs-table column. */
  config?: Record<string, unknown>;
  /** Directions of your own metrics (`{ f1: "max", wer: "min" }`) for `best` and sorting. */
  metrics?: Record<string, "min" | "max">;
  /**
   * The id of a run (in `runs`) to continue: records are appended, steps and epochs go on from
   * where it stopped, nothing is rewritten. `name`, `experiment`, `tags`, `note` and `config`
   * belong to the run's start and are not changed; `metrics` adds directions.
   */
  resume?: string;
  /**
   * End the run when the process does (default true): an unhandled error as `failed`,
   * Ctrl-C as `stopped`, an exit without `finish()` as `completed`.
   */
  handleExit?: boolean;
}

function checkConfig(config: unknown): Record<string, unknown> {
  if (typeof config !== "object" || config === null || Array.isArray(config)) {
    throw new TypeError("init(): config must be an object, e.g. { lr: 0.01, hidden: 64 }");
  }
  let text: string;
  try {
    text = JSON.stringify(config);
  } catch (err) {
    throw new TypeError(`init(): config must be JSON (${(err as Error).message})`);
  }
  return JSON.parse(text);
}

function checkMetrics(metrics: unknown): Record<string, "min" | "max"> | undefined {
  if (metrics === undefined) return undefined;
  if (typeof metrics !== "object" || metrics === null || Array.isArray(metrics)) {
    throw new TypeError('init(): metrics must map names to "min" or "max", e.g. { f1: "max" }');
  }
  for (const [k, v] of Object.entries(metrics)) {
    if (v !== "min" && v !== "max") {
      throw new TypeError(`init(): metrics.${k} is ${JSON.stringify(v)}; use "min" or "max"`);
    }
  }
  return { ...metrics } as Record<string, "min" | "max">;
}

/**
 * Starts a run in `options.runs` (or continues `options.resume`) and returns it. Throws a
 * clear error for bad options, an unwritable runs folder, or a run that another live process
 * is writing.
 *
 * @example
 * ```ts
 * import { init } from "./mod.ts";
 * const run = await init({ runs: await Deno.makeTempDir(), config: { x0: 3 } });
 * run.log({ loss: 9 });
 * await run.finish();
 * ```
 */
export async function init(options: InitOptions = {}): Promise<Run> {
  const runs = options.runs ?? "runs";
  const metrics = checkMetrics(options.metrics);
  let rec: RunRecorder;
  if (options.resume !== undefined) {
    rec = await RunRecorder.open(runs, options.resume);
    if (metrics) {
      rec.patchInfo({
        tracked: { ...rec.info.tracked!, metrics: { ...rec.info.tracked?.metrics, ...metrics } },
      });
    }
  } else {
    const name = options.name === undefined ? undefined : checkName(options.name);
    const tags = (options.tags ?? []).map(checkTag);
    const note = options.note === undefined ? undefined : checkNote(options.note);
    rec = await RunRecorder.create({
      runsDir: runs,
      experiment: options.experiment ?? name ?? "track",
      config: checkConfig(options.config ?? {}),
      versions: { convdeck: VERSION },
      tracked: metrics ? { metrics } : {},
      meta: { name, tags, note },
    });
  }
  if (options.handleExit !== false) watchRun(rec);
  return new Run(rec);
}
