/**
 * A tiny, recording stand-in for the trainer, so callbacks can be tested with scripted logs:
 * it records events, warnings, learning-rate changes and stop requests, and drives hooks in
 * the trainer's order. `tinyModel()` gives a real tfjs-layers model on the cpu backend for
 * checkpoint and restore tests.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs-core";
import "@tensorflow/tfjs-backend-cpu";
import * as tfl from "@tensorflow/tfjs-layers";
import type { Callback, HistoryEntry, TrainContext } from "../../core/train/callback.ts";
import { freezeLogs, type Logs } from "../../core/train/logs.ts";
import type { RunLogger } from "../../core/run/logger.ts";
import { type SavedCheckpoint, saveModel, type SaveModelOptions } from "../../core/run/model_io.ts";

/** One recorded event. */
export interface RecordedEvent {
  type: string;
  epoch: number;
  step: number;
  [key: string]: unknown;
}

/** A RunLogger that records in memory and writes artifacts under a temp dir. */
export class FakeRun implements RunLogger {
  readonly id = "fake-run";
  readonly events: RecordedEvent[] = [];
  readonly warnings: string[] = [];
  readonly scalars: Record<string, number>[] = [];
  constructor(readonly dir: string, private readonly ctx: { epoch: number; step: number }) {}

  event(type: string, detail: Record<string, unknown> = {}): Promise<void> {
    // JSON round trip, as the real writer does, so tests see what lands on disk.
    const rec = JSON.parse(
      JSON.stringify({ ...detail, type, epoch: this.ctx.epoch, step: this.ctx.step }),
    );
    this.events.push(rec);
    return Promise.resolve();
  }
  scalar(name: string, value: number): void {
    this.scalars.push({ [name]: value });
  }
  async artifact(relPath: string, data: Uint8Array | string): Promise<string> {
    const path = `${this.dir}/${relPath}`;
    await Deno.mkdir(path.slice(0, path.lastIndexOf("/")), { recursive: true });
    if (typeof data === "string") await Deno.writeTextFile(path, data);
    else await Deno.writeFile(path, data);
    return path;
  }
  saveCheckpoint(
    relPath: string,
    model: tfl.LayersModel,
    options: SaveModelOptions = {},
  ): Promise<SavedCheckpoint> {
    return saveModel(model, `${this.dir}/${relPath}`, { ...options, root: this.dir });
  }
  warn(message: string, detail: Record<string, unknown> = {}): Promise<void> {
    this.warnings.push(message);
    return this.event("warning", { message, ...detail });
  }
  /** Events of one type. */
  ofType(type: string): RecordedEvent[] {
    return this.events.filter((e) => e.type === type);
  }
}

/** Options of {@link FakeContext}. */
export interface FakeContextOptions {
  model?: tfl.LayersModel;
  optimizer?: tf.Optimizer;
  learningRate?: number;
  stepsPerEpoch?: number;
  totalEpochs?: number;
  dir?: string;
  callbackStates?: () => Record<string, unknown>;
}

/** A recording TrainContext. */
export class FakeContext implements TrainContext {
  readonly run: FakeRun;
  readonly history: HistoryEntry[] = [];
  /** Every learning rate set through the context, in order. */
  readonly lrChanges: number[] = [];
  /** Every reason passed to stopTraining. */
  readonly stopReasons: string[] = [];
  epoch = 0;
  step = 0;
  stepsPerEpoch: number;
  totalEpochs: number;
  optimizer?: tf.Optimizer;
  callbackStates?: () => Record<string, unknown>;
  #lr: number;
  #model?: tfl.LayersModel;

