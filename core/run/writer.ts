/**
 * Writes a run directory (format in `format.ts`): crash-safe, append-only where possible.
 *
 * @module
 */
import { isAbsolute, join, normalize, relative, resolve, sep } from "node:path";
import { writeFileAtomic } from "../fs/atomic.ts";
import { safeSegments } from "../fs/confine.ts";
import { LineLog } from "./line_log.ts";
import { repairAfterCrash } from "./repair.ts";
export { safeName, timestampId } from "./run_id.ts";
import { newRun } from "./run_id.ts";
import { type MetricsRecord, RUN_FILES, type RunEvent, type RunInfo } from "./format.ts";
import type { RunLogger } from "./logger.ts";
import { summarizeEpoch } from "./epoch_summary.ts";
import { isMetricsRecord, readJsonLines, readRunInfo } from "./reader.ts";
import { acquireRunLock, type RunLock } from "./lock.ts";
import { type SavedCheckpoint, saveModel, type SaveModelOptions } from "./model_io.ts";
import type * as tfl from "@tensorflow/tfjs-layers";

/** Where training stands when something is written: every record carries it. */
export interface RunPosition {
  /** 0-based epoch. */
  epoch: number;
  /** Global optimizer step. */
  step: number;
}

/** Options for {@link RunWriter.create}. */
export interface CreateRunOptions {
  /** The folder holding all runs (created if missing). */
  runsDir: string;
  /** Experiment name, the first part of the run id. */
  experiment: string;
  /** Resolved hyperparameters and options. */
  config: Record<string, unknown>;
  /** Versions to record. */
  versions?: Record<string, string>;
  /** Clock, for tests. */
  now?: () => Date;
  /** Where warnings are printed (default: stderr). */
  warn?: (line: string) => void;
}

/**
 * The writer side of a run directory. It is also the {@link RunLogger} handed to callbacks.
 *
 * @example
 * ```ts
 * import { RunWriter } from "./writer.ts";
 * const runsDir = await Deno.makeTempDir();
 * const run = await RunWriter.create({ runsDir, experiment: "demo", config: { epochs: 1 } });
 * await run.writeEpochMetrics({ epoch: 0, step: 10 }, { loss: 0.5, acc: 0.8 });
 * await run.finish("completed");
 * ```
 */
export class RunWriter implements RunLogger {
  /** The run's `run.json` content as last written. */
  info: RunInfo;
  /** Absolute path of the run directory. */
  readonly dir: string;
  #at: () => RunPosition;
  #metrics: LineLog;
  #events: LineLog;
  #pendingScalars: Record<string, number> = {};
  #now: () => Date;
  #warn: (line: string) => void;
  #infoQueue: Promise<void> = Promise.resolve();
  #lock: RunLock;

  private constructor(
    dir: string,
    info: RunInfo,
    now: () => Date,
    warn: (l: string) => void,
    lock: RunLock,
  ) {
    this.dir = dir;
    this.#lock = lock;
    this.info = info;
    this.#now = now;
    this.#warn = warn;
    this.#at = () => ({ epoch: info.epochs ?? 0, step: info.steps ?? 0 });
    this.#metrics = new LineLog(dir, RUN_FILES.metrics);
    this.#events = new LineLog(dir, RUN_FILES.events);
  }

  /** The run id (the directory name). */
  get id(): string {
    return this.info.id;
  }

  /**
   * Where events and scalars are stamped from: the trainer passes its own position once
   * (`run.follow(() => trainer.position)`), so the writer holds no counters of its own.
   * Before that, the finished epochs and steps of run.json are used.
   */
  follow(position: () => RunPosition): void {
    this.#at = position;
  }

  /** The position events are stamped with now. */
  get position(): RunPosition {
    const { epoch, step } = this.#at();
    return { epoch, step };
  }

