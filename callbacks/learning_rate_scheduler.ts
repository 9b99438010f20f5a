/**
 * LearningRateScheduler: sets the learning rate at the start of each epoch.
 *
 * @module
 */
import type { Callback, TrainContext } from "../core/train/callback.ts";
import { stateObject } from "./monitor.ts";

/** A schedule: the learning rate for a 0-based epoch, given the current one. */
export type Schedule = (epoch: number, lr: number) => number;

/** A one-time change at the start of 0-based epoch `at`. Exactly one of the factors. */
export type LrStep =
  | { at: number; divideBy: number }
  | { at: number; multiplyBy: number }
  | { at: number; set: number };

/**
 * Builds a step-decay schedule: multiply the current rate by `factor` at the start of each
 * epoch in `at` (0-based), or of every `every`-th epoch when a number is given.
 *
 * @example
 * ```ts
 * import { stepDecay } from "./learning_rate_scheduler.ts";
 * stepDecay([30], 0.1); // divide by 10 after 30 epochs (at 0-based epoch 30)
 * stepDecay(10, 0.5); // halve every 10 epochs
 * ```
 */
export function stepDecay(at: number | readonly number[], factor = 0.1): Schedule {
  if (!(factor > 0) || !Number.isFinite(factor)) {
    throw new Error(`stepDecay: factor must be a positive number, got ${factor}.`);
  }
  if (typeof at === "number") {
    if (!Number.isInteger(at) || at < 1) {
      throw new Error(`stepDecay: every must be an integer >= 1, got ${at}.`);
    }
    return (epoch, lr) => (epoch > 0 && epoch % at === 0 ? lr * factor : lr);
  }
  const set = new Set(at);
  return (epoch, lr) => (set.has(epoch) ? lr * factor : lr);
}

/** Turns step specs into a schedule (several steps at the same epoch compose in order). */
export function stepsSchedule(steps: readonly LrStep[]): Schedule {
  for (const s of steps) {
    if (!Number.isInteger(s.at) || s.at < 0) {
      throw new Error(
        `LearningRateScheduler: step.at must be an integer epoch >= 0, got ${JSON.stringify(s)}.`,
      );
    }
    const v = "divideBy" in s
      ? s.divideBy
      : "multiplyBy" in s
      ? s.multiplyBy
      : "set" in s
      ? s.set
      : NaN;
    if (!(v > 0) || !Number.isFinite(v)) {
      throw new Error(
        `LearningRateScheduler: each step needs one positive divideBy, multiplyBy or set, got ${
          JSON.stringify(s)
        }.`,
      );
    }
  }
  return (epoch, lr) =>
    steps.filter((s) => s.at === epoch).reduce(
      (r, s) => ("divideBy" in s ? r / s.divideBy : "multiplyBy" in s ? r * s.multiplyBy : s.set),
      lr,
    );
}

/** Options of {@link LearningRateScheduler}. */
export interface LearningRateSchedulerOptions {
  /** Callback name. Default `LearningRateScheduler`. */
  name?: string;
}

/**
 * Calls `schedule(epoch, lr)` at the start of every epoch (0-based epoch, current rate) and
 * sets the result through `ctx.learningRate`, as Keras does; a change is logged as an
 * `lr_changed` event. Also takes step specs such as `[{ at: 30, divideBy: 10 }]` (the book's
 * "divide by 10 at epoch 30", applied at the start of 0-based epoch 30, i.e. after 30 epochs).
 * A schedule that returns a non-finite or negative value is an error naming the epoch.
 *
 * @example
 * ```ts
 * import { LearningRateScheduler } from "./learning_rate_scheduler.ts";
 * const steps = new LearningRateScheduler([{ at: 30, divideBy: 10 }]);
 * const warmup = new LearningRateScheduler((epoch, lr) => (epoch < 5 ? 1e-3 * (epoch + 1) / 5 : lr));
 * ```
 */
export class LearningRateScheduler implements Callback {
  readonly name: string;
  /** The schedule applied at each epoch begin. */
  readonly schedule: Schedule;
  /** Last epoch the schedule was applied to (not applied twice to one epoch on resume). */
  /** The resolved `lastEpoch` option. */
  lastEpoch: number = -1;

  /** Creates the scheduler from a function or step specs. */
  constructor(schedule: Schedule | readonly LrStep[], options: LearningRateSchedulerOptions = {}) {
    this.name = options.name ?? "LearningRateScheduler";
    if (typeof schedule === "function") this.schedule = schedule;
    else if (Array.isArray(schedule)) this.schedule = stepsSchedule(schedule);
    else {throw new Error(
        `${this.name}: schedule must be a function (epoch, lr) => lr or an array of steps.`,
      );}
  }

  /** Applies the schedule. */
  async onEpochBegin(epoch: number, ctx: TrainContext): Promise<void> {
    if (epoch === this.lastEpoch) return;
    this.lastEpoch = epoch;
    const old = ctx.learningRate;
    const lr = this.schedule(epoch, old);
    if (typeof lr !== "number" || !Number.isFinite(lr) || lr < 0) {
      throw new Error(
        `${this.name}: the schedule returned ${String(lr)} for epoch ${epoch}; it must return a ` +
          `finite learning rate >= 0.`,
      );
    }
    if (lr === old) return;
    ctx.learningRate = lr;
    await ctx.run.event("lr_changed", { callback: this.name, oldLr: old, newLr: lr });
  }

  /** Plain-JSON state. */
  getState(): { lastEpoch: number } {
    return { lastEpoch: this.lastEpoch };
  }

  /** Restores {@link getState}'s result. */
  setState(state: unknown): void {
    const s = stateObject(this.name, state);
    this.lastEpoch = typeof s.lastEpoch === "number" ? s.lastEpoch : -1;
  }
}
