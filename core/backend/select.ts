/**
 * Backend selection: initialises TensorFlow.js with the requested backend, falling back (with a
 * one-line warning, never a crash) to the next one that works.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs-core";
import "@tensorflow/tfjs-backend-cpu";
import "@tensorflow/tfjs-backend-wasm";
import { registerWasmTrainingKernels } from "./wasm/register.ts";
import { resolveThreads, withWasmThreads } from "./wasm/threads.ts";

/** Backends a user can ask for; `auto` picks the fastest that works here. */
export type BackendName = "auto" | "tensorflow-gpu" | "tensorflow" | "webgpu" | "wasm" | "cpu";

/** Every accepted {@linkcode BackendName}, for CLI validation. */
export const BACKEND_NAMES: readonly BackendName[] = [
  "auto",
  "tensorflow-gpu",
  "tensorflow",
  "webgpu",
  "wasm",
  "cpu",
];

/** The backend actually in use and why it was chosen. */
export interface BackendChoice {
  /** tfjs backend name (`tensorflow`, `webgpu`, `wasm` or `cpu`). */
  name: string;
  /** Human-readable reason, e.g. "requested" or "auto: no real GPU adapter (...)". */
  reason: string;
  /** Threads the backend computes with, when it says (wasm). */
  threads?: number;
}

/** Options of {@linkcode initBackend}. */
export interface InitBackendOptions {
  /** Threads for the wasm backend (default: all logical cores; env `CONVDECK_THREADS`). */
  threads?: number;
  /** Where warnings and the choice line go (default: `console.warn` for warnings only). */
  log?: (line: string) => void;
}

async function tryWasm(options: InitBackendOptions): Promise<{ threads: number }> {
  registerWasmTrainingKernels();
  const threads = resolveThreads(options.threads);
  const ok = await withWasmThreads(threads, () => tf.setBackend("wasm"));
  if (!ok) throw new Error("tf.setBackend('wasm') returned false");
  const wasm = await import("@tensorflow/tfjs-backend-wasm");
  return { threads: wasm.getThreadsCount() };
}

async function tryCpu(): Promise<void> {
  if (!(await tf.setBackend("cpu"))) throw new Error("tf.setBackend('cpu') returned false");
}

function message(e: unknown): string {
  return (e instanceof Error ? e.message : String(e)).split("\n")[0];
}

/**
 * Initialises tfjs with the requested backend and enables prod mode (no tfjs-node banner, no
 * per-op NaN checks). A backend that fails to initialise falls back to wasm, then cpu, with a
 * one-line warning through `options.log`.
 *
 * @example
 * ```ts
 * import { initBackend } from "./core/backend/select.ts";
 * const choice = await initBackend("auto", { log: console.log });
 * console.log(choice.name, choice.reason); // "wasm", "auto: ..."
 * ```
 */
export async function initBackend(
  requested: BackendName,
  options: InitBackendOptions = {},
): Promise<BackendChoice> {
  tf.enableProdMode();
  const log = options.log ?? ((line: string) => console.warn(line));
  if (!BACKEND_NAMES.includes(requested)) {
    throw new Error(
      `unknown backend '${requested}': use one of ${BACKEND_NAMES.join(", ")}`,
    );
  }
  let reason = requested === "auto" ? "auto" : "requested";
  if (requested !== "wasm" && requested !== "cpu") {
    log(`warning: backend '${requested}' is not available yet; falling back to wasm`);
    reason = `fallback from ${requested}`;
  }
  if (requested !== "cpu") {
    try {
      const { threads } = await tryWasm(options);
      return { name: "wasm", reason, threads };
    } catch (e) {
      log(`warning: backend 'wasm' failed to initialise (${message(e)}); falling back to cpu`);
      reason = `fallback from wasm: ${message(e)}`;
    }
  }
  await tryCpu();
  return { name: "cpu", reason };
}
