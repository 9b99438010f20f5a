/**
 * Helpers shared by the backend tests: seeded random data and running the same computation on
 * two backends.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs-core";

/** Deterministic uniform floats in [-1, 1) (mulberry32). */
export function seededRandom(n: number, seed: number): Float32Array {
  const out = new Float32Array(n);
  let a = seed >>> 0;
  for (let i = 0; i < n; i++) {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    out[i] = (((t ^ (t >>> 14)) >>> 0) / 4294967296) * 2 - 1;
  }
  return out;
}

/** Runs `fn` with `backend` active and returns the values of its result tensor. */
export async function runOn(
  backend: string,
  fn: () => tf.Tensor,
): Promise<{ shape: number[]; values: Float32Array }> {
  await tf.setBackend(backend);
  const t = tf.tidy(fn);
  const values = (await t.data()) as Float32Array;
  const shape = t.shape;
  t.dispose();
  return { shape, values: Float32Array.from(values) };
}

/** Largest absolute difference, and the largest absolute value of `b`. */
export function maxAbsDiff(a: Float32Array, b: Float32Array): { diff: number; scale: number } {
  if (a.length !== b.length) throw new Error(`length ${a.length} != ${b.length}`);
  let diff = 0, scale = 0;
  for (let i = 0; i < a.length; i++) {
    diff = Math.max(diff, Math.abs(a[i] - b[i]));
    scale = Math.max(scale, Math.abs(b[i]));
  }
  return { diff, scale };
}

/** A batch whose class is encoded by which colour channel is brightest: learnable quickly. */
export function colourBatch(n: number, size: number, numClasses: number, seed: number) {
  const noise = seededRandom(n * size * size * 3, seed);
  const labels = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    labels[i] = i % numClasses;
    const ch = labels[i] % 3;
    for (let p = 0; p < size * size; p++) noise[(i * size * size + p) * 3 + ch] += 1.5;
  }
  return { x: tf.tensor4d(noise, [n, size, size, 3]), y: tf.tensor1d(labels, "int32") };
}
