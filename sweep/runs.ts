/**
 * A sweep's trials as runs: a trial's run carries `sweep: { id, trial }` in run.json's config;
 * these helpers find them in a runs folder and read a metric's history through the `core/run`
 * readers. Light (no tfjs, no queue), so the dashboard can use them.
 *
 * @example
 * ```ts ignore
 * import { metricHistory, sweepRuns } from "./runs.ts";
 * for (const [key, run] of await sweepRuns("runs", "lr-1a2b3c4d")) {
 *   console.log(key, run.info.status, await metricHistory(run.dir, "val_acc"));
 * }
 * ```
 *
 * @module
 */
import { isImprovement } from "../core/metric_direction.ts";
import type { RunInfo } from "../core/run/format.ts";
import { listRuns, readMetrics } from "../core/run/reader.ts";

/**
 * The `sweep` tag of a run, when it is a trial.
 *
 * @example
 * ```ts ignore
 * import { sweepTag } from "./trial.ts";
 * import { readRunInfo } from "../core/run/reader.ts";
 * sweepTag(await readRunInfo("runs/default-20261201-101010")); // { id: "lr-1a2b3c4d", trial: "t003" }
 * ```
 */
export function sweepTag(info: RunInfo | null): { id: string; trial: string } | undefined {
  const s = info?.config?.sweep as { id?: unknown; trial?: unknown } | undefined;
  return typeof s?.id === "string" && typeof s.trial === "string"
    ? { id: s.id, trial: s.trial }
    : undefined;
}

/**
 * The runs of a sweep's trials in `runsDir`, by trial key (the newest run if there were two).
 *
 * @example
 * ```ts ignore
 * import { sweepRuns } from "./trial.ts";
 * for (const [key, run] of await sweepRuns("runs", "lr-1a2b3c4d")) console.log(key, run.info.status);
 * ```
 */
export async function sweepRuns(
  runsDir: string,
  sweepId: string,
): Promise<Map<string, { dir: string; info: RunInfo }>> {
  const out = new Map<string, { dir: string; info: RunInfo }>();
  for (const r of await listRuns(runsDir)) {
    const tag = sweepTag(r.info);
    if (tag?.id === sweepId && r.info && !out.has(tag.trial)) {
      out.set(tag.trial, { dir: r.dir, info: r.info });
    }
  }
  return out;
}

/**
 * The sweep metric per finished epoch of a run (NaN where an epoch lacks it).
 *
 * @example
 * ```ts ignore
 * import { metricHistory } from "./trial.ts";
 * await metricHistory("runs/default-20261201-101010", "val_acc"); // [0.31, 0.45, ...] one per epoch
 * ```
 */
export async function metricHistory(runDir: string, metric: string): Promise<number[]> {
  const values: number[] = [];
  let offset = 0;
  for (;;) {
    const r = await readMetrics(runDir, { sinceOffset: offset });
    for (const rec of r.records) {
      if (rec.batch !== undefined) continue;
      const v = rec[metric];
      values[rec.epoch] = typeof v === "number" ? v : NaN;
    }
    offset = r.offset;
    if (!r.more) break;
  }
  return Array.from(values, (v) => v ?? NaN);
}

/**
 * The best of `values` in `direction` (undefined when none is finite).
 *
 * @example
 * ```ts
 * import { bestValue } from "./trial.ts";
 * bestValue([0.3, NaN, 0.5], "max"); // 0.5
 * ```
 */
export function bestValue(values: readonly number[], dir: "min" | "max"): number | undefined {
  let best: number | undefined;
  for (const v of values) if (isImprovement(v, best, dir)) best = v;
  return best;
}
