/**
 * Per-kernel profile of one training step of the book's model (tf.profile), to see what
 * dominates: `deno run -A tests/bench/native_profile.ts [size=64] [batch=32] [backend=native]`.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs-core";
import "@tensorflow/tfjs-backend-wasm";
import { trainStep } from "../../core/train_step.ts";
import { registerNativeBackend } from "../../core/backend/native/register.ts";
import { bookConvnet } from "../../core/models/book_convnet.ts";

/** Milliseconds and calls per kernel name over one profiled training step, slowest first. */
export async function profileStep(
  size: number,
  batch: number,
): Promise<{ stepMs: number; kernels: [string, number, number][] }> {
  const model = bookConvnet([size, size, 3], 20, { seed: 1 });
  const opt = tf.train.adam(1e-3);
  const x = tf.randomUniform([batch, size, size, 3], 0, 1, "float32", 1);
  const labels = tf.tensor1d(Array.from({ length: batch }, (_, i) => i % 20), "int32");
  for (let i = 0; i < 2; i++) await trainStep(model, opt, x, labels, 20);
  const t = performance.now();
  await trainStep(model, opt, x, labels, 20);
  const stepMs = performance.now() - t;
  const agg = new Map<string, [number, number]>();
  const info = await tf.profile(async () => {
    await trainStep(model, opt, x, labels, 20);
  });
  for (const k of info.kernels) {
    const a = agg.get(k.name) ?? [0, 0];
    a[0] += k.kernelTimeMs as number;
    a[1]++;
    agg.set(k.name, a);
  }
  x.dispose();
  labels.dispose();
  opt.dispose();
  model.dispose();
  const kernels = [...agg].map(([n, [ms, c]]) => [n, ms, c] as [string, number, number]);
  return { stepMs, kernels: kernels.sort((p, q) => q[1] - p[1]) };
}

if (import.meta.main) {
  const [size = "64", batch = "32", backend = "native"] = Deno.args;
  if (backend === "native") await registerNativeBackend();
  await tf.setBackend(backend);
  const { stepMs, kernels } = await profileStep(Number(size), Number(batch));
  console.log(`${backend} ${size}x${size} batch ${batch}: step ${stepMs.toFixed(0)} ms`);
  for (const [n, ms, c] of kernels.slice(0, 20)) {
    console.log(`${n.padEnd(24)} ${ms.toFixed(1).padStart(8)} ms ${String(c).padStart(4)} calls`);
  }
}
