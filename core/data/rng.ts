/**
 * Small seeded random helpers for the data pipeline: a fast PRNG, a seed mixer (so that the
 * randomness of example `i` depends only on `(seed, i)`), and a seeded shuffle.
 *
 * @module
 */
import { mulberry32 } from "../random.ts";

/**
 * Mixes two integers into a well-spread 32-bit seed (a murmur3-style finaliser). Used to derive
 * the random stream of example `index` from a run's seed, independently of every other example.
 *
 * @example
 * ```ts
 * import { mixSeeds, seededRandom } from "./rng.ts";
 * const rand = seededRandom(mixSeeds(42, 7)); // same numbers for (42, 7), always
 * rand();
 * ```
 */
export function mixSeeds(a: number, b: number): number {
  let h = Math.imul((a | 0) ^ 0x9e3779b9, 0x85ebca6b) ^ Math.imul((b | 0) + 0x632be5ab, 0xc2b2ae35);
  h ^= h >>> 16;
  h = Math.imul(h, 0x7feb352d);
  h ^= h >>> 15;
  h = Math.imul(h, 0x846ca68b);
  h ^= h >>> 16;
  return h >>> 0;
}

/** A mulberry32 generator: returns a function giving floats in [0, 1), fully determined by `seed`. */
export const seededRandom: (seed: number) => () => number = mulberry32;

/** Shuffles `items` in place (Fisher-Yates) with the generator `rand`, and returns it. */
export function shuffleInPlace<T>(items: T[], rand: () => number): T[] {
  for (let i = items.length - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    const tmp = items[i];
    items[i] = items[j];
    items[j] = tmp;
  }
  return items;
}

/**
 * Splits example positions `0..labels.length-1` into a kept part and a held-out part, per class
 * (stratified) and seeded: `round(n * fraction)` of each class's `n` examples are held out, at
 * least one when the class has two or more examples and `fraction > 0`. Both parts are sorted.
 *
 * @example
 * ```ts
 * import { stratifiedHoldout } from "./rng.ts";
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
    const members = shuffleInPlace(byClass.get(cls)!, seededRandom(mixSeeds(seed, cls)));
    let take = Math.round(members.length * fraction);
    if (fraction > 0 && take === 0 && members.length >= 2) take = 1;
    heldOut.push(...members.slice(0, take));
    kept.push(...members.slice(take));
  }
  const byNumber = (a: number, b: number) => a - b;
  return { kept: kept.sort(byNumber), heldOut: heldOut.sort(byNumber) };
}
