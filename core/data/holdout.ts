/**
 * Seeded, stratified hold-out splits of a dataset's examples (a validation set carved out of
 * the training data), reproducible from the run's seed (random numbers from `core/random.ts`).
 *
 * @module
 */
import { mixSeeds, mulberry32, shuffleInPlace } from "../random.ts";

/**
 * Splits example positions `0..labels.length-1` into a kept part and a held-out part, per class
 * (stratified) and seeded: `round(n * fraction)` of each class's `n` examples are held out, at
 * least one when the class has two or more examples and `fraction > 0`. Both parts are sorted.
 *
 * @example
 * ```ts
 * import { stratifiedHoldout } from "./holdout.ts";
 * const { kept, heldOut } = stratifiedHoldout(new Int32Array([0, 0, 1, 1, 1]), 0.4, 1);
 * ```
 */
export function stratifiedHoldout(
  labels: ArrayLike<number>,
  fraction: number,
  seed: number,
): { kept: number[]; heldOut: number[] } {
  if (!(fraction >= 0 && fraction < 1)) {
    throw new RangeError(`validation fraction must be in [0, 1), got ${fraction}`);
  }
  const byClass = new Map<number, number[]>();
  for (let i = 0; i < labels.length; i++) {
    const list = byClass.get(labels[i]) ?? [];
    list.push(i);
    byClass.set(labels[i], list);
  }
  const kept: number[] = [];
  const heldOut: number[] = [];
  for (const cls of [...byClass.keys()].sort((a, b) => a - b)) {
    const members = shuffleInPlace(byClass.get(cls)!, mulberry32(mixSeeds(seed, cls)));
    let take = Math.round(members.length * fraction);
    if (fraction > 0 && take === 0 && members.length >= 2) take = 1;
    heldOut.push(...members.slice(0, take));
    kept.push(...members.slice(take));
  }
  const byNumber = (a: number, b: number) => a - b;
  return { kept: kept.sort(byNumber), heldOut: heldOut.sort(byNumber) };
}
