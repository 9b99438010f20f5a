/**
 * The `native` backend's wiring: availability reasons, sharing the wasm module with the `wasm`
 * backend (both usable in one process, tensors moving between them), kernel copying, and the
 * thread setting.
 */
import * as tf from "@tensorflow/tfjs-core";
import assert from "node:assert";
import { findDnnl } from "../core/backend/native/library.ts";
import {
  nativeThreads,
  setNativeThreads,
  syncNativeKernels,
} from "../core/backend/native/register.ts";
import { NATIVE_KERNEL_NAMES } from "../core/backend/native/kernels.ts";
import { ADAM_KERNEL } from "../core/backend/fused_adam.ts";
import { registerWasmTrainingKernels } from "../core/backend/wasm/register.ts";
import { ensureNative, NATIVE, seededBatch, seededConvnet } from "./native_helpers.ts";
import { kernelCounts } from "../core/backend/native/kernels.ts";
import {
  installSharedSavedTensors,
  sharedSavedTensors,
  uninstallSharedSavedTensors,
} from "../core/backend/native/saved_tensors.ts";

Deno.test("findDnnl names CONVDECK_DNNL and the fix when it points nowhere", () => {
  const old = Deno.env.get("CONVDECK_DNNL");
  Deno.env.set("CONVDECK_DNNL", "/nonexistent/libdnnl.so.2");
  try {
    const r = findDnnl();
    assert.strictEqual(typeof r, "string");
    assert.match(r as string, /CONVDECK_DNNL=\/nonexistent\/libdnnl\.so\.2 does not name a file/);
  } finally {
    if (old === undefined) Deno.env.delete("CONVDECK_DNNL");
    else Deno.env.set("CONVDECK_DNNL", old);
  }
});

