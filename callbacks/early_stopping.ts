/**
 * EarlyStopping: stops training when a metric stops improving.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs-core";
import type { Callback, TrainContext } from "../core/train/callback.ts";
import type { Logs } from "../core/train/logs.ts";
import {
  checkCount,
  checkOption,
  Monitor,
  type MonitorMode,
  type MonitorState,
  stateObject,
} from "./monitor.ts";

/** Options of {@link EarlyStopping} (Keras names and defaults). */
export interface EarlyStoppingOptions {
  /** Metric to watch. Default `val_loss`. */
  monitor?: string;
  /** Absolute minimum change that counts as an improvement. Default 0. */
  minDelta?: number;
  /** Epochs without improvement after which training stops. Default 0. */
  patience?: number;
  /** `auto`, `min` or `max`. Default `auto`. */
  mode?: MonitorMode;
  /** Training stops unless the metric beats this value (patience still applies). */
  baseline?: number;
  /** Restore the weights of the best epoch when training ends (however it ends). */
  restoreBestWeights?: boolean;
  /** Epochs to wait before watching at all (warm-up). Default 0. */
  startFromEpoch?: number;
  /** Callback name (must be unique in a run). Default `EarlyStopping`. */
  name?: string;
}

/** The plain-JSON state of {@link EarlyStopping} (see `getState`). */
export interface EarlyStoppingState {
  /** The monitor's state (best value, warning given). */
  monitor: MonitorState;
  /** Epochs counted towards patience. */
  wait: number;
  /** Epoch of the best value. */
  bestEpoch: number | null;
  /** Epoch at which training was stopped, if it was. */
  stoppedEpoch: number | null;
}

/**
 * Stops training after `patience` epochs without improvement of `monitor`, with Keras 3's
 * rules: nothing before `startFromEpoch`; `wait` grows every watched epoch and is reset by an
 * improvement only if it also beats `baseline`; never stops at epoch 0. With
 * `restoreBestWeights`, a copy of the weights is kept at the first watched epoch and at each
 * improvement, and put back in `onTrainEnd` whatever ended training (also a failure), which
 * neither tfjs (not implemented) nor Keras (skipped after an exception) do.
 *
 * Differences from Keras, on purpose: state is kept across `train()` calls and resumes (Keras
 * resets it at each `fit`), except that `wait` starts over when a new `train()` call follows
 * an early stop; a NaN value is never `best`.
 *
 * @example
 * ```ts
 * import { EarlyStopping } from "./early_stopping.ts";
 * const cb = new EarlyStopping({ monitor: "val_loss", patience: 5, restoreBestWeights: true });
 * ```
 */
export class EarlyStopping implements Callback {
  readonly name: string;
  /** The shared monitor (direction, minDelta, best). */
  readonly monitor: Monitor;
  /** The resolved `patience` option. */
  readonly patience: number;
  /** The resolved `baseline` option. */
  readonly baseline: number | undefined;
  /** The resolved `restoreBestWeights` option. */
  readonly restoreBestWeights: boolean;
  /** The resolved `startFromEpoch` option. */
  readonly startFromEpoch: number;
  /** Watched epochs since the last (baseline-beating) improvement. */
  wait = 0;
  /** Epoch of the best value, if any. */
  bestEpoch: number | undefined;
  /** Epoch at which this callback asked to stop, if it did. */
  stoppedEpoch: number | undefined;
  #bestWeights: tf.Tensor[] | undefined;

  /** Validates options. */
  constructor(options: EarlyStoppingOptions = {}) {
    this.name = options.name ?? "EarlyStopping";
    this.monitor = new Monitor({
      monitor: options.monitor ?? "val_loss",
      mode: options.mode,
      minDelta: options.minDelta ?? 0,
      owner: this.name,
    });
    this.patience = checkCount(this.name, "patience", options.patience ?? 0);
    this.startFromEpoch = checkCount(this.name, "startFromEpoch", options.startFromEpoch ?? 0);
    this.baseline = options.baseline === undefined || options.baseline === null
      ? undefined
      : checkOption(this.name, "baseline", options.baseline, Number.isFinite, "a finite number");
    this.restoreBestWeights = Boolean(options.restoreBestWeights);
  }

  /** True when a weights snapshot is held. */
  get hasBestWeights(): boolean {
    return this.#bestWeights !== undefined;
  }

  /** A new `train()` call after an early stop gets a fresh patience window. */
  onTrainBegin(): void {
    if (this.stoppedEpoch !== undefined) {
      this.wait = 0;
      this.stoppedEpoch = undefined;
    }
  }

