/**
 * The tracking client's side of a run folder (`track/`'s `init`/`log`/`finish`): the same
 * files, lock and heartbeat as the trainer's `RunWriter`, every file through core/fs (one
 * confinement policy, one atomic write; a deleted run folder is never re-created), so it runs
 * in Deno and Node. Records go through the shared {@linkcode LineLog} (buffered, whole
 * lines, at most a second behind); run.json (`best`, `last`, `epochs`, `steps`) is rewritten
 * in the background at most once a second, and at the end.
 *
 * @example
 * ```ts
 * import { RunRecorder } from "./recorder.ts";
 * const runsDir = await Deno.makeTempDir();
 * const rec = await RunRecorder.create({ runsDir, experiment: "demo", config: { lr: 0.1 } });
 * rec.record({ epoch: 0, step: 1, time: Date.now(), loss: 0.5 });
 * await rec.finish("completed");
 * ```
 *
 * @module
 */
import { join, resolve } from "node:path";
import process from "node:process";
import { writeFileAtomic, writeFileAtomicSync } from "../fs/atomic.ts";
import { confine, readConfinedText, safeSegments } from "../fs/confine.ts";
import type { MetricsRecord, RunInfo, RunStatus, TrackedRunInfo } from "./format.ts";
import { RUN_FILES } from "./format.ts";
import { LineLog } from "./line_log.ts";
import { acquireRunLock, type RunLock } from "./lock.ts";
import { repairAfterCrash } from "./repair.ts";
import { newRun } from "./run_id.ts";
import { validateRunInfo } from "./run_info.ts";
import { summarizeEpoch } from "./epoch_summary.ts";
import { emptyMeta, type RunMeta } from "./meta.ts";
import { isImprovement, metricDirection } from "../metric_direction.ts";
import { unrefTimer } from "./_runtime.ts";
import { checkpointDir } from "./checkpoints.ts";
import {
  type LayersModelLike,
  saveLayersModel,
  type WrittenCheckpoint,
} from "./checkpoint_writer.ts";

/**
 * How long the hot paths (`record`, `recordStep`, `event`) trust the last look at the run
 * folder (ms): a folder deleted under the script is noticed within this (its records go with
 * it), and `log()` does not pay a `stat` per call.
 */
const RECHECK_MS = 250;

/** The most bytes of run.json read when resuming. */
const MAX_INFO_BYTES = 4 << 20;

/** Options of {@linkcode RunRecorder.create}. */
export interface CreateRecorderOptions {
  /** The folder holding all runs (created if missing). */
  runsDir: string;
  /** The run's experiment name (first part of its id). */
  experiment: string;
  /** The run's configuration (any JSON; every key becomes a runs-table column). */
  config: Record<string, unknown>;
  /** What run.json records about the tracking client. */
  tracked?: Partial<TrackedRunInfo>;
  /** Versions to record. */
  versions?: Record<string, string>;
  /** The metadata sidecar's name, tags and note, written with the run. */
  meta?: Partial<Pick<RunMeta, "name" | "tags" | "note">>;
}

/** Where a record's values that are not finite were, for the Keras-style NaN record. */
export interface RecordedNonFinite {
  /** Metric name. */
  metric: string;
  /** `NaN`, `Infinity` or `-Infinity`. */
  value: string;
}

/** The runtime this process is (`deno 2.x` or `node 20.x`). */
export function runtimeName(): string {
  const deno = (globalThis as { Deno?: { version?: { deno?: string } } }).Deno;
  return deno?.version?.deno ? `deno ${deno.version.deno}` : `node ${process.versions.node}`;
}

/**
 * A run folder written by the tracking client. One per run; holds the run's lock (a second
 * writer is refused) and renews its heartbeat until {@linkcode RunRecorder.finish}.
 */
export class RunRecorder {
  /** run.json as last written (or about to be). */
  info: RunInfo;
  /** Absolute path of the run folder. */
  readonly dir: string;
  readonly #lock: RunLock;
  readonly #metrics: LineLog;
  readonly #events: LineLog;
  #infoDirty = false;
  #infoTimer: ReturnType<typeof setTimeout> | undefined;
  #infoQueue: Promise<void> = Promise.resolve();
  #dirs = new Map<string, "min" | "max" | null>();
  #ended = false;

  private constructor(dir: string, info: RunInfo, lock: RunLock) {
    this.dir = dir;
    this.info = info;
    this.#lock = lock;
    this.#metrics = new LineLog(dir, RUN_FILES.metrics);
    this.#events = new LineLog(dir, RUN_FILES.events);
  }

  /** The run id (the folder's name). */
  get id(): string {
    return this.info.id;
  }

  /** Characters handed to metrics.jsonl so far. */
  get metricsBytes(): number {
    return this.#metrics.bytesWritten;
  }

