/**
 * A sweep at a glance: trials by state, the best finished trial, epochs trained and the
 * epochs pruning saved; and the one-line live summary the CLI prints.
 *
 * @example
 * ```ts ignore
 * import { formatSummary, summarize } from "./summary.ts";
 * console.log(formatSummary(summarize(record, states)));
 * // sweep default-1a2b3c4d: 4/6 done (3 completed, 1 pruned, 0 failed), 2 running | best val_acc 0.81 t002 {"width":16}
 * ```
 *
 * @module
 */
import { isImprovement } from "../core/metric_direction.ts";
import type { ParamValue } from "../core/experiment/params.ts";
import type { SweepRecord, TrialState, TrialStatus } from "./store.ts";

/** Counts, best trial and epochs of a sweep. */
export interface SweepSummary {
  /** The sweep id. */
  id: string;
  /** The metric and its direction. */
  metric: string;
  /** `min` or `max`. */
  direction: "min" | "max";
  /** Trials in each state. */
  counts: Record<TrialStatus, number>;
  /** All trials. */
  total: number;
  /** Finished trials (completed, pruned, failed). */
  done: number;
  /** The best completed trial (or, before any completes, the best pruned one). */
  best?: { key: string; value: number; params: Record<string, ParamValue>; runDir?: string };
  /** Epochs trained over all trials. */
  epochsTrained: number;
  /** Epochs the pruned trials did not train (planned minus trained). */
  epochsSavedByPruning: number;
}

/**
 * Summarises trial states.
 *
 * @example
 * ```ts ignore
 * import { summarize } from "./summary.ts";
 * const s = summarize(record, states);
 * console.log(s.counts.pruned, s.best?.key, s.epochsSavedByPruning);
 * ```
 */
export function summarize(record: SweepRecord, states: readonly TrialState[]): SweepSummary {
  const counts: Record<TrialStatus, number> = {
    pending: 0,
    running: 0,
    completed: 0,
    pruned: 0,
    failed: 0,
    stopped: 0,
  };
  const dir = record.spec.direction;
  let best: SweepSummary["best"];
  let bestPruned: SweepSummary["best"];
  let epochsTrained = 0;
  let saved = 0;
  for (const s of states) {
    counts[s.status]++;
    epochsTrained += s.epochs ?? 0;
    if (s.status === "pruned") {
      saved += Math.max(0, (record.plannedEpochs?.[s.index] ?? 0) - (s.epochs ?? 0));
    }
    if (s.value === undefined) continue;
    const entry = { key: s.key, value: s.value, params: s.params, runDir: s.runDir };
    if (s.status === "completed" && isImprovement(s.value, best?.value, dir)) best = entry;
    if (s.status === "pruned" && isImprovement(s.value, bestPruned?.value, dir)) {
      bestPruned = entry;
    }
  }
  best ??= bestPruned;
  return {
    id: record.id,
    metric: record.spec.metric,
    direction: dir,
    counts,
    total: states.length,
    done: counts.completed + counts.pruned + counts.failed,
    ...(best ? { best } : {}),
    epochsTrained,
    epochsSavedByPruning: saved,
  };
}

/**
 * One line: done/running/pruned/failed and the best so far.
 *
 * @example
 * ```ts ignore
 * import { formatSummary, summarize } from "./summary.ts";
 * console.error(formatSummary(summarize(record, states)));
 * ```
 */
export function formatSummary(s: SweepSummary): string {
  const c = s.counts;
  const waiting = c.pending + c.stopped;
  const best = s.best
    ? `best ${s.metric} ${Number(s.best.value.toPrecision(4))} (${s.best.key} ${
      JSON.stringify(s.best.params, (_k, v) => typeof v === "number" ? Number(v.toPrecision(4)) : v)
    })`
    : `no best ${s.metric} yet`;
  return `sweep ${s.id}: ${s.done}/${s.total} done (${c.completed} completed, ${c.pruned} ` +
    `pruned, ${c.failed} failed), ${c.running} running, ${waiting} waiting | ${best}`;
}
