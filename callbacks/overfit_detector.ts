/**
 * OverfitDetector: notices when the model starts to memorise the training set.
 *
 * @module
 */
import type { Callback, TrainContext } from "../core/train/callback.ts";
import type { Logs } from "../core/train/logs.ts";
import {
  checkOption,
  isBetter,
  Monitor,
  type MonitorMode,
  type MonitorState,
  stateObject,
} from "./monitor.ts";

/** What the detector does when it flags overfitting. */
export type OverfitAction = "warn" | "stop";

/** Which rule flagged overfitting. */
export type OverfitRule = "val_rising" | "gap_widening";

/** Options of {@link OverfitDetector}. */
export interface OverfitDetectorOptions {
  /** Validation metric. Default `val_loss`. */
  monitor?: string;
  /** The matching training metric. Default `loss`. */
  trainMonitor?: string;
  /** Direction of both metrics (`auto` decides from `monitor`'s name). Default `auto`. */
  mode?: MonitorMode;
  /** Consecutive epochs a rule must hold before it flags. Default 3. */
  patience?: number;
  /** Absolute change below which a metric or the gap counts as unchanged. Default 0. */
  minDelta?: number;
  /** `warn` (default): a warning and an event; `stop`: also stop training. */
  action?: OverfitAction;
  /** Rules to apply. Default both. */
  rules?: readonly OverfitRule[];
  /** Callback name (must be unique in a run). Default `OverfitDetector`. */
  name?: string;
}

/** What was detected. */
export interface OverfitFinding {
  /** The rule that fired. */
  rule: OverfitRule;
  /** Epoch (0-based) at which it fired. */
  epoch: number;
  /** First epoch (0-based) of the window in which the rule held: where overfitting began. */
  onsetEpoch: number;
  /** Epoch (0-based) of the best validation value so far. */
  bestEpoch: number;
  /** Best validation value. */
  best: number;
  /** The window's validation values, training values and gaps, oldest first. */
  val: number[];
  /** Training values in the window. */
  train: number[];
  /** The resolved `gap` option. */
  gap: number[];
}

/** The plain-JSON state of {@link OverfitDetector} (see `getState`). */
export interface OverfitDetectorState {
  /** The monitor's state (best value, warning given). */
  monitor: MonitorState;
  /** Epoch of the best value. */
  bestEpoch: number | null;
  /** The last epochs' values. */
  window: { epoch: number; val: number; train: number }[];
  /** Consecutive epochs of the val_rising rule. */
  risingCount: number;
  /** Consecutive epochs of the gap_widening rule. */
  wideningCount: number;
  /** The finding, once flagged. */
  finding: OverfitFinding | null;
}

/**
 * Flags overfitting once per run, by two rules over a `patience`-epoch window:
 * - `val_rising`: the validation metric is worse than its best while the training metric keeps
 *   improving epoch over epoch (by more than `minDelta`), `patience` epochs in a row;
 * - `gap_widening`: the generalisation gap (validation worse than training) is positive and
 *   grows by more than `minDelta` every epoch, `patience` epochs in a row. This fires earlier
 *   than `val_rising` (often while validation still improves slowly): an early warning.
 *
 * It records the best epoch, logs an `overfitting_detected` event with the epoch, onset
 * epoch, best epoch and the window's values, warns, and with `action: "stop"` stops training.
 * Epochs where either metric is missing or not finite are skipped (missing: one warning).
 *
 * @example
 * ```ts
 * import { OverfitDetector } from "./overfit_detector.ts";
 * const cb = new OverfitDetector({ patience: 3, action: "warn" });
 * ```
 */
export class OverfitDetector implements Callback {
  readonly name: string;
  /** The training metric compared with `monitor`. */
  readonly trainMonitor: string;
  /** The resolved `patience` option. */
  readonly patience: number;
  /** What happens when overfitting is flagged. */
  readonly action: OverfitAction;
  /** Rules applied. */
  readonly rules: readonly OverfitRule[];
  /** Tracks the best validation value. */
  readonly monitor: Monitor;
  /** Epoch of the best validation value. */
  bestEpoch: number | undefined;
  /** The finding, once flagged. */
  finding: OverfitFinding | undefined;
  #window: { epoch: number; val: number; train: number }[] = [];
  #risingCount = 0;
  #wideningCount = 0;
  #trainWarned = false;

  /** Validates options. */
  constructor(options: OverfitDetectorOptions = {}) {
    this.name = options.name ?? "OverfitDetector";
    this.monitor = new Monitor({
      monitor: options.monitor ?? "val_loss",
      mode: options.mode,
      minDelta: options.minDelta ?? 0,
      owner: this.name,
    });
    this.trainMonitor = options.trainMonitor ?? "loss";
    this.patience = checkOption(
      this.name,
      "patience",
      options.patience ?? 3,
      (v) => Number.isInteger(v) && v >= 1,
      "an integer >= 1",
    );
    const action = options.action ?? "warn";
    if (action !== "warn" && action !== "stop") {
      throw new Error(
        `${this.name}: action must be "warn" or "stop", got ${JSON.stringify(action)}.`,
      );
    }
    this.action = action;
    this.rules = options.rules ?? ["val_rising", "gap_widening"];
    for (const r of this.rules) {
      if (r !== "val_rising" && r !== "gap_widening") {
        throw new Error(
          `${this.name}: unknown rule ${JSON.stringify(r)}; use "val_rising" or "gap_widening".`,
        );
      }
    }
  }