  /**
   * Creates a new run directory with a unique id `<experiment>-<yyyymmdd-hhmmss>[-n]`. Two
   * processes starting at the same second get distinct ids (directory creation is atomic).
   * Throws a clear error when the runs folder cannot be written.
   */
  static async create(options: CreateRunOptions): Promise<RunWriter> {
    const now = options.now ?? (() => new Date());
    const warn = options.warn ?? ((l: string) => console.error(l));
    const { dir, info } = await newRun(resolve(options.runsDir), options, now(), "Pass --runs DIR");
    const run = new RunWriter(dir, info, now, warn, await acquireRunLock(dir));
    await run.#writeInfo();
    return run;
  }

  /**
   * Opens an existing run directory to continue writing it (resume). Throws a clear error
   * when `dir` is not a run directory.
   */
  static async open(
    dir: string,
    options: { now?: () => Date; warn?: (line: string) => void } = {},
  ): Promise<RunWriter> {
    const abs = resolve(dir);
    let info: RunInfo;
    try {
      info = await readRunInfo(abs);
    } catch (err) {
      const why = (err as Error).message;
      throw new Error(
        `${abs} is not a run directory (${
          why.startsWith("cannot read") ? `no readable ${RUN_FILES.info}` : why
        }). ` +
          `Pass the folder of a run, e.g. runs/<run-id>.`,
      );
    }
    // One writer per run: refused (naming the owner) while another process writes it.
    const lock = await acquireRunLock(abs);
    await repairAfterCrash(abs);
    const run = new RunWriter(
      abs,
      info,
      options.now ?? (() => new Date()),
      options.warn ?? ((l: string) => console.error(l)),
      lock,
    );
    if (lock.tookOver) {
      const { owner, reason } = lock.tookOver;
      await run.event("lock_taken_over", {
        previousOwner: { host: owner.host, pid: owner.pid, lastHeartbeat: owner.time },
        reason,
      });
    }
    return run;
  }

  /** Merges `patch` into run.json and rewrites it atomically. */
  updateInfo(patch: Partial<RunInfo>): Promise<void> {
    this.info = { ...this.info, ...patch };
    return this.#writeInfo();
  }

