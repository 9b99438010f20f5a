/**
 * TerminateOnNaN: stops training when a batch loss is NaN or infinite.
 *
 * @module
 */
import type { Callback, TrainContext } from "../core/train/callback.ts";
import type { Logs } from "../core/train/logs.ts";

/** Options of {@link TerminateOnNaN}. */
export interface TerminateOnNaNOptions {
  /** The batch logs key to check. Default `loss`. */
  monitor?: string;
  /** Callback name. Default `TerminateOnNaN`. */
  name?: string;
}

/**
 * Stops training (after the current epoch, as every stop does here) the first time a batch's
 * loss is NaN or ±Infinity, with the reason stored in run.json and a `nan_loss` event holding
 * the epoch, batch and value (as text: JSON has no NaN).
 *
 * @example
 * ```ts
 * import { TerminateOnNaN } from "./terminate_on_nan.ts";
 * const cb = new TerminateOnNaN();
 * ```
 */
export class TerminateOnNaN implements Callback {
  readonly name: string;
  /** The resolved `monitor` option. */
  readonly monitor: string;
  /** Where the first bad loss was seen, if any. */
  found: { epoch: number; batch: number; value: number } | undefined;

  /** Creates the callback. */
  constructor(options: TerminateOnNaNOptions = {}) {
    this.name = options.name ?? "TerminateOnNaN";
    this.monitor = options.monitor ?? "loss";
  }

  /** A new `train()` call starts watching again. */
  onTrainBegin(): void {
    this.found = undefined;
  }

  /** Checks the batch loss. */
  async onBatchEnd(batch: number, logs: Logs, ctx: TrainContext): Promise<void> {
    const value = logs[this.monitor];
    if (this.found || typeof value !== "number" || Number.isFinite(value)) return;
    this.found = { epoch: ctx.epoch, batch, value };
    const text = String(value);
    const reason = `${this.name}: batch ${batch + 1} of epoch ${ctx.epoch + 1} had ` +
      `${this.monitor} ${text}; training diverged (try a lower learning rate).`;
    ctx.stopTraining(reason, { immediate: true });
    await ctx.run.event("nan_loss", {
      callback: this.name,
      batch,
      monitor: this.monitor,
      value: text,
      reason,
    });
  }
}