  /** Creates a new run folder, takes its lock and writes run.json (and meta.json). */
  static async create(options: CreateRecorderOptions): Promise<RunRecorder> {
    const { dir, info: base } = await newRun(
      resolve(options.runsDir),
      options,
      new Date(),
      "Pass init({ runs })",
    );
    const iso = base.createdAt;
    const info: RunInfo = {
      ...base,
      pid: process.pid,
      tracked: { runtime: runtimeName(), ...options.tracked },
    };
    const rec = new RunRecorder(dir, info, await acquireRunLock(dir));
    await rec.writeInfo(true);
    const m = options.meta ?? {};
    if (m.name !== undefined || m.tags?.length || m.note !== undefined) {
      const meta: RunMeta = {
        ...emptyMeta(),
        ...(m.name !== undefined ? { name: m.name } : {}),
        tags: [...new Set(m.tags ?? [])],
        ...(m.note !== undefined ? { note: m.note } : {}),
        revision: 1,
        updatedAt: iso,
      };
      await writeFileAtomic(join(dir, RUN_FILES.meta), JSON.stringify(meta, null, 2) + "\n", {
        root: dir,
      });
    }
    return rec;
  }

  /**
   * Opens run `id` in `runsDir` to append to it (resume): takes its lock (refused while
   * another process writes it), ends a torn last line and marks it running again.
   */
  static async open(runsDir: string, id: string): Promise<RunRecorder> {
    if (!/^[A-Za-z0-9_.-]+$/.test(id) || id.startsWith(".")) {
      throw new Error(`init({ resume }): ${JSON.stringify(id)} is not a run id`);
    }
    let dir = join(resolve(runsDir), id);
    let raw: unknown;
    try {
      // The run folder by the confinement policy: a real folder below the runs folder.
      dir = (await confine(resolve(runsDir), id, "dir", { scope: "the runs folder" })).path;
      raw = JSON.parse(await readConfinedText(dir, RUN_FILES.info, MAX_INFO_BYTES));
    } catch (err) {
      throw new Error(
        `init({ resume: ${JSON.stringify(id)} }): no readable run in ${runsDir} ` +
          `(${(err as Error).message}). Pass the id of a run in init({ runs }).`,
      );
    }
    const { info } = validateRunInfo(raw, `${id}/${RUN_FILES.info}`);
    const lock = await acquireRunLock(dir);
    await repairAfterCrash(dir);
    const rec = new RunRecorder(dir, info, lock);
    const previous = info.status;
    rec.info = {
      ...info,
      status: "running",
      pid: process.pid,
      tracked: { runtime: runtimeName(), ...info.tracked },
    };
    delete rec.info.endedAt;
    delete rec.info.stopReason;
    delete rec.info.error;
    await rec.writeInfo(true);
    rec.event("resumed", {
      previousStatus: previous,
      ...(lock.tookOver ? { previousOwner: lock.tookOver.owner.pid } : {}),
    });
    return rec;
  }