  constructor(opts: FakeContextOptions = {}) {
    this.#lr = opts.learningRate ?? 1e-3;
    this.#model = opts.model;
    this.optimizer = opts.optimizer;
    this.stepsPerEpoch = opts.stepsPerEpoch ?? 10;
    this.totalEpochs = opts.totalEpochs ?? 100;
    this.callbackStates = opts.callbackStates;
    this.run = new FakeRun(opts.dir ?? Deno.makeTempDirSync({ prefix: "convdeck-test-" }), this);
  }
  get model(): tfl.LayersModel {
    if (!this.#model) throw new Error("FakeContext: this test gave no model");
    return this.#model;
  }
  get learningRate(): number {
    return this.#lr;
  }
  set learningRate(lr: number) {
    this.#lr = lr;
    this.lrChanges.push(lr);
  }
  get stopRequested(): boolean {
    return this.stopReasons.length > 0;
  }
  stopTraining(reason: string): void {
    this.stopReasons.push(reason);
  }
  /** Removes the temp run directory. */
  async cleanup(): Promise<void> {
    await Deno.remove(this.run.dir, { recursive: true }).catch(() => {});
  }
}

/** Options of {@link drive}. */
export interface DriveOptions {
  /** Batch logs per epoch (`onBatchEnd` is called with each); none when omitted. */
  batches?: (epoch: number) => Logs[];
  /** Called after each epoch's hooks (e.g. to change weights between epochs). */
  afterEpoch?: (epoch: number) => void | Promise<void>;
}

/**
 * Runs `callbacks` through one `train()` call as the trainer would: train begin, then for each
 * scripted epoch logs: epoch begin, batches, epoch end (each callback gets a frozen copy),
 * history, stop check; then train end. Epochs continue from `ctx.history`. Returns the number
 * of epochs run.
 */
export async function drive(
  callbacks: Callback[],
  epochLogs: Record<string, number>[],
  ctx: FakeContext,
  opts: DriveOptions = {},
): Promise<number> {
  const start = ctx.history.length;
  ctx.totalEpochs = start + epochLogs.length;
  for (const cb of callbacks) await cb.onTrainBegin?.(ctx);
  let last: Logs = freezeLogs({});
  let ran = 0;
  try {
    for (let i = 0; i < epochLogs.length; i++) {
      const epoch = start + i;
      ctx.epoch = epoch;
      for (const cb of callbacks) await cb.onEpochBegin?.(epoch, ctx);
      const batches = opts.batches?.(epoch) ?? [];
      for (let b = 0; b < batches.length; b++) {
        for (const cb of callbacks) await cb.onBatchBegin?.(b, ctx);
        ctx.step++;
        for (const cb of callbacks) await cb.onBatchEnd?.(b, freezeLogs({ ...batches[b] }), ctx);
      }
      const logs = { ...epochLogs[i], lr: epochLogs[i].lr ?? ctx.learningRate };
      for (const cb of callbacks) await cb.onEpochEnd?.(epoch, freezeLogs(logs), ctx);
      ctx.history.push({ epoch, step: ctx.step, logs: freezeLogs(logs) });
      last = freezeLogs(logs);
      ran++;
      await opts.afterEpoch?.(epoch);
      if (ctx.stopRequested) break;
    }
  } finally {
    for (const cb of callbacks) await cb.onTrainEnd?.(last, ctx);
  }
  return ran;
}

let backendReady: Promise<boolean> | undefined;

/** A tiny real model (4 inputs -> 3 softmax) on the cpu backend, with seeded weights. */
export async function tinyModel(seed = 1): Promise<tfl.LayersModel> {
  backendReady ??= tf.setBackend("cpu");
  await backendReady;
  return tfl.sequential({
    layers: [
      tfl.layers.dense({
        units: 5,
        inputShape: [4],
        activation: "relu",
        kernelInitializer: tfl.initializers.glorotUniform({ seed }),
      }),
      tfl.layers.dense({
        units: 3,
        activation: "softmax",
        kernelInitializer: tfl.initializers.glorotUniform({ seed: seed + 1 }),
      }),
    ],
  });
}

/** Fixed input batch for prediction comparisons. */
export function probeInput(): tf.Tensor2D {
  return tf.tensor2d([[0.1, -0.2, 0.3, 0.9], [1, 2, -1, 0.5], [-0.7, 0.2, 0.0, 0.4]]);
}

/** The model's predictions on {@link probeInput}, as a flat array. */
export function predictProbe(model: tfl.LayersModel): number[] {
  return tf.tidy(() => Array.from((model.predict(probeInput()) as tf.Tensor).dataSync()));
}

/** Adds `delta` to every weight of `model` (simulates a training step). */
export function nudgeWeights(model: tfl.LayersModel, delta: number): void {
  const next = tf.tidy(() => model.getWeights().map((w) => tf.add(w, delta)));
  model.setWeights(next);
  tf.dispose(next);
}

/** Runs one real Adam step on random data so the optimizer has moments to save. */
export function adamStep(model: tfl.LayersModel, optimizer: tf.Optimizer): void {
  tf.tidy(() => {
    const x = tf.randomNormal([8, 4], 0, 1, "float32", 3);
    const y = tf.oneHot(tf.tensor1d([0, 1, 2, 0, 1, 2, 0, 1], "int32"), 3);
    optimizer.minimize(
      () => {
        const p = model.apply(x, { training: true }) as tf.Tensor;
        return tf.losses.softmaxCrossEntropy(y, p) as tf.Scalar;
      },
      false,
      model.trainableWeights.map((w) => w.read() as tf.Variable),
    );
  });
}
