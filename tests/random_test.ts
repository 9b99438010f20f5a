/**
 * The one seeded-random module keeps every stream of the two it replaced (core/random.ts and
 * core/data/rng.ts): the numbers below were printed by the old modules, so a run resumed
 * after the merge shuffles, augments and splits exactly as before.
 */
import assert from "node:assert/strict";
import { hashInts, mixSeeds, mulberry32, permutation, shuffleInPlace } from "../core/random.ts";
import { stratifiedHoldout } from "../core/data/holdout.ts";

Deno.test("random: the epoch shuffle, both seed mixers and the hold-out split are unchanged", () => {
  assert.deepEqual(Array.from(permutation(12, hashInts(42, 3))), [
    0,
    2,
    10,
    9,
    4,
    1,
    8,
    6,
    11,
    5,
    7,
    3,
  ]);
  assert.deepEqual([mixSeeds(42, 7), mixSeeds(0, 0), hashInts(1, 2, 3)], [
    3035858295,
    2037038050,
    60634931,
  ]);
  assert.deepEqual(Array.from({ length: 3 }, mulberry32(mixSeeds(5, 9))), [
    0.4366881165187806,
    0.6203539874404669,
    0.999312701402232,
  ]);
  assert.deepEqual(stratifiedHoldout([0, 1, 0, 1, 0, 1, 2, 2, 2, 0], 0.3, 11), {
    kept: [1, 2, 3, 4, 6, 8, 9],
    heldOut: [0, 5, 7],
  });
  // One Fisher-Yates for arrays and typed arrays alike.
  const a = shuffleInPlace([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11], mulberry32(hashInts(42, 3)));
  assert.deepEqual(a, Array.from(permutation(12, hashInts(42, 3))));
});
