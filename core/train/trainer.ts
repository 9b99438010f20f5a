/**
 * The training loop: epochs and batches over a `Dataset`, typed events to callbacks, and
 * everything written to a run directory.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs-core";
import { SystemMetrics } from "./system_metrics.ts";
import type * as tfl from "@tensorflow/tfjs-layers";
import type { Callback, HistoryEntry, TrainContext } from "./callback.ts";
import { CallbackList } from "./callback_list.ts";
import { checkOption, integerAtLeast, positiveFinite } from "../experiment/options.ts";
import type { Dataset, Split } from "../data/dataset.ts";
import { freezeLogs, type Logs } from "./logs.ts";
import { hashInts, permutation } from "../random.ts";
import type { RunWriter } from "../run/writer.ts";
import { evalStep, trainStep } from "./train_step.ts";

/** Where training stands: enough to continue exactly from here. */
export interface TrainerPosition {
  /** The epoch in progress or next to run (0-based). */
  epoch: number;
  /** Batches of `epoch` already trained (0 at an epoch boundary). */
  batch: number;
  /** Global optimizer steps so far. */
  step: number;
  /** Running sums of the unfinished epoch (when `batch > 0`). */
  partial?: { lossSum: number; correct: number; seen: number };
}

/** Everything a checkpoint needs besides weights and optimizer slots (JSON-serialisable). */
export interface TrainerState {
  /** Position in training. */
  position: TrainerPosition;
  /** Current learning rate. */
  learningRate: number;
  /** Seed used for shuffling and augmentation. */
  seed: number;
  /** Batch size (resuming with another one would change the data order). */
  batchSize: number;
  /** Finished epochs. */
  history: HistoryEntry[];
  /** `getState()` of every callback that has one, by callback name. */
  callbacks: Record<string, unknown>;
}

/** Called after each finished epoch (and on interruption) to persist a resume point. */
export type Checkpointer = (
  trainer: Trainer,
  reason: "initial" | "epoch" | "interrupted" | "final",
) => Promise<void>;

/** Options of a {@link Trainer}. */
export interface TrainerOptions {
  /** The model to train (uncompiled is fine: the trainer owns the loss and optimizer). */
  model: tfl.LayersModel;
  /** Training (and validation) data. */
  dataset: Dataset;
  /** Run directory writer; also the `RunLogger` given to callbacks. */
  run: RunWriter;
  /** Batch size. */
  batchSize: number;
  /** Initial learning rate. */
  learningRate: number;
  /** Seed for shuffling and augmentation. */
  seed: number;
  /** Optimizer (default: Adam with `learningRate`). */
  optimizer?: tf.Optimizer;
  /** Callbacks, called in this order. */
  callbacks?: Callback[];
  /** Shuffle the training split each epoch (default true). */
  shuffle?: boolean;
  /** Apply the dataset's augmentation to training batches (default true). */
  augment?: boolean;
  /** Minimum milliseconds between batch records in metrics.jsonl (default 1000; 0 = every batch). */
  batchMetricsIntervalMs?: number;
  /** Aborting ends training after the current batch with status `stopped`. */
  signal?: AbortSignal;
  /** Persists a resume point after every epoch and on interruption. */
  checkpointer?: Checkpointer;
  /**
   * Record system metrics (images/s, CPU %, RSS, wasm heap, load average; see
   * `system_metrics.ts`) in each epoch record of the run (not in the callbacks' logs).
   * Default false.
   */
  systemMetrics?: boolean;
}

/** How a `train()` call ended. */
export interface TrainResult {
  /**
   * `completed`: ran all epochs; `stopped`: a callback or a signal ended it early; `pruned`: a
   * sweep's pruner ended it early.
   */
  status: "completed" | "stopped" | "pruned";
  /** Why it stopped early. */
  stopReason?: string;
  /** The last finished epoch's logs (empty when none finished). */
  logs: Logs;
  /** The whole history so far. */
  history: readonly HistoryEntry[];
}

export { setOptimizerLearningRate } from "./learning_rate.ts";
import { setOptimizerLearningRate } from "./learning_rate.ts";

export { CallbackError } from "./callback_list.ts";

/**
 * Trains a model on a dataset, epoch by epoch. Calling `train()` again continues the epoch
 * count and the history, like the book's "a few epochs at a time".
 *
 * @example
 * ```ts ignore
 * const trainer = new Trainer({ model, dataset, run, batchSize: 32, learningRate: 1e-3, seed: 1 });
 * await trainer.train({ epochs: 5 });
 * await trainer.train({ epochs: 5 }); // epochs 6..10, same history
 * ```
 */