  /** Gap in the "worse" direction: positive when validation is worse than training. */
  #gap(val: number, train: number): number {
    return this.monitor.mode === "min" ? val - train : train - val;
  }

  /** Updates the rules with this epoch's values and flags once. */
  async onEpochEnd(epoch: number, logs: Logs, ctx: TrainContext): Promise<void> {
    const val = await this.monitor.read(logs, ctx);
    const rawTrain = logs[this.trainMonitor];
    if (typeof rawTrain !== "number" && !this.#trainWarned) {
      this.#trainWarned = true;
      await ctx.run.warn(
        `${this.name}: training metric "${this.trainMonitor}" is not in the logs, so no action ` +
          `was taken. Available keys: ${Object.keys(logs).join(", ") || "(none)"}.`,
        { callback: this.name, monitor: this.trainMonitor, available: Object.keys(logs) },
      );
    }
    if (val === undefined || typeof rawTrain !== "number") return;
    if (!Number.isFinite(val) || !Number.isFinite(rawTrain)) return;
    const train = rawTrain;
    const mode = this.monitor.mode;
    const d = this.monitor.minDelta;
    const prev = this.#window.at(-1);

    const improved = this.monitor.update(val);
    if (improved) this.bestEpoch = epoch;
    const trainImproving = prev !== undefined && isBetter(train, prev.train, mode, d);
    const valWorseThanBest = !improved && this.monitor.best !== undefined &&
      isBetter(this.monitor.best, val, mode, 0);
    this.#risingCount = valWorseThanBest && trainImproving ? this.#risingCount + 1 : 0;

    const gap = this.#gap(val, train);
    const widening = prev !== undefined && gap > 0 && gap > this.#gap(prev.val, prev.train) + d;
    this.#wideningCount = widening ? this.#wideningCount + 1 : 0;

    this.#window.push({ epoch, val, train });
    if (this.#window.length > this.patience + 1) this.#window.shift();
    if (this.finding) return;

    const rule: OverfitRule | undefined =
      this.rules.includes("val_rising") && this.#risingCount >= this.patience
        ? "val_rising"
        : this.rules.includes("gap_widening") && this.#wideningCount >= this.patience
        ? "gap_widening"
        : undefined;
    if (!rule) return;
    const win = this.#window.slice(-this.patience);
    this.finding = {
      rule,
      epoch,
      onsetEpoch: win[0].epoch,
      bestEpoch: this.bestEpoch ?? epoch,
      best: this.monitor.best ?? val,
      val: win.map((w) => w.val),
      train: win.map((w) => w.train),
      gap: win.map((w) => this.#gap(w.val, w.train)),
    };
    const f = this.finding;
    const what = rule === "val_rising"
      ? `${this.monitor.monitor} has been worse than its best for ${this.patience} epochs while ` +
        `${this.trainMonitor} kept improving`
      : `the gap between ${this.monitor.monitor} and ${this.trainMonitor} widened for ` +
        `${this.patience} epochs in a row`;
    const message = `${this.name}: overfitting from epoch ${f.onsetEpoch + 1}: ${what} ` +
      `(best ${this.monitor.monitor} ${f.best} at epoch ${f.bestEpoch + 1}).`;
    await ctx.run.event("overfitting_detected", {
      callback: this.name,
      ...f,
      monitor: this.monitor.monitor,
      trainMonitor: this.trainMonitor,
      action: this.action,
      message,
    });
    await ctx.run.warn(message, { callback: this.name });
    if (this.action === "stop") ctx.stopTraining(message);
  }

  /** Plain-JSON state (best, window, counters, finding). */
  getState(): OverfitDetectorState {
    return {
      monitor: this.monitor.getState(),
      bestEpoch: this.bestEpoch ?? null,
      window: this.#window.map((w) => ({ ...w })),
      risingCount: this.#risingCount,
      wideningCount: this.#wideningCount,
      finding: this.finding ? structuredClone(this.finding) : null,
    };
  }

  /** Restores {@link getState}'s result. */
  setState(state: unknown): void {
    const s = stateObject(this.name, state) as unknown as OverfitDetectorState;
    this.monitor.setState(s.monitor);
    this.bestEpoch = typeof s.bestEpoch === "number" ? s.bestEpoch : undefined;
    this.#window = Array.isArray(s.window) ? s.window.map((w) => ({ ...w })) : [];
    this.#risingCount = Number(s.risingCount) || 0;
    this.#wideningCount = Number(s.wideningCount) || 0;
    this.finding = s.finding ? structuredClone(s.finding) : undefined;
  }
}
