/**
 * What run.json keeps of each epoch record: the `best` value of every metric with a known
 * direction (asking `core/metric_direction.ts`, with the run's own declared directions) and
 * every numeric value of the `last` record. Shared by the trainer's writer and the tracking
 * client.
 *
 * @example
 * ```ts
 * import { summarizeEpoch } from "./epoch_summary.ts";
 * const { best } = summarizeEpoch({}, { epoch: 0, step: 10, time: 0, loss: 0.5, f1: 0.7 }, {
 *   f1: "max",
 * });
 * console.log(best.f1); // { value: 0.7, epoch: 0 }
 * ```
 *
 * @module
 */
import { isImprovement, metricDirection, type MetricDirections } from "../metric_direction.ts";
import type { MetricsRecord, RunInfo } from "./format.ts";

const POSITION_KEYS = new Set(["epoch", "step", "time", "batch"]);

/** The `best` and `last` of run.json after `record` (an epoch record) was written. */
export function summarizeEpoch(
  info: Pick<RunInfo, "best">,
  record: MetricsRecord,
  declared?: MetricDirections,
): { best: NonNullable<RunInfo["best"]>; last: Record<string, number> } {
  const best = { ...(info.best ?? {}) };
  const last: Record<string, number> = {};
  for (const [k, v] of Object.entries(record)) {
    if (typeof v !== "number" || POSITION_KEYS.has(k)) continue;
    last[k] = v;
    const dir = metricDirection(k, declared);
    if (dir !== undefined && isImprovement(v, best[k]?.value, dir)) {
      best[k] = { value: v, epoch: record.epoch };
    }
  }
  return { best, last };
}
