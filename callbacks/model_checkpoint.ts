/**
 * ModelCheckpoint: saves the model (or its weights) during training.
 *
 * @module
 */
import type * as tf from "@tensorflow/tfjs-core";
import type { Callback, TrainContext } from "../core/train/callback.ts";
import type { Logs } from "../core/train/logs.ts";
import { isAbsolute, relative, sep } from "node:path";
import { saveModel } from "../core/run/model_io.ts";
import { checkpointDir } from "../core/run/checkpoints.ts";
import {
  checkOption,
  Monitor,
  type MonitorMode,
  type MonitorState,
  stateObject,
} from "./monitor.ts";
import { fillTemplate } from "./template.ts";

/** Options of {@link ModelCheckpoint} (Keras names and defaults). */
export interface ModelCheckpointOptions {
  /**
   * Directory template, filled with the 1-based `epoch`, the 1-based `batch` (batch saves) and
   * the logs, Python-style: `ckpt-{epoch:02d}-{val_loss:.2f}`. Relative paths are resolved
   * under `<run dir>/checkpoints/`. Default `ckpt-{epoch:03d}`.
   */
  filepath?: string;
  /** Metric for `saveBestOnly` (and recorded in events). Default `val_loss`. */
  monitor?: string;
  /** Save only when `monitor` improves on the best so far. Default false. */
  saveBestOnly?: boolean;
  /** Save weights without the topology (load with `loadWeights`). Default false. */
  saveWeightsOnly?: boolean;
  /** `auto`, `min` or `max` for `saveBestOnly`. Default `auto`. */
  mode?: MonitorMode;
  /** `"epoch"` (default) or a number N: save every N batches. */
  saveFreq?: "epoch" | number;
  /** Initial `best` for `saveBestOnly`: only values better than this are saved. */
  initialValueThreshold?: number;
  /** Save the optimizer state too (needed to resume Adam). Default: `!saveWeightsOnly`. */
  includeOptimizer?: boolean;
  /** Callback name (must be unique in a run). Default `ModelCheckpoint`. */
  name?: string;
}

/** The plain-JSON state of {@link ModelCheckpoint} (see `getState`). */
export interface ModelCheckpointState {
  /** The monitor's state (best value, warning given). */
  monitor: MonitorState | null;
  /** Batches since the last batch-frequency save. */
  batchesSinceSave: number;
  /** Index of the last batch seen. */
  lastBatchSeen: number;
  /** Paths saved so far. */
  saved: string[];
}

/**
 * Saves the model every epoch (or every N batches), or only when the monitored metric
 * improves, in tfjs's standard format (`model.json` + `weights.bin`, loadable with
 * `loadModel` here or `tf.loadLayersModel` over http), with the optimizer state and a
 * `state.json` (epoch, step, logs, learning rate and every callback's state when the trainer
 * provides it) so a run can resume from it. Each save is atomic and logged as a
 * `checkpoint_saved` event with its path and the monitored value.
 *
 * Keras rules: the first value is always an improvement (unless `initialValueThreshold` is
 * set); improvements are strict, without `minDelta`; with `saveBestOnly` a missing metric
 * warns (once) and saves anyway. A NaN is never an improvement. A template field missing from
 * the logs is an error naming it.
 *
 * @example
 * ```ts
 * import { ModelCheckpoint } from "./model_checkpoint.ts";
 * const best = new ModelCheckpoint({ filepath: "best", saveBestOnly: true, monitor: "val_acc" });
 * const every = new ModelCheckpoint({ filepath: "ckpt-{epoch:02d}-{val_loss:.2f}" });
 * ```
 */
export class ModelCheckpoint implements Callback {
  readonly name: string;
  /** The path template. */
  readonly filepath: string;
  /** The monitored logs key. */
  readonly monitorName: string;
  /** The resolved `saveBestOnly` option. */
  readonly saveBestOnly: boolean;
  /** The resolved `saveWeightsOnly` option. */
  readonly saveWeightsOnly: boolean;
  /** The resolved `saveFreq` option. */
  readonly saveFreq: "epoch" | number;
  /** The resolved `includeOptimizer` option. */
  readonly includeOptimizer: boolean;
  /** The monitor (only with `saveBestOnly`). */
  readonly monitor: Monitor | undefined;
  /** Absolute paths of the checkpoints saved, oldest first. */
  saved: string[] = [];
  #batchesSinceSave = 0;
  #lastBatchSeen = -1;
  #epoch = 0;

  /** Validates options; throws on a bad `saveFreq` or an `auto` mode that cannot be told. */
  constructor(options: ModelCheckpointOptions = {}) {
    this.name = options.name ?? "ModelCheckpoint";
    this.filepath = options.filepath ?? "ckpt-{epoch:03d}";
    if (!this.filepath.trim()) throw new Error(`${this.name}: filepath must not be empty.`);
    this.monitorName = options.monitor ?? "val_loss";
    this.saveBestOnly = Boolean(options.saveBestOnly);
    this.saveWeightsOnly = Boolean(options.saveWeightsOnly);
    this.includeOptimizer = options.includeOptimizer ?? !this.saveWeightsOnly;
    const freq = options.saveFreq ?? "epoch";
    this.saveFreq = freq === "epoch" ? freq : checkOption(
      this.name,
      "saveFreq",
      freq,
      (v) => Number.isInteger(v) && v > 0,
      '"epoch" or a positive integer number of batches',
    );
    if (this.saveBestOnly) {
      this.monitor = new Monitor({
        monitor: this.monitorName,
        mode: options.mode,
        owner: this.name,
      });
      if (options.initialValueThreshold !== undefined) {
        this.monitor.best = checkOption(
          this.name,
          "initialValueThreshold",
          options.initialValueThreshold,
          Number.isFinite,
          "a finite number",
        );
      }
    }
  }

