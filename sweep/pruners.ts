/**
 * Pruning decisions as pure functions of metric histories, so they can be tested on scripted
 * numbers: after each epoch a trial asks {@linkcode decidePrune} with its own values of the
 * sweep metric (one per finished epoch) and those of the other trials (whatever epochs they
 * have finished, pruned trials included). Directions and "better" come from
 * `core/metric_direction.ts`.
 *
 * - **median** (the median stopping rule, as Vizier and Optuna's MedianPruner): after the
 *   warm-up, a trial whose best value up to epoch e is worse than the median of the other
 *   trials' best values up to e is pruned, once at least `minTrials` others have reached e.
 * - **asha** (asynchronous successive halving, Li et al. 2018): rungs at epochs
 *   `minEpochs * reductionFactor^k`; at a rung, a trial continues only when its best value so
 *   far is among the best `max(1, floor(n / reductionFactor))` of the n trials that reached
 *   that rung (itself included). Early trials are judged against the few that are there, as in
 *   Optuna's SuccessiveHalvingPruner (trials are never paused and resumed later).
 *
 * A NaN value is never better than anything, so a diverged trial is pruned as soon as the rule
 * has others to compare with.
 *
 * @example
 * ```ts
 * import { decidePrune } from "./pruners.ts";
 * const d = decidePrune(
 *   { type: "median", warmupEpochs: 1, minTrials: 2 },
 *   "max",
 *   [0.2, 0.3],
 *   [[0.5, 0.6], [0.4, 0.7], [0.1]],
 * );
 * d.prune; // true: best 0.3 after 2 epochs is below the others' median 0.65
 * ```
 *
 * @module
 */
import { isImprovement } from "../core/metric_direction.ts";
import type { AshaPrunerSpec, MedianPrunerSpec, PrunerSpec } from "./spec.ts";

/** What a pruner decided after an epoch. */
export interface PruneDecision {
  /** Stop the trial now. */
  readonly prune: boolean;
  /** Why (also when not pruning, for logs), e.g. `val_acc best 0.31 < median 0.52 at epoch 2`. */
  readonly reason: string;
}

/**
 * The best of the first `epochs` values (NaN when none is finite).
 *
 * @example
 * ```ts
 * import { bestUpTo } from "./pruners.ts";
 * bestUpTo([0.5, 0.3, 0.4], 2, "min"); // 0.3
 * ```
 */
export function bestUpTo(values: readonly number[], epochs: number, dir: "min" | "max"): number {
  let best = NaN;
  for (const v of values.slice(0, epochs)) if (isImprovement(v, best, dir)) best = v;
  return best;
}

/** The median of finite-or-NaN values, NaN counted as the worst. */
function median(values: number[], dir: "min" | "max"): number {
  const s = sortBestFirst(values, dir);
  const m = s.length >> 1;
  if (s.length % 2 === 1) return s[m];
  const a = s[m - 1], b = s[m];
  return Number.isFinite(a) && Number.isFinite(b) ? (a + b) / 2 : NaN;
}

/** Best first; NaN last. */
function sortBestFirst(values: readonly number[], dir: "min" | "max"): number[] {
  return [...values].sort((a, b) => {
    const an = !Number.isFinite(a), bn = !Number.isFinite(b);
    if (an || bn) return an === bn ? 0 : an ? 1 : -1;
    return dir === "min" ? a - b : b - a;
  });
}

const fmt = (v: number) => Number.isFinite(v) ? Number(v.toPrecision(4)).toString() : String(v);

/**
 * The median stopping rule (see the module doc).
 *
 * @example
 * ```ts
 * import { medianRule } from "./pruners.ts";
 * const cfg = { type: "median", warmupEpochs: 1, minTrials: 2 } as const;
 * medianRule(cfg, "min", [1.0, 0.9], [[0.8, 0.6], [0.9, 0.7]]).prune; // true: 0.9 > median 0.65
 * ```
 */
