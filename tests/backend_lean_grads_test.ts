/**
 * The memory-lean replacements: wasm Identity shares memory, the Relu gradient (saving the
 * output) and the Add gradient (saving nothing) give tfjs's results, with broadcasting too.
 */
import * as tf from "@tensorflow/tfjs-core";
import "@tensorflow/tfjs-layers";
import assert from "node:assert/strict";
import { initBackend } from "../core/backend/select.ts";
import { runOn, seededRandom } from "./backend_util.ts";
import type { WasmBackend } from "../core/backend/wasm/heap.ts";

await initBackend("wasm", { log: () => {} });

Deno.test("wasm Identity shares memory and frees it with the last reference", () => {
  const backend = tf.backend() as unknown as WasmBackend;
  const a = tf.tensor1d([1, 2, 3]);
  const b = tf.clone(a);
  assert.equal(
    backend.dataIdMap.get(a.dataId).memoryOffset,
    backend.dataIdMap.get(b.dataId).memoryOffset,
  );
  a.dispose();
  assert.deepEqual(Array.from(b.dataSync()), [1, 2, 3]);
  b.dispose();
  assert.equal(backend.refCount(b.dataId), 0);
});

/** Gradients of sum(r * f(a, b)) for random r, as flat arrays. */
function gradsOf(f: (a: tf.Tensor, b: tf.Tensor) => tf.Tensor, aShape: number[], bShape: number[]) {
  return () => {
    const a = tf.tensor(seededRandom(aShape.reduce((x, y) => x * y, 1), 1), aShape);
    const b = tf.tensor(seededRandom(bShape.reduce((x, y) => x * y, 1), 2), bShape);
    const out = f(a, b);
    const r = tf.tensor(seededRandom(out.size, 3), out.shape);
    const [ga, gb] = tf.grads((x: tf.Tensor, y: tf.Tensor) => tf.sum(tf.mul(r, f(x, y))))([a, b]);
    return tf.concat([tf.reshape(ga, [-1]), tf.reshape(gb, [-1])]);
  };
}

Deno.test("lean Add and Relu gradients match tfjs's on cpu (reference) and wasm", async () => {
  const cases: [string, (a: tf.Tensor, b: tf.Tensor) => tf.Tensor, number[], number[]][] = [
    ["relu(a + b), bias broadcast", (a, b) => tf.relu(tf.add(a, b)), [2, 3, 4], [4]],
    ["a + b, a broadcast", (a, b) => tf.add(a, b), [1, 4], [3, 4]],
    ["a + b, both broadcast", (a, b) => tf.add(a, b), [3, 1], [1, 4]],
    ["relu(a) * b", (a, b) => tf.mul(tf.relu(a), b), [5, 2], [5, 2]],
  ];
  for (const [name, f, aShape, bShape] of cases) {
    // initBackend replaced tfjs's gradients globally, so the reference is numerical.
    const got = await runOn("wasm", gradsOf(f, aShape, bShape));
    const cpu = await runOn("cpu", gradsOf(f, aShape, bShape));
    const ref = await runOn("cpu", () =>
      tf.tidy(() => {
        // Numerical gradient by central differences on cpu.
        const a = seededRandom(aShape.reduce((x, y) => x * y, 1), 1);
        const b = seededRandom(bShape.reduce((x, y) => x * y, 1), 2);
        const probe = f(tf.tensor(a, aShape), tf.tensor(b, bShape));
        const r = tf.tensor(seededRandom(probe.size, 3), probe.shape);
        const loss = (av: Float32Array, bv: Float32Array) =>
          tf.sum(tf.mul(r, f(tf.tensor(av, aShape), tf.tensor(bv, bShape)))).dataSync()[0];
        const eps = 1e-2;
        const grad: number[] = [];
        for (const [v, other, first] of [[a, b, true], [b, a, false]] as const) {
          for (let i = 0; i < v.length; i++) {
            const plus = Float32Array.from(v), minus = Float32Array.from(v);
            plus[i] += eps;
            minus[i] -= eps;
            const lp = first ? loss(plus, other) : loss(other, plus);
            const lm = first ? loss(minus, other) : loss(other, minus);
            grad.push((lp - lm) / (2 * eps));
          }
        }
        return tf.tensor1d(grad);
      }));
    for (const [i, v] of got.values.entries()) {
      assert(Math.abs(v - cpu.values[i]) < 1e-6, `${name}: wasm ${v} vs cpu ${cpu.values[i]}`);
      assert(
        Math.abs(v - ref.values[i]) < 2e-3,
        `${name}: grad ${v} vs numerical ${ref.values[i]}`,
      );
    }
  }
  await tf.setBackend("wasm");
});
