/**
 * Example callback plugin: stop training once a metric reaches a target (say 90% validation
 * accuracy), and log each new best as an event.
 *
 * ```sh
 * deno task train --callback './experiments/plugins/stop_at_target.ts {"target": 0.9}'
 * ```
 *
 * A plugin module's default export is a `Callback` object or, as here, a factory that takes
 * the JSON options given after the path. `getState`/`setState` make it survive `--resume`.
 *
 * @module
 */
import type { Callback, TrainContext } from "../../core/train/callback.ts";
import type { Logs } from "../../core/train/logs.ts";

/** Options (JSON after the plugin path). */
export interface StopAtTargetOptions {
  /** Metric to watch (higher is better). Default `val_acc`. */
  monitor?: string;
  /** Stop once the metric reaches this value. Default 0.95. */
  target?: number;
}

/** Builds the plugin's callback. */
export default function stopAtTarget(options: StopAtTargetOptions = {}): Callback {
  const monitor = options.monitor ?? "val_acc";
  const target = options.target ?? 0.95;
  if (typeof target !== "number" || !Number.isFinite(target)) {
    throw new Error(`"target" must be a number, got ${JSON.stringify(options.target)}`);
  }
  let best = -Infinity;
  return {
    name: "stop_at_target",
    async onEpochEnd(epoch: number, logs: Logs, ctx: TrainContext) {
      const value = logs[monitor];
      if (typeof value !== "number" || Number.isNaN(value)) return;
      if (value > best) {
        best = value;
        await ctx.run.event("new_best", { monitor, value });
      }
      if (value >= target) {
        ctx.stopTraining(
          `${monitor} reached ${value.toFixed(4)} >= ${target} at epoch ${epoch + 1}`,
        );
      }
    },
    getState: () => ({ best: Number.isFinite(best) ? best : null }),
    setState: (s) => {
      const v = (s as { best: number | null }).best;
      best = v === null ? -Infinity : v;
    },
  };
}
