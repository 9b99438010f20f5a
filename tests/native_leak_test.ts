/**
 * No native objects leak: 1000 training steps keep the tensor count, the wasm heap, the
 * oneDNN primitive cache and the process's resident memory stable; the primitive cache stays
 * within its capacity however many shapes it sees. The primitive cache is one per process, so
 * `deno task test` runs this file on its own, after the parallel suite.
 */
import * as tf from "@tensorflow/tfjs-core";
import * as tfl from "@tensorflow/tfjs-layers";
import assert from "node:assert";
import { trainStep } from "../core/train/train_step.ts";
import { nativeCacheStats } from "../core/backend/native/register.ts";
import { ensureNative, NATIVE } from "./native_helpers.ts";

Deno.test({
  name: "native: 1000 training steps leak no tensors, heap, primitives or native memory",
  ignore: !NATIVE.ok,
  fn: async () => {
    await ensureNative();
    await tf.setBackend("native");
    const m = tfl.sequential();
    m.add(tfl.layers.conv2d({
      filters: 16,
      kernelSize: 3,
      activation: "relu",
      padding: "same",
      inputShape: [16, 16, 3],
    }));
    m.add(tfl.layers.maxPooling2d({ poolSize: 2 }));
    m.add(tfl.layers.flatten());
    m.add(tfl.layers.dense({ units: 4, activation: "softmax" }));
    const opt = tf.train.adam(1e-3);
    const x = tf.randomUniform([8, 16, 16, 3], 0, 1, "float32", 5);
    const y = tf.tensor1d([0, 1, 2, 3, 0, 1, 2, 3], "int32");
    const heap = () =>
      (tf.backend() as unknown as { wasm: { HEAPU8: Uint8Array } }).wasm.HEAPU8.length;
    for (let i = 0; i < 300; i++) await trainStep(m, opt, x, y, 4);
    const tensors = tf.memory().numTensors;
    const heap0 = heap();
    const cache0 = nativeCacheStats();
    const rss0 = Deno.memoryUsage().rss;
    for (let i = 0; i < 1000; i++) await trainStep(m, opt, x, y, 4);
    const cache1 = nativeCacheStats();
    const grew = (Deno.memoryUsage().rss - rss0) / 2 ** 20;
    console.log(
      `after 1000 steps: tensors ${tf.memory().numTensors} (was ${tensors}), wasm heap ` +
        `${heap()} (was ${heap0}), primitives ${cache1.entries} (created ${cache1.created}), ` +
        `live oneDNN memory objects ${cache1.liveObjects}, ` +
        `rss +${grew.toFixed(1)} MiB`,
    );
    assert.strictEqual(tf.memory().numTensors, tensors, "tensors leaked");
    assert.strictEqual(heap(), heap0, "wasm heap grew");
    assert.strictEqual(cache1.entries, cache0.entries, "primitive cache grew");
    assert.strictEqual(cache1.created, cache0.created, "primitives re-created (cache missed)");
    assert.strictEqual(cache1.liveObjects, 0, "oneDNN memory objects leaked");
    // Resident memory still warms up (V8 code, allocator) for ~1500 steps, then plateaus
    // (measured); this bound catches any per-step leak of 128 KiB or more.
    assert.ok(grew < 128, `resident memory grew ${grew.toFixed(1)} MiB over 1000 steps`);
    x.dispose();
    y.dispose();
    opt.dispose();
    m.dispose();
  },
});

Deno.test({
  name: "native: the primitive cache stays within its capacity (256) over 300 shapes",
  ignore: !NATIVE.ok,
  fn: async () => {
    await ensureNative();
    await tf.setBackend("native");
    const start = nativeCacheStats().created;
    const w = tf.ones([1, 1, 1, 1]) as tf.Tensor4D;
    for (let i = 1; i <= 300; i++) {
      tf.tidy(() => tf.conv2d(tf.ones([1, i, 1, 1]) as tf.Tensor4D, w, 1, "valid").dataSync());
    }
    w.dispose();
    const s = nativeCacheStats();
    assert.ok(s.created - start >= 300, `expected 300 new primitives, got ${s.created - start}`);
    assert.ok(s.entries <= 256, `cache holds ${s.entries} primitives, capacity 256`);
  },
});