export function medianRule(
  cfg: MedianPrunerSpec,
  dir: "min" | "max",
  own: readonly number[],
  others: readonly (readonly number[])[],
): PruneDecision {
  const e = own.length;
  if (e <= cfg.warmupEpochs) return { prune: false, reason: `warm-up (epoch ${e})` };
  const peers = others.filter((o) => o.length >= e).map((o) => bestUpTo(o, e, dir));
  if (peers.length < cfg.minTrials) {
    return {
      prune: false,
      reason: `${peers.length} other trial(s) reached epoch ${e}, the rule needs ${cfg.minTrials}`,
    };
  }
  const mine = bestUpTo(own, e, dir);
  const med = median(peers, dir);
  const worse = isImprovement(med, mine, dir);
  return {
    prune: worse,
    reason: `best ${fmt(mine)} up to epoch ${e} is ${worse ? "worse than" : "no worse than"} ` +
      `the median ${fmt(med)} of ${peers.length} other trial(s) (median rule)`,
  };
}

/**
 * The epochs at which ASHA judges: minEpochs * factor^k.
 *
 * @example
 * ```ts
 * import { ashaRungs } from "./pruners.ts";
 * ashaRungs({ type: "asha", minEpochs: 1, reductionFactor: 3 }, 10); // [1, 3, 9]
 * ```
 */
export function ashaRungs(cfg: AshaPrunerSpec, upTo: number): number[] {
  const out: number[] = [];
  for (let r = cfg.minEpochs; r <= upTo; r *= cfg.reductionFactor) out.push(r);
  return out;
}

/**
 * Asynchronous successive halving (see the module doc).
 *
 * @example
 * ```ts
 * import { ashaRule } from "./pruners.ts";
 * const cfg = { type: "asha", minEpochs: 1, reductionFactor: 2 } as const;
 * ashaRule(cfg, "max", [0.3], [[0.5], [0.6], [0.2]]).prune; // true: not in the top 2 of 4
 * ```
 */
export function ashaRule(
  cfg: AshaPrunerSpec,
  dir: "min" | "max",
  own: readonly number[],
  others: readonly (readonly number[])[],
): PruneDecision {
  const e = own.length;
  if (!ashaRungs(cfg, e).includes(e)) return { prune: false, reason: `epoch ${e} is no rung` };
  const mine = bestUpTo(own, e, dir);
  const competing = [mine, ...others.filter((o) => o.length >= e).map((o) => bestUpTo(o, e, dir))];
  const keep = Math.max(1, Math.floor(competing.length / cfg.reductionFactor));
  const cutoff = sortBestFirst(competing, dir)[keep - 1];
  // Promoted when at least as good as the keep-th best (ties promote).
  const promoted = Number.isFinite(mine) && !isImprovement(cutoff, mine, dir);
  return {
    prune: !promoted,
    reason: `best ${fmt(mine)} at rung ${e} is ${promoted ? "among" : "not among"} the top ` +
      `${keep} of ${competing.length} trial(s) there (cutoff ${fmt(cutoff)}; ASHA, factor ` +
      `${cfg.reductionFactor})`,
  };
}

/**
 * Applies the spec's pruner; see {@linkcode medianRule} and {@linkcode ashaRule}. Given the
 * trial's planned epoch count, never prunes at (or after) its final epoch.
 *
 * @example
 * ```ts
 * import { decidePrune } from "./pruners.ts";
 * const d = decidePrune({ type: "asha", minEpochs: 1, reductionFactor: 2 }, "max", [0.9], [[0.5]]);
 * console.log(d.prune, d.reason); // false, "... among the top 1 of 2 ..."
 * ```
 */
export function decidePrune(
  pruner: PrunerSpec,
  dir: "min" | "max",
  own: readonly number[],
  others: readonly (readonly number[])[],
  plannedEpochs?: number,
): PruneDecision {
  // A trial that has trained its last epoch is finished: pruning it saves nothing and would
  // leave a complete trial out of the best.
  if (plannedEpochs !== undefined && own.length >= plannedEpochs) {
    return { prune: false, reason: `final epoch ${own.length} of ${plannedEpochs}` };
  }
  return pruner.type === "median"
    ? medianRule(pruner, dir, own, others)
    : ashaRule(pruner, dir, own, others);
}