Deno.test({
  name: "nativeAvailable reports the oneDNN version when ok",
  ignore: !NATIVE.ok,
  fn: () => {
    assert.match(NATIVE.reason, /^oneDNN 2\.\d+\.\d+ \(/);
  },
});

Deno.test({
  name: "native and wasm share one module: both work in one process, tensors move between them",
  ignore: !NATIVE.ok,
  fn: async () => {
    await ensureNative();
    await tf.setBackend("wasm");
    const a = tf.tensor2d([[1, 2], [3, 4]]);
    const onWasm = Array.from(await tf.exp(a).data());
    await tf.setBackend("native");
    const b = tf.tensor2d([[5, 6], [7, 8]]);
    const prod = tf.matMul(a, b); // a moves from wasm to native
    assert.deepStrictEqual(Array.from(await prod.data()), [19, 22, 43, 50]);
    const onNative = Array.from(await tf.exp(a).data()); // a wasm kernel run on native
    assert.deepStrictEqual(onNative, onWasm);
    await tf.setBackend("wasm");
    // wasm kernels still call into the right heap after native set them up
    const expB = Array.from(await tf.exp(b).data());
    [5, 6, 7, 8].forEach((v, i) => assert.ok(Math.abs(expB[i] / Math.exp(v) - 1) < 1e-6));
    const sum = tf.add(prod, b); // prod moves back to wasm
    assert.deepStrictEqual(Array.from(await sum.data()), [24, 28, 50, 58]);
    [a, b, prod, sum].forEach((t) => t.dispose());
  },
});

Deno.test({
  name: "every wasm kernel is available on native; later wasm registrations are picked up",
  ignore: !NATIVE.ok,
  fn: async () => {
    await ensureNative();
    // As initBackend does: convdeck's wasm training kernels (among them a fused Adam) too.
    registerWasmTrainingKernels();
    syncNativeKernels();
    const native = new Set(tf.getKernelsForBackend("native").map((k) => k.kernelName));
    for (const k of tf.getKernelsForBackend("wasm")) {
      assert.ok(native.has(k.kernelName), `${k.kernelName} missing on native`);
    }
    for (const name of NATIVE_KERNEL_NAMES) assert.ok(native.has(name), name);
    // Kernels both backends have under one name keep native's own (the fused Adam on the shim's
    // multi-threaded loop, not wasm's single-threaded one).
    for (const name of [...NATIVE_KERNEL_NAMES, ADAM_KERNEL]) {
      const wasm = tf.getKernel(name, "wasm");
      if (wasm) {
        assert.notStrictEqual(tf.getKernel(name, "native")?.kernelFunc, wasm.kernelFunc, name);
      }
    }
    assert.ok(tf.getKernel(ADAM_KERNEL, "wasm"), "the wasm backend has a fused Adam too");
    const out = { dataId: {}, shape: [], dtype: "float32" as const };
    const kernelFunc = () => out;
    tf.registerKernel({ kernelName: "ConvdeckTestOp", backendName: "wasm", kernelFunc });
    try {
      assert.strictEqual(syncNativeKernels(), 1);
      // The copy runs wasm's kernel (behind the expansion of packed bf16 inputs).
      const copy = tf.getKernel("ConvdeckTestOp", "native")?.kernelFunc;
      const args = { inputs: {}, backend: tf.findBackend("native")!, attrs: {} };
      assert.strictEqual(copy?.(args as Parameters<tf.KernelFunc>[0]), out);
      assert.strictEqual(syncNativeKernels(), 0);
    } finally {
      tf.unregisterKernel("ConvdeckTestOp", "wasm");
      tf.unregisterKernel("ConvdeckTestOp", "native");
    }
  },
});

Deno.test({
  name: "native threads default to all cores and can be changed",
  ignore: !NATIVE.ok,
  fn: async () => {
    await ensureNative();
    const all = navigator.hardwareConcurrency;
    if (!Deno.env.get("CONVDECK_NATIVE_THREADS")) assert.strictEqual(nativeThreads(), all);
    assert.strictEqual(setNativeThreads(1), 1);
    assert.strictEqual(nativeThreads(), 1);
    assert.throws(() => setNativeThreads(0), /positive integer/);
    setNativeThreads(all);
  },
});

Deno.test({
  name: "saved tensors share their data on native: the same gradients as tfjs's clones, fewer " +
    "kernel calls, nothing left",
  ignore: !NATIVE.ok,
  fn: async () => {
    await ensureNative();
    await tf.setBackend("native");
    const m = seededConvnet(8, [{ filters: 8, poolAfter: true }], "flatten", 4);
    const { x, labels } = seededBatch(2, 3, 8, 4);
    const grads = () => {
      const identity = kernelCounts["Identity"]?.native ?? 0;
      const before = tf.memory();
      const { value, grads } = tf.variableGrads(() => tf.sum(tf.square(m.apply(x) as tf.Tensor)));
      const out = [value, ...m.trainableWeights.map((w) => grads[w.originalName])].map((t) =>
        t.dataSync().slice()
      );
      tf.dispose([value, ...Object.values(grads)]);
      const after = tf.memory();
      assert.strictEqual(after.numTensors, before.numTensors, "tensors left");
      assert.strictEqual(after.numDataBuffers, before.numDataBuffers, "data left");
      return { out, identity: (kernelCounts["Identity"]?.native ?? 0) - identity };
    };
    try {
      const n0 = sharedSavedTensors();
      const mine = grads();
      assert(sharedSavedTensors() > n0, "no saved tensor was shared");
      uninstallSharedSavedTensors();
      const n1 = sharedSavedTensors();
      const tfjs = grads();
      assert.strictEqual(sharedSavedTensors(), n1, "shared after uninstalling");
      assert.deepStrictEqual(mine.out, tfjs.out, "other gradients");
      assert(
        mine.identity < tfjs.identity,
        `Identity calls: ${mine.identity} shared, ${tfjs.identity} cloned`,
      );
    } finally {
      installSharedSavedTensors("native");
      tf.dispose([x, labels]);
      m.dispose();
    }
  },
});
