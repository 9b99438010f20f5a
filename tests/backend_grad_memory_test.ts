/**
 * The gradient memory saver frees intermediate gradients during backprop: same gradients,
 * lower peak of live tensor bytes.
 */
import * as tf from "@tensorflow/tfjs-core";
import "@tensorflow/tfjs-layers";
import assert from "node:assert/strict";
import { initBackend } from "../core/backend/select.ts";
import { enableGradientMemorySaver } from "../core/backend/grad_memory.ts";
import { bookConvnet } from "../core/models/book_convnet.ts";
import { colourBatch } from "./backend_util.ts";
import { crossEntropy } from "../core/train/train_step.ts";

/** Gradients of the book model's loss, and the peak live bytes seen after any kernel. */
async function gradsAndPeak(): Promise<{ grads: Float32Array[]; peak: number }> {
  const model = bookConvnet([64, 64, 3], 3, { seed: 3 });
  const { x, y } = colourBatch(4, 64, 3, 9);
  let peak = 0;
  const restore: (() => void)[] = [];
  for (const config of tf.getKernelsForBackend(tf.getBackend())) {
    const original = config.kernelFunc;
    const mutable = config as { kernelFunc: tf.KernelFunc };
    mutable.kernelFunc = (args) => {
      const out = original(args);
      peak = Math.max(peak, tf.memory().numBytes);
      return out;
    };
    restore.push(() => mutable.kernelFunc = original);
  }
  try {
    const vars = model.trainableWeights.map((w) => w.read() as tf.Variable);
    const { value, grads } = tf.variableGrads(
      () => crossEntropy(model.apply(x, { training: true }) as tf.Tensor, y, 3),
      vars,
    );
    const values = await Promise.all(
      vars.map((v) => grads[v.name].data() as Promise<Float32Array>),
    );
    value.dispose();
    tf.dispose(Object.values(grads));
    return { grads: values, peak };
  } finally {
    restore.forEach((f) => f());
    x.dispose();
    y.dispose();
    model.dispose();
  }
}

Deno.test("gradient memory saver: same gradients, lower peak memory", async () => {
  // Measured without the saver first: initBackend turns it on for good.
  await initBackend("wasm", { log: () => {}, saveGradientMemory: false });
  const before = tf.memory().numTensors;
  const plain = await gradsAndPeak();
  assert(enableGradientMemorySaver() > 50, "expected tfjs-layers' gradients to be registered");
  await initBackend("wasm", { log: () => {} });
  const saved = await gradsAndPeak();
  assert.equal(tf.memory().numTensors, before, "leaked tensors");
  for (const [i, g] of saved.grads.entries()) assert.deepEqual(g, plain.grads[i]);
  console.log(
    `  peak live tensor bytes: ${(plain.peak / 2 ** 20).toFixed(1)} MiB without the saver, ` +
      `${(saved.peak / 2 ** 20).toFixed(1)} MiB with it`,
  );
  assert(saved.peak < 0.75 * plain.peak, `peak ${saved.peak} not below 0.75 * ${plain.peak}`);
});
