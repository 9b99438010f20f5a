// The single-threaded wasm module (what `native` starts, and `--threads 1`): convdeck's SIMD
// helpers bind to its plain (not shared) memory, and the training gradients still match cpu.
// A file of its own: only the first wasm start in a process picks the module.
import * as tf from "@tensorflow/tfjs-core";
import assert from "node:assert/strict";
import "@tensorflow/tfjs-backend-cpu";
import { initBackend } from "../core/backend/select.ts";
import { simdKernels } from "../core/backend/wasm/simd.ts";
import type { WasmBackend } from "../core/backend/wasm/heap.ts";
import { RELU_GRAD } from "../core/backend/relu_grad.ts";
import { maxAbsDiff, runOn, seededRandom } from "./backend_util.ts";

Deno.test("single-threaded wasm: the SIMD helpers use its plain memory and match cpu", async () => {
  const choice = await initBackend("wasm", { threads: 1 });
  assert.equal(choice.name, "wasm");
  const backend = tf.backend() as unknown as WasmBackend;
  assert(!(backend.wasm.HEAPU8.buffer instanceof SharedArrayBuffer), "memory is not shared");
  assert(simdKernels(backend) !== undefined, "the SIMD module bound to the plain memory");
  const before = tf.memory().numTensors;
  const x = seededRandom(2 * 9 * 9 * 6, 1), dy = seededRandom(2 * 9 * 9 * 5, 2);
  const f = seededRandom(3 * 3 * 6 * 5, 3);
  const attrs = { strides: [1, 1], pad: "same", dataFormat: "NHWC" };
  const cases: [string, () => tf.Tensor, (() => tf.Tensor)?][] = [
    ["filter gradient", () =>
      tf.engine().runKernel("Conv2DBackpropFilter", {
        x: tf.tensor4d(x, [2, 9, 9, 6]),
        dy: tf.tensor4d(dy, [2, 9, 9, 5]),
      }, { ...attrs, filterShape: [3, 3, 6, 5] }) as tf.Tensor],
    ["input gradient", () =>
      tf.engine().runKernel("Conv2DBackpropInput", {
        dy: tf.tensor4d(dy, [2, 9, 9, 5]),
        filter: tf.tensor4d(f, [3, 3, 6, 5]),
      }, { ...attrs, inputShape: [2, 9, 9, 6] }) as tf.Tensor],
    [
      "max-pool gradient",
      () =>
        tf.grad((t: tf.Tensor) => tf.sum(tf.mul(tf.maxPool(t as tf.Tensor4D, 2, 2, "valid"), 3)))(
          tf.tensor4d(x, [2, 9, 9, 6]),
        ),
    ],
    ["bias sum", () => tf.sum(tf.tensor4d(dy, [2, 9, 9, 5]), [0, 1, 2])],
    [
      "ReLU gradient",
      () =>
        tf.engine().runKernel(RELU_GRAD, {
          dy: tf.tensor1d(dy),
          y: tf.tensor1d(x.slice(0, dy.length)),
        }) as tf.Tensor, // its definition, on cpu: dy where y > 0, else 0
      () => tf.mul(tf.tensor1d(dy), tf.step(tf.tensor1d(x.slice(0, dy.length)))),
    ],
  ];
  for (const [label, fn, reference] of cases) {
    const got = await runOn("wasm", fn);
    const want = await runOn("cpu", reference ?? fn);
    assert.deepEqual(got.shape, want.shape, label);
    const { diff, scale } = maxAbsDiff(got.values, want.values);
    assert(diff <= 1e-5 * Math.max(1, scale), `${label}: off by ${diff} (scale ${scale})`);
  }
  await tf.setBackend("wasm");
  assert.equal(tf.memory().numTensors, before, "leaked tensors");
});