export class Trainer {
  /** The model being trained. */
  readonly model: tfl.LayersModel;
  /** Training and validation data. */
  readonly dataset: Dataset;
  /** The run directory's writer (also the callbacks' `RunLogger`). */
  readonly run: RunWriter;
  /** The optimizer (Adam with the learning rate unless given). */
  readonly optimizer: tf.Optimizer;
  /** The callbacks, in call order. */
  readonly callbacks: readonly Callback[];
  /** Training batch size. */
  readonly batchSize: number;
  #callbacks: CallbackList;
  /** Seed for shuffling and augmentation. */
  readonly seed: number;
  #lr: number;
  #position: TrainerPosition = { epoch: 0, batch: 0, step: 0 };
  #history: HistoryEntry[] = [];
  #options: TrainerOptions;
  #stopReason: string | undefined;
  #stopStatus: "stopped" | "pruned" = "stopped";
  #stopImmediate = false;
  #running = false;

  /** Creates a trainer; nothing runs until `train()`. */
  constructor(options: TrainerOptions) {
    checkOption("Trainer", "batchSize", options.batchSize, integerAtLeast(1), "an integer >= 1");
    checkOption(
      "Trainer",
      "learningRate",
      options.learningRate,
      positiveFinite,
      "a positive number",
    );
    this.#callbacks = new CallbackList(options.callbacks ?? []);
    this.#options = options;
    this.model = options.model;
    this.dataset = options.dataset;
    this.run = options.run;
    this.batchSize = options.batchSize;
    this.seed = options.seed;
    this.#lr = options.learningRate;
    this.optimizer = options.optimizer ?? tf.train.adam(options.learningRate);
    setOptimizerLearningRate(this.optimizer, this.#lr);
    this.callbacks = this.#callbacks.callbacks;
    this.run.follow(() => this.#position);
  }

  /** Finished epochs, oldest first. */
  get history(): readonly HistoryEntry[] {
    return this.#history;
  }

  /** The current position (epoch, batch within it, global step). */
  get position(): Readonly<TrainerPosition> {
    return this.#position;
  }

  /** The learning rate used from the next batch on. */
  get learningRate(): number {
    return this.#lr;
  }

  set learningRate(lr: number) {
    checkOption("Trainer", "learning rate", lr, positiveFinite, "a positive finite number");
    this.#lr = lr;
    setOptimizerLearningRate(this.optimizer, lr);
  }

  /** The JSON part of a resume point. */
  state(): TrainerState {
    const callbacks = this.#callbacks.state();
    return {
      position: structuredClone(this.#position),
      learningRate: this.#lr,
      seed: this.seed,
      batchSize: this.batchSize,
      history: structuredClone(this.#history),
      callbacks,
    };
  }

  /** The callbacks' binary state (saved in resume points beside `state()`). */
  callbackFiles(): Promise<Record<string, Uint8Array>> {
    return this.#callbacks.binaryState();
  }

  /** Restores what `callbackFiles()` returned (after `restoreState`). */
  restoreCallbackFiles(files: Readonly<Record<string, Uint8Array>>): Promise<void> {
    return this.#callbacks.restoreBinary(files);
  }

  /** Restores what `state()` returned (weights and optimizer slots are restored separately). */
  restoreState(state: TrainerState): void {
    if (state.batchSize !== this.batchSize) {
      throw new Error(
        `The checkpoint was trained with batch size ${state.batchSize}, not ${this.batchSize}; ` +
          `resume with the same batch size.`,
      );
    }
    this.#position = structuredClone(state.position);
    this.#history = structuredClone(state.history);
    this.learningRate = state.learningRate;
    this.#callbacks.restore(state.callbacks);
  }

  /** Training batches per epoch. */
  get stepsPerEpoch(): number {
    return Math.ceil(this.dataset.train.size / this.batchSize);
  }

  #context(totalEpochs: number): TrainContext {
    // deno-lint-ignore no-this-alias
    const self = this;
    return {
      model: this.model,
      get learningRate() {
        return self.learningRate;
      },
      set learningRate(lr: number) {
        self.learningRate = lr;
      },
      stopTraining(
        reason: string,
        options?: { immediate?: boolean; status?: "stopped" | "pruned" },
      ) {
        if (self.#stopReason === undefined) {
          self.#stopReason = reason;
          self.#stopStatus = options?.status ?? "stopped";
        }
        if (options?.immediate) self.#stopImmediate = true;
      },
      get stopRequested() {
        return self.#stopReason !== undefined;
      },
      run: this.run,
      dataset: this.dataset,
      get history() {
        return self.#history;
      },
      get epoch() {
        return self.#position.epoch;
      },
      get step() {
        return self.#position.step;
      },
      stepsPerEpoch: this.stepsPerEpoch,
      totalEpochs,
      optimizer: this.optimizer,
      callbackStates: () => this.state().callbacks,
    };
  }

  /**
   * Trains `epochs` more epochs (continuing the count), calling the callbacks, writing metrics,
   * events and run status. Throws (after marking the run `failed` and calling `onTrainEnd`) when
   * a callback or the training step fails.
   */
  async train({ epochs }: { epochs: number }): Promise<TrainResult> {
    checkOption("Trainer", "epochs", epochs, integerAtLeast(0), "a non-negative integer");
    if (this.#running) throw new Error("train() is already running on this trainer.");
    if (this.dataset.train.size === 0) {
      throw new Error(`The training split of dataset "${this.dataset.name}" is empty.`);
    }
    this.#running = true;
    this.#stopReason = undefined;
    this.#stopStatus = "stopped";
    this.#stopImmediate = false;
    const endEpoch = this.#position.epoch + epochs;
    const ctx = this.#context(endEpoch);
    let lastLogs: Logs = freezeLogs(this.#history.at(-1)?.logs ?? {});
    let interrupted = false;
    try {
      await this.run.updateInfo({ status: "running", stopReason: undefined, error: undefined });
      await this.run.event("train_begin", { epochs, endEpoch });
      await this.#callbacks.call("onTrainBegin", ctx);
      while (this.#position.epoch < endEpoch) {
        const logs = await this.#runEpoch(ctx);
        if (logs === undefined) {
          interrupted = true;
          break;
        }
        lastLogs = logs;
        if (this.#stopReason !== undefined) break;
      }
    } catch (err) {
      await this.#fail(err, lastLogs, ctx);
      throw err;
    } finally {
      this.#running = false;
    }
    const stopReason = interrupted ? "interrupted" : this.#stopReason;
    if (interrupted) {
      await this.run.event("interrupted", { batch: this.#position.batch });
      if (this.#options.checkpointer) await this.#options.checkpointer(this, "interrupted");
    }
    await this.#callbacks.call("onTrainEnd", lastLogs, ctx).catch(async (err) => {
      await this.#fail(err, lastLogs, undefined);
      throw err;
    });
    const status = stopReason === undefined
      ? "completed"
      : interrupted
      ? "stopped"
      : this.#stopStatus;
    if (stopReason !== undefined && !interrupted) {
      await this.run.event("stop_requested", { reason: stopReason });
    }
    await this.run.event("train_end", { status, reason: stopReason });
    await this.run.finish(status, stopReason === undefined ? {} : { stopReason });
    return { status, stopReason, logs: lastLogs, history: this.#history };
  }

  async #fail(err: unknown, lastLogs: Logs, ctx: TrainContext | undefined): Promise<void> {
    const message = err instanceof Error ? err.message : String(err);
    // Run onTrainEnd even after a failure (EarlyStopping restores weights, CSV files close).
    if (ctx) await this.#callbacks.call("onTrainEnd", lastLogs, ctx).catch(() => {});
    await this.run.event("failed", { error: message }).catch(() => {});
    await this.run.finish("failed", { error: message }).catch(() => {});
  }

  /** Runs (the rest of) one epoch; returns its logs, or undefined when interrupted. */
  async #runEpoch(ctx: TrainContext): Promise<Logs | undefined> {
    const pos = this.#position;
    const epoch = pos.epoch;
    const train = this.dataset.train;
    const n = train.size;
    const order = (this.#options.shuffle ?? true)
      ? permutation(n, hashInts(this.seed, epoch, 1))
      : Int32Array.from({ length: n }, (_, i) => i);
    const augmentSeed = (this.#options.augment ?? true) ? hashInts(this.seed, epoch, 2) : undefined;
    const steps = Math.ceil(n / this.batchSize);
    const started = performance.now();
    const sys = this.#options.systemMetrics ? new SystemMetrics() : undefined;
    sys?.begin();
    const seenAtStart = pos.partial?.seen ?? 0;
    let lossSum = pos.partial?.lossSum ?? 0;
    let correct = pos.partial?.correct ?? 0;
    let seen = pos.partial?.seen ?? 0;
    if (pos.batch === 0) await this.#callbacks.call("onEpochBegin", epoch, ctx);
    const [h, w, c] = this.dataset.imageShape;
    const numClasses = this.dataset.classNames.length;
    const fetch = (b: number) =>
      train.batch(order.subarray(b * this.batchSize, Math.min(n, (b + 1) * this.batchSize)), {
        augmentSeed,
      });
    let next = pos.batch < steps ? fetch(pos.batch) : undefined;
    let lastBatchRecord = performance.now();
    let lastYield = performance.now();
    const interval = this.#options.batchMetricsIntervalMs ?? 1000;
    for (let b = pos.batch; b < steps; b++) {
      if (this.#options.signal?.aborted) return undefined;
      await this.#callbacks.call("onBatchBegin", b, ctx);
      const batch = await next!;
      next = b + 1 < steps ? fetch(b + 1) : undefined;
      const size = batch.y.length;
      const xs = tf.tensor4d(batch.x, [size, h, w, c]);
      const ys = tf.tensor1d(batch.y, "int32");
      let result;
      try {
        result = await trainStep(this.model, this.optimizer, xs, ys, numClasses);
      } finally {
        xs.dispose();
        ys.dispose();
      }
      lossSum += result.loss * size;
      correct += result.acc * size;
      seen += size;
      pos.batch = b + 1;
      pos.step += 1;
      pos.partial = { lossSum, correct, seen };
      const batchLogs = {
        loss: lossSum / seen,
        acc: correct / seen,
        batch_loss: result.loss,
        batch_acc: result.acc,
        size,
      };
      // One frozen object serves every callback: none can change what the next one sees.
      const frozenBatch = freezeLogs(batchLogs);
      await this.#callbacks.call("onBatchEnd", b, frozenBatch, ctx);
      const now = performance.now();
      if (b + 1 < steps && now - lastBatchRecord >= interval) {
        lastBatchRecord = now;
        await this.run.writeBatchMetrics(pos, b, { loss: batchLogs.loss, acc: batchLogs.acc });
      }
      if (now - lastYield > 100) {
        // Let timers and servers (the live dashboard) run: wasm kernels resolve as microtasks.
        lastYield = now;
        await new Promise((r) => setTimeout(r, 0));
      }
      if (this.#stopImmediate) break;
    }
    if (this.#options.signal?.aborted && pos.batch < steps) return undefined;
    const logs: Record<string, number> = {
      loss: seen > 0 ? lossSum / seen : NaN,
      acc: seen > 0 ? correct / seen : NaN,
    };
    const trainSeconds = (performance.now() - started) / 1000;
    const val = this.dataset.val;
    if (val && val.size > 0 && !this.#stopImmediate) {
      const v = await evaluateSplit(this.model, val, this.dataset, this.batchSize);
      logs.val_loss = v.loss;
      logs.val_acc = v.acc;
    }
    logs.lr = this.#lr;
    logs.epoch_seconds = (performance.now() - started) / 1000;
    const frozen = freezeLogs(logs);
    await this.#callbacks.call("onEpochEnd", epoch, frozen, ctx);
    await this.run.writeEpochMetrics(
      pos,
      sys ? { ...logs, ...sys.end(seen - seenAtStart, trainSeconds) } : logs,
    );
    const entry: HistoryEntry = { epoch, step: pos.step, logs: frozen };
    this.#history.push(entry);
    this.#position = { epoch: epoch + 1, batch: 0, step: pos.step };
    if (this.#options.checkpointer) await this.#options.checkpointer(this, "epoch");
    return entry.logs;
  }
}

/** Mean loss and accuracy of `model` over a whole split (no augmentation). */
export async function evaluateSplit(
  model: tfl.LayersModel,
  split: Split,
  dataset: Pick<Dataset, "imageShape" | "classNames">,
  batchSize: number,
): Promise<{ loss: number; acc: number }> {
  const [h, w, c] = dataset.imageShape;
  const numClasses = dataset.classNames.length;
  let lossSum = 0;
  let correct = 0;
  const n = split.size;
  const idx = (b: number) =>
    Int32Array.from(
      { length: Math.min(batchSize, n - b * batchSize) },
      (_, i) => b * batchSize + i,
    );
  const steps = Math.ceil(n / batchSize);
  let next = steps > 0 ? split.batch(idx(0)) : undefined;
  for (let b = 0; b < steps; b++) {
    const batch = await next!;
    next = b + 1 < steps ? split.batch(idx(b + 1)) : undefined;
    const size = batch.y.length;
    const xs = tf.tensor4d(batch.x, [size, h, w, c]);
    const ys = tf.tensor1d(batch.y, "int32");
    try {
      const r = await evalStep(model, xs, ys, numClasses);
      lossSum += r.lossSum;
      correct += r.correct;
    } finally {
      xs.dispose();
      ys.dispose();
    }
  }
  return { loss: lossSum / n, acc: correct / n };
}
