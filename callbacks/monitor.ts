/**
 * The monitored-metric helper shared by every callback that watches a metric
 * (`ReduceLROnPlateau`, `EarlyStopping`, `ModelCheckpoint`, `OverfitDetector`).
 *
 * Keras 3 semantics (keras/src/callbacks/monitor_callback.py) with two deliberate differences:
 * - a NaN (or ±Infinity) value is never an improvement and never becomes `best` (Keras keeps a
 *   first NaN as `best` forever);
 * - `auto` mode throws a clear error when the direction cannot be told from the name, instead
 *   of guessing.
 *
 * @module
 */
import type { TrainContext } from "../core/train/callback.ts";
import type { Logs } from "../core/train/logs.ts";
import { isImprovement, metricDirection } from "../core/metric_direction.ts";

/** Whether a monitored metric should go down (`min`), up (`max`), or be told by its name. */
export type MonitorMode = "auto" | "min" | "max";

/**
 * Resolves `auto` to `min` or `max` from the metric's name: `val_` is stripped; `loss` and
 * names ending in a known error metric (`_loss`, `mse`, `crossentropy`, ...) mean `min`;
 * `acc`, `accuracy`, `auc`, `precision`, `recall`, ... mean `max`. Throws when it cannot tell.
 *
 * @example
 * ```ts
 * import { resolveMode } from "./monitor.ts";
 * resolveMode("val_loss", "auto"); // "min"
 * resolveMode("val_acc", "auto"); // "max"
 * ```
 */
export function resolveMode(monitor: string, mode: MonitorMode, owner = "monitor"): "min" | "max" {
  if (mode === "min" || mode === "max") return mode;
  if (mode !== "auto") {
    throw new Error(`${owner}: mode must be "auto", "min" or "max", got ${JSON.stringify(mode)}.`);
  }
  const direction = metricDirection(monitor);
  if (direction) return direction;
  throw new Error(
    `${owner}: cannot tell whether "${monitor}" should be minimised or maximised in mode ` +
      `"auto"; pass mode: "min" or mode: "max".`,
  );
}

/** Options of a {@link Monitor}. */
export interface MonitorOptions {
  /** The logs key to watch, e.g. `val_loss`. */
  monitor: string;
  /** Direction; `auto` decides from the name (see {@link resolveMode}). */
  mode?: MonitorMode;
  /** Absolute minimum change that counts as an improvement (its sign is ignored). */
  minDelta?: number;
  /** The owning callback's name, used in warnings and errors. */
  owner: string;
}

/** A monitor's JSON state. */
export interface MonitorState {
  /** Best value seen so far, `null` before the first finite value. */
  best: number | null;
  /** Whether the missing-metric warning was already given. */
  warned: boolean;
}

/**
 * Watches one metric: reads it from the logs (warning once, naming the available keys, when it
 * is missing), and tells whether a value improves on a reference.
 *
 * @example
 * ```ts
 * import { Monitor } from "./monitor.ts";
 * const m = new Monitor({ monitor: "val_loss", minDelta: 0.01, owner: "demo" });
 * m.isImprovement(0.5); // true: the first finite value always improves
 * m.best = 0.5;
 * m.isImprovement(0.495); // false: not better by at least 0.01
 * ```
 */
export class Monitor {
  /** The logs key watched. */
  readonly monitor: string;
  /** Resolved direction. */
  readonly mode: "min" | "max";
  /** Absolute minimum improvement (non-negative). */
  readonly minDelta: number;
  /** The owning callback's name. */
  readonly owner: string;
  /** Best finite value seen so far (undefined until the first one). */
  best: number | undefined = undefined;
  #warned = false;

  /** Creates a monitor; throws when `auto` cannot tell the direction or `minDelta` is bad. */
  constructor(options: MonitorOptions) {
    this.monitor = options.monitor;
    this.owner = options.owner;
    this.mode = resolveMode(options.monitor, options.mode ?? "auto", options.owner);
    const minDelta = options.minDelta ?? 0;
    if (!Number.isFinite(minDelta)) {
      throw new Error(`${options.owner}: minDelta must be a finite number, got ${minDelta}.`);
    }
    this.minDelta = Math.abs(minDelta);
  }

  /**
   * Returns the monitored value from `logs`, or `undefined` when it is missing; the first time
   * it is missing, warns through `ctx.run.warn` with the available keys.
   */
  async read(logs: Logs, ctx: TrainContext): Promise<number | undefined> {
    const value = logs[this.monitor];
    if (typeof value === "number") return value;
    if (!this.#warned) {
      this.#warned = true;
      await ctx.run.warn(missingMetricMessage(this.owner, this.monitor, logs), {
        callback: this.owner,
        monitor: this.monitor,
        available: Object.keys(logs),
      });
    }
    return undefined;
  }

  /**
   * True when `current` beats `reference` by more than `minDelta` in the monitor's direction.
   * A non-finite `current` is never an improvement; an undefined reference (no best yet) is
   * beaten by any finite value. `reference` defaults to `best`.
   */
  isImprovement(current: number, reference: number | undefined = this.best): boolean {
    return isBetter(current, reference, this.mode, this.minDelta);
  }

  /** Records `current` as best when it improves; returns whether it did. */
  update(current: number): boolean {
    if (!this.isImprovement(current)) return false;
    this.best = current;
    return true;
  }

  /** Plain-JSON state for checkpoints. */
  getState(): MonitorState {
    return { best: this.best ?? null, warned: this.#warned };
  }

  /** Restores {@link getState}'s result. */
  setState(state: MonitorState): void {
    this.best = typeof state.best === "number" ? state.best : undefined;
    this.#warned = Boolean(state.warned);
  }
}

/**
 * True when `current` beats `reference` by more than `minDelta` (absolute) in direction `mode`.
 * Non-finite `current` never does; an undefined `reference` is beaten by any finite value.
 */
export function isBetter(
  current: number,
  reference: number | undefined,
  mode: "min" | "max",
  minDelta = 0,
): boolean {
  return isImprovement(current, reference, mode, minDelta);
}

/** The missing-metric warning text. */
export function missingMetricMessage(owner: string, monitor: string, logs: Logs): string {
  const keys = Object.keys(logs);
  return `${owner}: monitored metric "${monitor}" is not in the logs, so no action was taken. ` +
    `Available keys: ${keys.length ? keys.join(", ") : "(none)"}. ` +
    `Check the monitor name (validation metrics are "val_"-prefixed).`;
}

export { checkCount, checkOption } from "../core/experiment/options.ts";

/** Reads a plain-JSON state object, throwing a clear error when it is not one. */
export function stateObject(owner: string, state: unknown): Record<string, unknown> {
  if (typeof state !== "object" || state === null || Array.isArray(state)) {
    throw new Error(`${owner}: setState expects the object returned by getState.`);
  }
  return state as Record<string, unknown>;
}