  /** Applies the Keras rules to this epoch's monitored value. */
  async onEpochEnd(epoch: number, logs: Logs, ctx: TrainContext): Promise<void> {
    if (epoch < this.startFromEpoch) return;
    const current = await this.monitor.read(logs, ctx);
    if (current === undefined) return;
    // Keras: the first watched epoch's weights are the best so far. Not after a resume that
    // restored a best value but no snapshot: those weights are not the best ones.
    if (this.restoreBestWeights && !this.#bestWeights && this.monitor.best === undefined) {
      this.#snapshot(ctx);
      this.bestEpoch = epoch;
    }
    this.wait++;
    if (this.monitor.update(current)) {
      this.bestEpoch = epoch;
      if (this.restoreBestWeights) this.#snapshot(ctx);
      if (this.baseline === undefined || this.monitor.isImprovement(current, this.baseline)) {
        this.wait = 0;
      }
      return;
    }
    if (this.wait >= this.patience && epoch > 0) {
      this.stoppedEpoch = epoch;
      const best = this.monitor.best;
      const reason = best === undefined
        ? `${this.name}: ${this.monitor.monitor} never had a finite value in ${this.wait} epochs`
        : this.baseline !== undefined && !this.monitor.isImprovement(best, this.baseline)
        ? `${this.name}: ${this.monitor.monitor} did not beat the baseline ${this.baseline} ` +
          `in ${this.wait} epochs (best ${best} at epoch ${(this.bestEpoch ?? 0) + 1})`
        : `${this.name}: ${this.monitor.monitor} did not improve for ${this.wait} epochs ` +
          `(best ${best} at epoch ${(this.bestEpoch ?? 0) + 1})`;
      ctx.stopTraining(reason);
      await ctx.run.event("early_stopped", {
        callback: this.name,
        monitor: this.monitor.monitor,
        value: current,
        best: best ?? null,
        bestEpoch: this.bestEpoch ?? null,
        wait: this.wait,
        patience: this.patience,
        reason,
      });
    }
  }

  /** Restores the best weights (when asked to), however training ended. */
  async onTrainEnd(_logs: Logs, ctx: TrainContext): Promise<void> {
    if (!this.restoreBestWeights) return;
    if (this.#bestWeights) {
      ctx.model.setWeights(this.#bestWeights);
      await ctx.run.event("best_weights_restored", {
        callback: this.name,
        bestEpoch: this.bestEpoch ?? null,
        best: this.monitor.best ?? null,
      });
    } else if (this.monitor.best !== undefined) {
      await ctx.run.warn(
        `${this.name}: the best weights (epoch ${(this.bestEpoch ?? 0) + 1}) were not kept ` +
          `across the resume, so the final weights stay; use ModelCheckpoint with ` +
          `saveBestOnly to keep them on disk.`,
        { callback: this.name },
      );
    }
  }

  /** Frees the weights snapshot (call when the callback is no longer used). */
  dispose(): void {
    if (this.#bestWeights) tf.dispose(this.#bestWeights);
    this.#bestWeights = undefined;
  }

  #snapshot(ctx: TrainContext): void {
    const next = tf.tidy(() => ctx.model.getWeights().map((w) => tf.clone(w)));
    this.dispose();
    this.#bestWeights = next;
  }

  /**
   * The best-weights snapshot as bytes (a length-prefixed JSON of the weight specs, then the
   * tfjs-encoded weights), saved in resume points so `restoreBestWeights` works across a
   * resume; `undefined` when there is no snapshot.
   */
  async getBinaryState(): Promise<Uint8Array | undefined> {
    if (!this.#bestWeights) return undefined;
    const { data, specs } = await tf.io.encodeWeights(
      this.#bestWeights.map((tensor, i) => ({ name: `w${i}`, tensor })),
    );
    const head = new TextEncoder().encode(JSON.stringify(specs));
    const out = new Uint8Array(4 + head.length + data.byteLength);
    new DataView(out.buffer).setUint32(0, head.length, true);
    out.set(head, 4);
    out.set(new Uint8Array(data), 4 + head.length);
    return out;
  }

  /** Restores {@link getBinaryState}'s bytes as the best-weights snapshot. */
  setBinaryState(bytes: Uint8Array): void {
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    const n = bytes.byteLength >= 4 ? view.getUint32(0, true) : Infinity;
    if (4 + n > bytes.byteLength) {
      throw new Error(`${this.name}: the saved best weights are truncated`);
    }
    const specs = JSON.parse(
      new TextDecoder().decode(bytes.subarray(4, 4 + n)),
    ) as tf.io.WeightsManifestEntry[];
    const data = bytes.slice(4 + n).buffer;
    const map = tf.io.decodeWeights(data, specs);
    this.dispose();
    this.#bestWeights = specs.map((s) => map[s.name]);
  }

  /** Plain-JSON state (the weights snapshot travels as binary state). */
  getState(): EarlyStoppingState {
    return {
      monitor: this.monitor.getState(),
      wait: this.wait,
      bestEpoch: this.bestEpoch ?? null,
      stoppedEpoch: this.stoppedEpoch ?? null,
    };
  }

  /** Restores {@link getState}'s result. */
  setState(state: unknown): void {
    const s = stateObject(this.name, state) as unknown as EarlyStoppingState;
    this.monitor.setState(s.monitor);
    this.wait = Number(s.wait) || 0;
    this.bestEpoch = typeof s.bestEpoch === "number" ? s.bestEpoch : undefined;
    this.stoppedEpoch = typeof s.stoppedEpoch === "number" ? s.stoppedEpoch : undefined;
    this.dispose();
  }
}
