/**
 * The callback contract: Keras-shaped hooks, awaited in list order.
 *
 * @module
 */
import type * as tf from "@tensorflow/tfjs-core";
import type * as tfl from "@tensorflow/tfjs-layers";
import type { Dataset } from "../data/dataset.ts";
import type { Logs } from "./logs.ts";
import type { RunLogger } from "../run/logger.ts";

/** One epoch's entry in the training history. */
export interface HistoryEntry {
  /** 0-based epoch index, continuing across repeated `train()` calls and resumes. */
  readonly epoch: number;
  /** Global optimizer step (batches trained so far) at the end of this epoch. */
  readonly step: number;
  /** The epoch's logs (`loss`, `acc`, `val_loss`, `val_acc`, `lr`, ...). */
  readonly logs: Logs;
}

/** What a callback can see and do while training runs. */
export interface TrainContext {
  /** The model being trained. */
  readonly model: tfl.LayersModel;
  /** The current learning rate. Setting it takes effect from the next batch (also for Adam). */
  learningRate: number;
  /**
   * Ask training to end after the current epoch; `reason` is stored in run.json. With
   * `{ immediate: true }` (e.g. on a NaN loss) the epoch ends after the current batch, without
   * validation. With `{ status: "pruned" }` (a sweep's pruner) the run ends with status
   * `pruned` instead of `stopped`.
   */
  stopTraining(
    reason: string,
    options?: { immediate?: boolean; status?: "stopped" | "pruned" },
  ): void;
  /** True once some callback has asked to stop. */
  readonly stopRequested: boolean;
  /** Log scalars, events, images and artifacts to the run directory. */
  readonly run: RunLogger;
  /** Every finished epoch so far, oldest first (includes earlier `train()` calls). */
  readonly history: readonly HistoryEntry[];
  /** The data being trained on (for callbacks that look at images, e.g. `Visualize`). */
  readonly dataset?: Dataset;
  /** The current 0-based epoch. */
  readonly epoch: number;
  /** The global optimizer step (batches trained so far). */
  readonly step: number;
  /** Number of batches per training epoch. */
  readonly stepsPerEpoch: number;
  /** The epoch index at which the current `train()` call ends (exclusive). */
  readonly totalEpochs: number;
  /**
   * The optimizer in use, when the trainer exposes it (optional, added for `ModelCheckpoint`,
   * which saves its state beside the weights so that a resume continues Adam's moments).
   */
  readonly optimizer?: tf.Optimizer;
  /**
   * Every callback's `getState()` keyed by callback name, when the trainer provides it
   * (optional, added for `ModelCheckpoint`, which writes it to the checkpoint's state.json).
   */
  callbackStates?(): Record<string, unknown>;
}

/** Every hook a {@link Callback} may define, in the order the trainer calls them, then state. */
export const CALLBACK_HOOKS = [
  "onTrainBegin",
  "onEpochBegin",
  "onBatchBegin",
  "onBatchEnd",
  "onEpochEnd",
  "onTrainEnd",
  "getState",
  "setState",
] as const;

/**
 * A training callback. Every hook is optional and may be async; the trainer awaits each one
 * before calling the next callback. A hook that throws fails the run, with the callback's
 * `name` in the error.
 *
 * @example
 * ```ts
 * import type { Callback } from "./callback.ts";
 * const printer: Callback = {
 *   name: "printer",
 *   onEpochEnd(epoch, logs) {
 *     console.log(`epoch ${epoch + 1}: loss ${logs.loss.toFixed(3)}`);
 *   },
 * };
 * ```
 */
export interface Callback {
  /** A short name used in errors, events and saved state. Must be unique within a run. */
  readonly name: string;
  /** Called once when a `train()` call starts (also after a resume). */
  onTrainBegin?(ctx: TrainContext): void | Promise<void>;
  /** Called at the start of each epoch. */
  onEpochBegin?(epoch: number, ctx: TrainContext): void | Promise<void>;
  /** Called before each training batch. */
  onBatchBegin?(batch: number, ctx: TrainContext): void | Promise<void>;
  /**
   * Called after each training batch. As in Keras 3, `loss` and `acc` are running means over
   * the epoch so far; `batch_loss`/`batch_acc` are the batch's own values and `size` its size.
   */
  onBatchEnd?(batch: number, logs: Logs, ctx: TrainContext): void | Promise<void>;
  /** Called after each epoch (and its validation) with the epoch's logs. */
  onEpochEnd?(epoch: number, logs: Logs, ctx: TrainContext): void | Promise<void>;
  /**
   * Called once when a `train()` call ends, however it ended: completed, stopped by a
   * callback, or failed (then `logs` holds the last finished epoch's logs, maybe empty).
   */
  onTrainEnd?(logs: Logs, ctx: TrainContext): void | Promise<void>;
  /** JSON state saved with each checkpoint so a resumed run behaves as if never stopped. */
  getState?(): unknown;
  /** Restores what `getState` returned. */
  setState?(state: unknown): void;
  /**
   * Binary state saved with each resume point beside the JSON one (e.g. `EarlyStopping`'s
   * best weights), or `undefined` when there is none now.
   */
  getBinaryState?(): Uint8Array | undefined | Promise<Uint8Array | undefined>;
  /** Restores what `getBinaryState` returned (called after `setState`). */
  setBinaryState?(bytes: Uint8Array): void | Promise<void>;
}