  /** Remembers the epoch for batch-frequency saves. */
  onEpochBegin(epoch: number): void {
    this.#epoch = epoch;
  }

  /** Saves every `saveFreq` batches (Keras's counting, continued across epochs). */
  async onBatchEnd(batch: number, logs: Logs, ctx: TrainContext): Promise<void> {
    if (this.saveFreq === "epoch") return;
    this.#batchesSinceSave += batch <= this.#lastBatchSeen
      ? batch + 1
      : batch - this.#lastBatchSeen;
    this.#lastBatchSeen = batch;
    if (this.#batchesSinceSave < this.saveFreq) return;
    this.#batchesSinceSave = 0;
    await this.#save(this.#epoch, batch, logs, ctx);
  }

  /** Saves at epoch end when `saveFreq` is `"epoch"`. */
  async onEpochEnd(epoch: number, logs: Logs, ctx: TrainContext): Promise<void> {
    if (this.saveFreq === "epoch") await this.#save(epoch, undefined, logs, ctx);
  }

  /** The absolute directory a save at this epoch/batch with these logs goes to. */
  resolvePath(epoch: number, batch: number | undefined, logs: Logs, runDir: string): string {
    const values: Record<string, number> = { ...logs, epoch: epoch + 1 };
    if (batch !== undefined) values.batch = batch + 1;
    const filled = fillTemplate(this.filepath, values, this.name);
    return checkpointDir(runDir, filled);
  }

  async #save(
    epoch: number,
    batch: number | undefined,
    logs: Logs,
    ctx: TrainContext,
  ): Promise<void> {
    const path = this.resolvePath(epoch, batch, logs, ctx.run.dir);
    const raw = logs[this.monitorName];
    const value = typeof raw === "number" ? raw : undefined;
    if (this.monitor) {
      const current = await this.monitor.read(logs, ctx);
      // Missing metric: Keras warns and saves anyway.
      if (current !== undefined && !this.monitor.update(current)) return;
    }
    const optimizer = this.includeOptimizer ? this.#optimizer(ctx) : undefined;
    const state = {
      epoch,
      step: ctx.step,
      ...(batch === undefined ? {} : { batch }),
      logs,
      learningRate: ctx.learningRate,
      checkpoint: { callback: this.name, monitor: this.monitorName, value: value ?? null },
      callbacks: ctx.callbackStates?.() ?? {},
    };
    const options = { weightsOnly: this.saveWeightsOnly, optimizer, state };
    // Inside the run: through the run logger, which checks that this process still owns the
    // run and never re-creates a deleted run folder. A path the user chose outside the run
    // (Keras allows any filepath) is saved there directly.
    const rel = relative(ctx.run.dir, path);
    const saved = rel !== "" && !rel.startsWith("..") && !isAbsolute(rel)
      ? await ctx.run.saveCheckpoint(rel.split(sep).join("/"), ctx.model, options)
      : await saveModel(ctx.model, path, options);
    this.saved.push(saved.dir);
    await ctx.run.event("checkpoint_saved", {
      callback: this.name,
      path: saved.dir,
      monitor: this.monitorName,
      value: value ?? null,
      ...(this.monitor ? { best: this.monitor.best ?? null } : {}),
      ...(batch === undefined ? {} : { batch }),
      weightsOnly: this.saveWeightsOnly,
      optimizer: optimizer !== undefined,
    });
  }

  #optimizer(ctx: TrainContext): tf.Optimizer | undefined {
    if (ctx.optimizer) return ctx.optimizer;
    try {
      return ctx.model.optimizer ?? undefined;
    } catch {
      return undefined;
    }
  }

  /** Plain-JSON state (best, batch counters, saved paths). */
  getState(): ModelCheckpointState {
    return {
      monitor: this.monitor?.getState() ?? null,
      batchesSinceSave: this.#batchesSinceSave,
      lastBatchSeen: this.#lastBatchSeen,
      saved: [...this.saved],
    };
  }

  /** Restores {@link getState}'s result. */
  setState(state: unknown): void {
    const s = stateObject(this.name, state) as unknown as ModelCheckpointState;
    if (this.monitor && s.monitor) this.monitor.setState(s.monitor);
    this.#batchesSinceSave = Number(s.batchesSinceSave) || 0;
    this.#lastBatchSeen = typeof s.lastBatchSeen === "number" ? s.lastBatchSeen : -1;
    this.saved = Array.isArray(s.saved) ? s.saved.map(String) : [];
  }
}
