/** The benchmark's building blocks: medians, overhead measurement, one tiny training case. */
import assert from "node:assert/strict";
import "@tensorflow/tfjs-layers";
import * as tf from "@tensorflow/tfjs-core";
import { initBackend } from "../core/backend/select.ts";
import { BENCH_PADDING, benchTrainCase, median } from "./bench/train_bench.ts";
import { measureOverhead } from "./bench/train_tracking.ts";
import { bookConvnet } from "../core/models/book_convnet.ts";

await initBackend("wasm", { log: () => {} });

Deno.test("median of odd and even lists", () => {
  assert.equal(median([3, 1, 2]), 2);
  assert.equal(median([4, 1, 3, 2]), 2.5);
});

Deno.test("the bench trains the book's convnet as printed, seeded: same padding, grey input", () => {
  assert.equal(BENCH_PADDING, "same");
  const a = bookConvnet([28, 28, 1], 20, { seed: 1, padding: BENCH_PADDING });
  const b = bookConvnet([28, 28, 1], 20, { seed: 1, padding: BENCH_PADDING });
  // Same parameters as at 3 channels less the first conv's 2 input channels (2 * 9 * 32).
  assert.equal(a.countParams(), 1_177_396 - 2 * 9 * 32);
  assert.deepEqual(a.layers[0].outputShape, [null, 28, 28, 32]);
  assert.equal(a.layers[a.layers.length - 1].getClassName(), "Activation");
  // Seeded: the same starting weights in every build.
  const wa = a.getWeights(), wb = b.getWeights();
  for (const [i, w] of wa.entries()) {
    assert.deepEqual(Array.from(w.dataSync()), Array.from(wb[i].dataSync()), `weight ${i}`);
  }
  a.dispose();
  b.dispose();
});

Deno.test("measureOverhead sees a 25% slower tracked epoch", async () => {
  const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
  const r = await measureOverhead((tracked) => sleep(tracked ? 250 : 200), 3);
  assert(r.overheadPct > 10 && r.overheadPct < 45, `overhead ${r.overheadPct}`);
});

Deno.test("benchTrainCase trains the book model on wasm and reports throughput", async () => {
  const before = tf.memory().numTensors;
  const r = await benchTrainCase({ size: 16, batch: 2, steps: 1, warmup: 1 }, {
    countKernels: true,
  });
  assert(r.imagesPerSec > 0 && Number.isFinite(r.imagesPerSec));
  assert(r.kernelCalls !== undefined && r.kernelCalls > 50, `kernel calls ${r.kernelCalls}`);
  assert(r.cpuMsPerStep > 0 && Number.isFinite(r.cpuMsPerStep), `cpu ms ${r.cpuMsPerStep}`);
  assert(r.wasmHeapBytes !== undefined && r.wasmHeapBytes > 0);
  assert.equal(tf.memory().numTensors, before, "benchTrainCase leaked tensors");
});