  #writeInfo(): Promise<void> {
    this.#lock.assertHeld();
    this.#infoQueue = this.#infoQueue.catch(() => {}).then(() => {
      this.info.updatedAt = this.#now().toISOString();
      return writeFileAtomic(
        join(this.dir, RUN_FILES.info),
        JSON.stringify(this.info, null, 2) + "\n",
        { root: this.dir },
      );
    });
    return this.#infoQueue;
  }

  /**
   * Appends the epoch record (logs plus scalars logged by callbacks during the epoch), flushed
   * to disk, and updates the `best` summary in run.json.
   */
  async writeEpochMetrics(
    at: RunPosition,
    logs: Record<string, number>,
  ): Promise<MetricsRecord> {
    const record: MetricsRecord = {
      epoch: at.epoch,
      step: at.step,
      time: this.#now().getTime(),
      ...this.#pendingScalars,
      ...logs,
    };
    this.#pendingScalars = {};
    this.#lock.assertHeld();
    this.#metrics.append(record);
    await this.#metrics.flush(true);
    const { best, last } = summarizeEpoch(this.info, record, this.info.tracked?.metrics);
    await this.updateInfo({ best, last, epochs: at.epoch + 1, steps: at.step });
    return record;
  }

  /** Buffers a batch record (written within a second, not fsynced: for live curves only). */
  writeBatchMetrics(
    at: RunPosition,
    batch: number,
    logs: Record<string, number>,
  ): Promise<void> {
    try {
      this.#lock.assertHeld();
      this.#metrics.append({
        epoch: at.epoch,
        step: at.step,
        time: this.#now().getTime(),
        batch,
        ...logs,
      });
      return Promise.resolve();
    } catch (err) {
      return Promise.reject(err);
    }
  }

  /** Appends an event with the current epoch, step and time (flushed to disk). */
  async event(type: string, detail: Record<string, unknown> = {}): Promise<void> {
    this.#lock.assertHeld();
    const { epoch, step } = this.#at();
    const ev: RunEvent = {
      ...detail,
      type,
      epoch,
      step,
      time: this.#now().getTime(),
    };
    this.#events.append(ev);
    await this.#events.flush(true);
  }

  /** Adds a scalar to the current epoch's metrics record. */
  scalar(name: string, value: number): void {
    this.#pendingScalars[name] = value;
  }

  /**
   * Resolves `relPath` (relative, or absolute inside the run directory) to an absolute path
   * inside the run directory by the confinement policy's name rules, refusing paths that leave
   * it (the file itself is checked when it is written).
   */
  resolvePath(relPath: string): string {
    const target = isAbsolute(relPath) ? normalize(relPath) : resolve(this.dir, relPath);
    const rel = relative(this.dir, target);
    if (rel === "" || rel.startsWith("..") || isAbsolute(rel)) {
      throw new Error(`Path ${relPath} is outside the run directory ${this.dir}.`);
    }
    return join(this.dir, ...safeSegments(rel.split(sep).join("/")));
  }

  /**
   * Writes a file under the run directory (write-then-rename); folders below the run folder
   * are created, the run folder itself never (a deleted run is not re-created).
   */
  async artifact(relPath: string, data: Uint8Array | string): Promise<string> {
    this.#lock.assertHeld();
    const path = this.resolvePath(relPath);
    await writeFileAtomic(path, data, { sync: false, root: this.dir });
    return path;
  }

  /**
   * Saves `model` as a checkpoint folder under the run directory (see `saveModel`), after
   * checking that this writer still owns the run; the run folder itself is never created.
   */
  async saveCheckpoint(
    relPath: string,
    model: tfl.LayersModel,
    options: SaveModelOptions = {},
  ): Promise<SavedCheckpoint> {
    this.#lock.assertHeld();
    const path = this.resolvePath(relPath);
    return await saveModel(model, path, { ...options, root: this.dir });
  }

  /** Prints a warning and records it as a `warning` event. */
  async warn(message: string, detail: Record<string, unknown> = {}): Promise<void> {
    this.#warn(`warning: ${message}`);
    await this.event("warning", { message, ...detail });
  }

  /** Writes the model summary to model.txt. */
  async writeSummary(text: string): Promise<void> {
    this.#lock.assertHeld();
    await writeFileAtomic(
      join(this.dir, RUN_FILES.summary),
      text.endsWith("\n") ? text : text + "\n",
      { root: this.dir },
    );
  }

  /** Marks the run as ended with `status` (and an optional reason or error). */
  async finish(
    status: "completed" | "stopped" | "pruned" | "failed",
    detail: { stopReason?: string; error?: string } = {},
  ): Promise<void> {
    await this.updateInfo({
      status,
      endedAt: this.#now().toISOString(),
      ...detail,
    });
  }

  /**
   * Drops the metrics records at or after `position` (records of epochs that will be
   * trained again on resume; batch records of the current epoch from `position.batch` on) and
   * torn or malformed lines, rewriting metrics.jsonl atomically. Returns how many lines went.
   */
  async truncateMetrics(position: { epoch: number; batch: number }): Promise<number> {
    this.#lock.assertHeld();
    await this.#metrics.close();
    const all = await readJsonLines(this.dir, RUN_FILES.metrics, isMetricsRecord);
    const kept = all.records.filter((rec) =>
      rec.batch === undefined ? rec.epoch < position.epoch : rec.epoch < position.epoch ||
        (rec.epoch === position.epoch && rec.batch < position.batch)
    );
    this.#metrics.reopen();
    const dropped = all.records.length - kept.length + all.skipped;
    if (dropped > 0) {
      await writeFileAtomic(
        join(this.dir, RUN_FILES.metrics),
        kept.map((r) => JSON.stringify(r) + "\n").join(""),
        { root: this.dir },
      );
    }
    return dropped;
  }

  /** Throws when another process has taken this run over (see `core/run/lock.ts`). */
  assertOwner(): void {
    this.#lock.assertHeld();
  }

  /** Flushes and closes the append-only files and releases the run's lock. */
  async close(): Promise<void> {
    await this.#metrics.close();
    await this.#events.close();
    await this.#infoQueue.catch(() => {});
    await this.#lock.release();
  }
}
