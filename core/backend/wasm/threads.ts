/**
 * Multithreaded tfjs-backend-wasm under Deno. tfjs turns wasm threads off when it believes it
 * runs in Node (Deno exposes `process`), and its thread setup does not work in Deno as shipped:
 * Deno refuses the `blob:` URL tfjs gives the pthread worker, the worker assigns the read-only
 * `location`, and loads the main script from a blob. This module writes a patched copy of the
 * worker (and of the main script it loads) to a temporary folder, points tfjs at it while the
 * backend initialises, and lifts tfjs's cap of (logical cores / 2) threads.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs-core";
import { setThreadsCount } from "@tensorflow/tfjs-backend-wasm";
import { wasmWorkerContents } from "@tensorflow/tfjs-backend-wasm/wasm-out/tfjs-backend-wasm-threaded-simd.worker.js";
import wasmFactoryThreadedSimd from "@tensorflow/tfjs-backend-wasm/wasm-out/tfjs-backend-wasm-threaded-simd.js";
import os from "node:os";

/** Environment variable that sets the default number of wasm threads. */
export const THREADS_ENV = "CONVDECK_THREADS";

/**
 * Threads to use: `requested` if given, else `CONVDECK_THREADS`, else every logical core.
 * Throws a clear error on a value that is not a positive integer.
 */
export function resolveThreads(requested?: number): number {
  let value: number | undefined = requested;
  let source = "threads option";
  if (value === undefined) {
    const env = Deno.env.get(THREADS_ENV);
    if (env !== undefined && env !== "") {
      value = Number(env);
      source = `${THREADS_ENV}=${env}`;
    }
  }
  if (value === undefined) return Math.max(1, navigator.hardwareConcurrency || 1);
  if (!Number.isInteger(value) || value < 1) {
    throw new Error(`invalid thread count from ${source}: use a positive integer such as 2`);
  }
  return value;
}

/** Writes the patched pthread worker and its main script; returns the worker's path. */
function writeWorkerFiles(): string {
  const dir = Deno.makeTempDirSync({ prefix: "convdeck-wasm-" });
  const mainPath = `${dir}/tfjs-backend-wasm-threaded-simd.js`;
  Deno.writeTextFileSync(
    mainPath,
    "var WasmBackendModuleThreadedSimd = " + String(wasmFactoryThreadedSimd),
  );
  // tfjs escapes newlines the same way before making its blob.
  let worker = String(wasmWorkerContents).replace(/\n/g, "\\n");
  const patches: [RegExp | string, string][] = [
    ["location:{href:__filename},", ""],
    [
      /if\(typeof e\.data\.urlOrBlob=="string"\)\{importScripts\(e\.data\.urlOrBlob\)\}else\{[^}]*\}/,
      `importScripts(${JSON.stringify(mainPath)});`,
    ],
  ];
  for (const [from, to] of patches) {
    const next = worker.replace(from, to);
    if (next === worker) {
      throw new Error(`tfjs-backend-wasm worker changed: patch '${String(from)}' did not apply`);
    }
    worker = next;
  }
  const workerPath = `${dir}/tfjs-backend-wasm-threaded-simd.worker.cjs`;
  Deno.writeTextFileSync(workerPath, worker);
  return workerPath;
}

/**
 * Runs `init` (which must initialise the wasm backend, e.g. `tf.setBackend("wasm")`) so that
 * the backend computes with `threads` threads. With `threads === 1` it runs the single-threaded
 * SIMD module. Only the first initialisation of the wasm backend in a process takes effect.
 */
export async function withWasmThreads<T>(threads: number, init: () => Promise<T>): Promise<T> {
  if (threads <= 1) {
    tf.env().set("WASM_HAS_MULTITHREAD_SUPPORT", false);
    setThreadsCount(1);
    return await init();
  }
  const workerPath = writeWorkerFiles();
  const createObjectURL = URL.createObjectURL;
  const cpus = os.cpus;
  URL.createObjectURL = (obj: Blob) =>
    obj instanceof Blob && obj.type === "application/javascript"
      ? workerPath
      : createObjectURL(obj);
  // tfjs caps threads at logical cores / 2; report twice the threads wanted.
  (os as { cpus: () => os.CpuInfo[] }).cpus = () => {
    const real = cpus();
    return Array.from({ length: 2 * threads }, (_, i) => real[i % real.length]);
  };
  tf.env().set("WASM_HAS_MULTITHREAD_SUPPORT", true);
  setThreadsCount(threads);
  // The threaded build creates its shared memory itself and never exposes it; keep it, so that
  // convdeck's own SIMD module (./simd.ts) can import the same memory.
  const Memory = WebAssembly.Memory;
  const capturing = function (descriptor: WebAssembly.MemoryDescriptor) {
    const memory = new Memory(descriptor);
    if (descriptor.shared) sharedMemory = memory;
    return memory;
  } as unknown as typeof WebAssembly.Memory;
  capturing.prototype = Memory.prototype;
  WebAssembly.Memory = capturing;
  try {
    return await init();
  } finally {
    WebAssembly.Memory = Memory;
    URL.createObjectURL = createObjectURL;
    (os as { cpus: () => os.CpuInfo[] }).cpus = cpus;
  }
}

let sharedMemory: WebAssembly.Memory | undefined;

/**
 * The shared `WebAssembly.Memory` that the threaded wasm backend created while
 * {@linkcode withWasmThreads} initialised it, or undefined (single-threaded, or not yet
 * initialised). Check that it is the backend's heap before using it (./simd.ts does).
 *
 * @example
 * ```ts
 * import { threadedWasmMemory } from "./threads.ts";
 * console.log(threadedWasmMemory()?.buffer.byteLength);
 * ```
 */
export function threadedWasmMemory(): WebAssembly.Memory | undefined {
  return sharedMemory;
}
