/**
 * ReduceLROnPlateau: lowers the learning rate when a metric stops improving.
 *
 * @module
 */
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

/** Options of {@link ReduceLROnPlateau} (Keras names and defaults). */
export interface ReduceLROnPlateauOptions {
  /** Metric to watch. Default `val_loss`. */
  monitor?: string;
  /** Factor by which the learning rate is multiplied; must be in (0, 1). Default 0.1. */
  factor?: number;
  /** Epochs without improvement before the learning rate is reduced. Default 10. */
  patience?: number;
  /** `auto`, `min` or `max`. Default `auto`. */
  mode?: MonitorMode;
  /** Absolute minimum change that counts as an improvement. Default 1e-4. */
  minDelta?: number;
  /** Epochs to wait after a reduction before counting patience again. Default 0. */
  cooldown?: number;
  /** Lower bound of the learning rate. Default 0. */
  minLr?: number;
  /** Callback name (must be unique in a run). Default `ReduceLROnPlateau`. */
  name?: string;
}

/** The plain-JSON state of {@link ReduceLROnPlateau} (see `getState`). */
export interface ReduceLROnPlateauState {
  /** The monitor's state (best value, warning given). */
  monitor: MonitorState;
  /** Epochs counted towards patience. */
  wait: number;
  /** Cooldown epochs left. */
  cooldownCounter: number;
  /** Reductions made so far. */
  lrHistory: { epoch: number; from: number; to: number }[];
}

/**
 * Multiplies the learning rate by `factor` after `patience` epochs without improvement of
 * `monitor`, then waits `cooldown` epochs, never going below `minLr`. Same rules as Keras 3
 * (improvement resets `wait`, also during cooldown). The change goes through
 * `ctx.learningRate` (effective from the next batch) and is logged as an `lr_changed` event.
 *
 * @example
 * ```ts
 * import { ReduceLROnPlateau } from "./reduce_lr_on_plateau.ts";
 * const cb = new ReduceLROnPlateau({ monitor: "val_loss", factor: 0.5, patience: 3 });
 * ```
 */
export class ReduceLROnPlateau implements Callback {
  readonly name: string;
  /** Resolved options. */
  readonly factor: number;
  /** The resolved `patience` option. */
  readonly patience: number;
  /** The resolved `cooldown` option. */
  readonly cooldown: number;
  /** The resolved `minLr` option. */
  readonly minLr: number;
  /** The shared monitor (direction, minDelta, best). */
  readonly monitor: Monitor;
  /** Epochs since the last improvement (outside cooldown). */
  wait = 0;
  /** Epochs of cooldown left. */
  cooldownCounter = 0;
  /** Every reduction made: epoch (0-based) and learning rates. */
  lrHistory: { epoch: number; from: number; to: number }[] = [];

  /** Validates options; throws on `factor >= 1` and other bad values. */
  constructor(options: ReduceLROnPlateauOptions = {}) {
    this.name = options.name ?? "ReduceLROnPlateau";
    this.factor = checkOption(
      this.name,
      "factor",
      options.factor ?? 0.1,
      (v) => v > 0 && v < 1,
      "> 0 and < 1 (ReduceLROnPlateau does not support a factor >= 1)",
    );
    this.patience = checkCount(this.name, "patience", options.patience ?? 10);
    this.cooldown = checkCount(this.name, "cooldown", options.cooldown ?? 0);
    this.minLr = checkOption(this.name, "minLr", options.minLr ?? 0, (v) => v >= 0, ">= 0");
    this.monitor = new Monitor({
      monitor: options.monitor ?? "val_loss",
      mode: options.mode,
      minDelta: options.minDelta ?? 1e-4,
      owner: this.name,
    });
  }

  /** True while in cooldown. */
  get inCooldown(): boolean {
    return this.cooldownCounter > 0;
  }

  /** Applies the Keras rules to this epoch's monitored value. */
  async onEpochEnd(epoch: number, logs: Logs, ctx: TrainContext): Promise<void> {
    const current = await this.monitor.read(logs, ctx);
    if (current === undefined) return;
    if (this.inCooldown) {
      this.cooldownCounter--;
      this.wait = 0;
    }
    if (this.monitor.update(current)) {
      this.wait = 0;
      return;
    }
    if (this.inCooldown) return;
    this.wait++;
    if (this.wait < this.patience) return;
    const old = ctx.learningRate;
    // Compared in float32 as Keras does (the optimizer stores the rate as float32), so a rate
    // already at the floor is not "reduced" again.
    if (!(Math.fround(old) > Math.fround(this.minLr))) return;
    const lr = Math.max(old * this.factor, this.minLr);
    ctx.learningRate = lr;
    this.cooldownCounter = this.cooldown;
    this.wait = 0;
    this.lrHistory.push({ epoch, from: old, to: lr });
    await ctx.run.event("lr_changed", {
      callback: this.name,
      oldLr: old,
      newLr: lr,
      monitor: this.monitor.monitor,
      value: current,
      best: this.monitor.best ?? null,
      reason: `${this.monitor.monitor} did not improve for ${this.patience} epochs`,
    });
  }

  /** Plain-JSON state (best, wait, cooldown, reductions). */
  getState(): ReduceLROnPlateauState {
    return {
      monitor: this.monitor.getState(),
      wait: this.wait,
      cooldownCounter: this.cooldownCounter,
      lrHistory: this.lrHistory.map((h) => ({ ...h })),
    };
  }

  /** Restores {@link getState}'s result. */
  setState(state: unknown): void {
    const s = stateObject(this.name, state) as unknown as ReduceLROnPlateauState;
    this.monitor.setState(s.monitor);
    this.wait = Number(s.wait) || 0;
    this.cooldownCounter = Number(s.cooldownCounter) || 0;
    this.lrHistory = Array.isArray(s.lrHistory) ? s.lrHistory.map((h) => ({ ...h })) : [];
  }
}