  #direction(key: string): "min" | "max" | null {
    let d = this.#dirs.get(key);
    if (d === undefined) {
      d = metricDirection(key, this.info.tracked?.metrics) ?? null;
      this.#dirs.set(key, d);
    }
    return d;
  }

  /**
   * Buffers one metrics record (an epoch record, or a step record when it has a `batch` key)
   * and updates run.json's `best`, `last`, `epochs` and `steps` in memory (written within a
   * second). Never waits on the disk.
   */
  record(record: MetricsRecord, json?: string): void {
    this.#lock.assertHeld(RECHECK_MS);
    this.#metrics.appendLine(json ?? JSON.stringify(record));
    const info = this.info;
    if (record.batch === undefined) {
      const { best, last } = summarizeEpoch(info, record, info.tracked?.metrics);
      info.best = best;
      info.last = { ...info.last, ...last }; // step records' values stay until overwritten
      if (record.epoch + 1 > info.epochs) info.epochs = record.epoch + 1;
    } else {
      const last = info.last ?? (info.last = {});
      const best = info.best ?? (info.best = {});
      for (const k in record) {
        const v = record[k];
        if (
          typeof v !== "number" || k === "epoch" || k === "step" || k === "time" || k === "batch"
        ) {
          continue;
        }
        last[k] = v;
        const d = this.#direction(k);
        if (d !== null && isImprovement(v, best[k]?.value, d)) {
          best[k] = { value: v, epoch: record.epoch };
        }
      }
    }
    if (record.step > info.steps) info.steps = record.step;
    this.#markInfo();
  }

  /**
   * Buffers a step record whose JSON line (`{"epoch":..,"step":..,"time":..,"batch":..,...}`)
   * the caller built from `values`, and updates run.json's `last`, `best` and `steps` in
   * memory: the hot path of `log()`.
   */
  recordStep(epoch: number, step: number, values: Record<string, number>, json: string): void {
    this.#lock.assertHeld(RECHECK_MS);
    this.#metrics.appendLine(json);
    const info = this.info;
    const last = info.last ?? (info.last = {});
    const best = info.best ?? (info.best = {});
    for (const k in values) {
      const v = values[k];
      last[k] = v;
      const d = this.#direction(k);
      if (d !== null && isImprovement(v, best[k]?.value, d)) best[k] = { value: v, epoch };
    }
    if (step > info.steps) info.steps = step;
    this.#markInfo();
  }

  /** Appends an event with the run's current epoch and step (written within a second). */
  event(type: string, detail: Record<string, unknown> = {}): void {
    this.#lock.assertHeld(RECHECK_MS);
    this.#events.append({
      ...detail,
      type,
      epoch: Math.max(0, this.info.epochs - 1),
      step: this.info.steps,
      time: Date.now(),
    });
  }

  /** Merges `patch` into run.json (written within a second). */
  patchInfo(patch: Partial<RunInfo>): void {
    this.info = { ...this.info, ...patch };
    this.#markInfo();
  }

  /** Writes a file inside the run folder (write-then-rename); `rel` is checked by the caller. */
  async writeFile(rel: string, data: Uint8Array | string): Promise<string> {
    this.#lock.assertHeld();
    const path = join(this.dir, rel);
    await writeFileAtomic(path, data, { sync: false, root: this.dir });
    return path;
  }

  /** Writes the model summary (model.txt). */
  async writeSummary(text: string): Promise<void> {
    await this.writeFile(RUN_FILES.summary, text.endsWith("\n") ? text : text + "\n");
  }

  /**
   * Saves a tfjs LayersModel as checkpoint `name` (a plain name) of this run, in the
   * trainer's checkpoint format (written whole or not at all; a deleted run folder is not
   * re-created).
   */
  async saveModel(model: LayersModelLike, name: string): Promise<WrittenCheckpoint> {
    this.#lock.assertHeld();
    return await saveLayersModel(model, this.checkpointDir(name), { root: this.dir });
  }

  /**
   * Runs `save` for the folder `rel` (a `/`-separated path) inside the run, after checking
   * that this process still owns the run: `save` gets the absolute path and the run folder as
   * the root of its atomic write (so a deleted run is not re-created). For the checkpoints of
   * convdeck callbacks inside a plain `model.fit`.
   */
  async saveCheckpointWith<T>(
    rel: string,
    save: (path: string, root: string) => Promise<T>,
  ): Promise<T> {
    this.#lock.assertHeld();
    return await save(join(this.dir, ...safeSegments(rel)), this.dir);
  }

  /** The folder of checkpoint `name` (a plain name) of this run. */
  checkpointDir(name: string): string {
    return checkpointDir(this.dir, name);
  }

  #markInfo(): void {
    this.#infoDirty = true;
    if (this.#infoTimer !== undefined || this.#ended) return;
    this.#infoTimer = setTimeout(() => {
      this.#infoTimer = undefined;
      if (this.#infoDirty) void this.writeInfo(false).catch(() => {});
    }, 1000);
    unrefTimer(this.#infoTimer);
  }

  /** Writes run.json now (atomically; `sync` also flushes it to disk). */
  writeInfo(sync: boolean): Promise<void> {
    try {
      this.#lock.assertHeld();
    } catch (err) {
      return Promise.reject(err);
    }
    this.#infoDirty = false;
    this.#infoQueue = this.#infoQueue.catch(() => {}).then(() => {
      this.info.updatedAt = new Date().toISOString();
      return writeFileAtomic(
        join(this.dir, RUN_FILES.info),
        JSON.stringify(this.info, null, 2) + "\n",
        { sync, root: this.dir },
      );
    });
    return this.#infoQueue;
  }

  /** Writes everything buffered now (and fsyncs it). */
  async flush(): Promise<void> {
    await this.#metrics.flush(true);
    await this.#events.flush(true);
    if (this.#infoDirty) await this.writeInfo(false);
  }

  /** Ends the run with `status` (and a reason): flushes, writes run.json, releases the lock. */
  async finish(
    status: Exclude<RunStatus, "running">,
    detail: { stopReason?: string; error?: string } = {},
  ): Promise<void> {
    if (this.#ended) return;
    this.#ended = true;
    clearTimeout(this.#infoTimer);
    this.info = { ...this.info, status, endedAt: new Date().toISOString(), ...detail };
    try {
      // A record that cannot be written (a full disk, a run file swapped for a symlink) is
      // an error of finish(), after run.json has its end status.
      let lost: unknown;
      for (const log of [this.#metrics, this.#events]) {
        await log.flush().catch((err) => lost ??= err);
        await log.close();
      }
      await this.writeInfo(true);
      if (lost !== undefined) throw lost;
    } finally {
      await this.#lock.release();
    }
  }

  /**
   * {@linkcode RunRecorder.finish} synchronously, for an exit handler (an uncaught error, the
   * process exiting), which cannot wait for promises.
   */
  finishSync(
    status: Exclude<RunStatus, "running">,
    detail: { stopReason?: string; error?: string } = {},
  ): void {
    if (this.#ended) return;
    this.#ended = true;
    clearTimeout(this.#infoTimer);
    this.info = { ...this.info, status, endedAt: new Date().toISOString(), ...detail };
    try {
      this.#metrics.flushSync();
      this.#events.flushSync();
      this.info.updatedAt = new Date().toISOString();
      writeFileAtomicSync(
        join(this.dir, RUN_FILES.info),
        JSON.stringify(this.info, null, 2) + "\n",
        { root: this.dir },
      );
    } finally {
      this.#lock.releaseSync();
    }
  }

  /** True once the run has ended. */
  get ended(): boolean {
    return this.#ended;
  }
}
