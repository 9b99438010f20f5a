/**
 * The one seeded-random module: deterministic tools (no global state), so shuffling,
 * augmentation, sweeps and weight initialisation are reproducible from a seed and from a
 * resume point. Two seed mixers, both kept so that existing runs' streams do not change:
 * {@linkcode hashInts} (epochs' shuffles, synthetic data, sweeps) and {@linkcode mixSeeds}
 * (per-example augmentation and hold-out splits); one generator ({@linkcode mulberry32}) and
 * one Fisher-Yates ({@linkcode shuffleInPlace}).
 *
 * @module
 */

/**
 * Mixes two integers into a well-spread 32-bit seed (a murmur3-style finaliser). Used to derive
 * the random stream of example `index` from a run's seed, independently of every other example.
 *
 * @example
 * ```ts
 * import { mixSeeds, mulberry32 } from "./random.ts";
 * const rand = mulberry32(mixSeeds(42, 7)); // same numbers for (42, 7), always
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

/** Mixes integers into one 32-bit hash (deterministic, well distributed). */
export function hashInts(...values: number[]): number {
  let h = 0x811c9dc5 | 0;
  for (const v of values) {
    h = Math.imul(h ^ (v | 0), 0x01000193);
    h = Math.imul(h ^ ((v / 0x100000000) | 0), 0x01000193);
    h ^= h >>> 13;
    h = Math.imul(h, 0x5bd1e995);
    h ^= h >>> 15;
  }
  return h >>> 0;
}

/**
 * A mulberry32 generator returning floats in [0, 1).
 *
 * @example
 * ```ts
 * import { mulberry32 } from "./random.ts";
 * const rand = mulberry32(42);
 * const x = rand(); // same sequence for the same seed
 * ```
 */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A permutation of `0..n-1` from a seed (Fisher-Yates). */
export function permutation(n: number, seed: number): Int32Array {
  const out = new Int32Array(n);
  for (let i = 0; i < n; i++) out[i] = i;
  return shuffleInPlace(out, mulberry32(seed));
}

/**
 * Shuffles `items` in place (Fisher-Yates, from the end) with the generator `rand`, and
 * returns it.
 *
 * @example
 * ```ts
 * import { mulberry32, shuffleInPlace } from "./random.ts";
 * shuffleInPlace([1, 2, 3, 4], mulberry32(1)); // the same order for the same seed
 * ```
 */
export function shuffleInPlace<A extends { [i: number]: unknown; length: number }>(
  items: A,
  rand: () => number,
): A {
  for (let i = items.length - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    const tmp = items[i];
    items[i] = items[j];
    items[j] = tmp;
  }
  return items;
}

/**
 * Runs `fn` with `Math.random` replaced by a seeded generator. tfjs draws its default random
 * seeds (weight initialisers, dropout) from `Math.random`, so building a model inside this
 * makes its initial weights a function of `seed`.
 */
export function withSeededMathRandom<T>(seed: number, fn: () => T): T {
  const original = Math.random;
  Math.random = mulberry32(seed);
  try {
    return fn();
  } finally {
    Math.random = original;
  }
}
