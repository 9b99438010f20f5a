/** Backend selection: explicit choices, fallbacks with a warning, bad names rejected. */
import * as tf from "@tensorflow/tfjs-core";
import assert from "node:assert/strict";
import { nativeAvailable } from "../core/backend/native/ffi.ts";
import { type BackendName, initBackend } from "../core/backend/select.ts";
import { resolveThreads, THREADS_ENV } from "../core/backend/wasm/threads.ts";
import { classifyAdapter, isResolvable, probeGpu } from "../core/backend/probe.ts";

Deno.test("initBackend('cpu') selects cpu", async () => {
  const lines: string[] = [];
  const choice = await initBackend("cpu", { log: (l) => lines.push(l) });
  assert.equal(choice.name, "cpu");
  assert.equal(tf.getBackend(), "cpu");
  assert.deepEqual(lines, []);
});

Deno.test("initBackend('wasm') selects wasm and reports threads", async () => {
  const choice = await initBackend("wasm", { log: () => {} });
  assert.equal(choice.name, "wasm");
  assert.equal(tf.getBackend(), "wasm");
  // Default: every logical core (or CONVDECK_THREADS), multithreaded when more than one.
  assert.equal(choice.threads, resolveThreads());
});

Deno.test("resolveThreads: option > CONVDECK_THREADS > logical cores; bad values named", () => {
  const saved = Deno.env.get(THREADS_ENV);
  try {
    Deno.env.delete(THREADS_ENV);
    assert.equal(resolveThreads(), navigator.hardwareConcurrency);
    Deno.env.set(THREADS_ENV, "3");
    assert.equal(resolveThreads(), 3);
    assert.equal(resolveThreads(1), 1);
    Deno.env.set(THREADS_ENV, "two");
    assert.throws(() => resolveThreads(), /CONVDECK_THREADS=two.*positive integer/);
    assert.throws(() => resolveThreads(0), /threads option.*positive integer/);
  } finally {
    if (saved === undefined) Deno.env.delete(THREADS_ENV);
    else Deno.env.set(THREADS_ENV, saved);
  }
});

Deno.test("initBackend('tensorflow') falls back with a one-line warning", async () => {
  const lines: string[] = [];
  const choice = await initBackend("tensorflow", { log: (l) => lines.push(l) });
  assert.notEqual(choice.name, "tensorflow");
  assert.equal(tf.getBackend(), choice.name);
  assert.equal(lines.length, 1);
  assert.match(lines[0], /tensorflow/);
  assert(!lines[0].includes("\n"));
});

Deno.test("initBackend rejects an unknown name and names the choices", async () => {
  await assert.rejects(
    () => initBackend("tpu" as BackendName),
    /unknown backend 'tpu'.*auto, tensorflow-gpu, tensorflow, webgpu, native, wasm, cpu/,
  );
});

Deno.test("initBackend('auto') skips software WebGPU adapters and uninstalled tfjs-node", async () => {
  const lines: string[] = [];
  const gpu = await probeGpu();
  const choice = await initBackend("auto", { log: (l) => lines.push(l) });
  assert.match(choice.reason, /^auto: /);
  assert.match(choice.reason, /tfjs-node.* not installed|tensorflow/);
  if (!gpu.real) {
    // Without a real GPU: native (oneDNN) when its library loads, else wasm.
    assert.equal(choice.name, nativeAvailable().ok ? "native" : "wasm");
    assert.match(choice.reason, /webgpu: /);
  }
  assert.equal(tf.getBackend(), choice.name);
});

Deno.test("classifyAdapter tells real GPUs from fallback and software adapters", () => {
  assert.equal(classifyAdapter(undefined).real, false);
  assert.equal(
    classifyAdapter({ description: "llvmpipe (LLVM 15.0.6, 256 bits)", isFallbackAdapter: true })
      .real,
    false,
  );
  assert.equal(classifyAdapter({ description: "SwiftShader Device" }).real, false);
  assert.equal(classifyAdapter({ description: "NVIDIA GeForce RTX 4090" }, true).real, false);
  const real = classifyAdapter({
    description: "NVIDIA GeForce RTX 4090",
    isFallbackAdapter: false,
  });
  assert.deepEqual(real, { real: true, description: "NVIDIA GeForce RTX 4090" });
});

Deno.test("isResolvable: import-map entries yes, absent packages no", () => {
  assert.equal(isResolvable("@tensorflow/tfjs-core"), true);
  assert.equal(isResolvable("@tensorflow/definitely-not-installed"), false);
});
