/**
 * Adam on a backend, for the fused-Adam tests of the native and wasm backends: trains fresh
 * variables and returns their values and the optimizer's moments.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs-core";
import type { Input } from "../native_helpers.ts";

/** Trains `vars` (fresh copies of `init`) with Adam on `backend` for `steps` steps of `grads`. */
export async function adamRun(
  backend: string,
  init: Input[],
  grads: Input[][],
  resumeAt?: number,
): Promise<{ values: Float32Array[]; moments: Float32Array[] }> {
  await tf.setBackend(backend);
  const vars = init.map((i, k) =>
    tf.tidy(() => tf.variable(tf.tensor(i.data, i.shape), true, `adam_t${k}`))
  );
  let opt = tf.train.adam(0.01, 0.9, 0.999, 1e-7);
  for (const [s, step] of grads.entries()) {
    if (s === resumeAt) {
      // What resume does: save the optimizer's weights, restore them into a new optimizer.
      const saved = await opt.getWeights();
      const copies = saved.map((w) => ({ name: w.name, tensor: tf.clone(w.tensor) }));
      saved[0].tensor.dispose(); // the iterations scalar is a fresh tensor
      opt.dispose();
      opt = tf.train.adam(0.01, 0.9, 0.999, 1e-7);
      await opt.setWeights(copies);
      copies.forEach((c) => c.tensor.dispose());
    }
    const g = step.map((i) => tf.tensor(i.data, i.shape));
    opt.applyGradients(vars.map((v, k) => ({ name: v.name, tensor: g[k] })));
    g.forEach((t) => t.dispose());
  }
  const values = await Promise.all(vars.map((v) => v.data() as Promise<Float32Array>));
  const weights = await opt.getWeights();
  const moments = await Promise.all(
    weights.slice(1).map((w) => w.tensor.data() as Promise<Float32Array>),
  );
  weights[0].tensor.dispose(); // the iterations scalar is a fresh tensor
  opt.dispose();
  vars.forEach((v) => v.dispose());
  return { values, moments };
}
