/**
 * Backend selection: initialises TensorFlow.js with the requested backend, falling back (with a
 * one-line warning, never a crash) to the next one that works.
 *
 * `auto` tries, in order: tfjs-node-gpu and tfjs-node (only when the package is in the import
 * map, so start-up is not slowed when it is not), WebGPU (only on a real GPU adapter, not a
 * fallback/software one), native (oneDNN through FFI, when the library loads), wasm
 * (multithreaded, with convdeck's training kernels), cpu.
 *
 * It also installs the training-memory savings (grad_memory.ts, relu_grad.ts, add_grad.ts) for
 * every backend unless `saveGradientMemory: false`.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs-core";
import "@tensorflow/tfjs-backend-cpu";
import "@tensorflow/tfjs-backend-wasm";
import { registerWasmTrainingKernels } from "./wasm/register.ts";
import { resolveThreads, withWasmThreads } from "./wasm/threads.ts";
import { isResolvable, probeGpu } from "./probe.ts";
import { nativeAvailable } from "./native/ffi.ts";
import {
  NATIVE_BACKEND,
  nativeBf16Support,
  nativeThreads,
  registerNativeBackend,
  setNativePrecision,
} from "./native/register.ts";
import { enableGradientMemorySaver } from "./grad_memory.ts";
import { registerReluGradient } from "./relu_grad.ts";
import { type Precision, PrecisionError, PRECISIONS, type ResolvedPrecision } from "./precision.ts";

/** Backends a user can ask for; `auto` picks the fastest that works here. */
export type BackendName =
  | "auto"
  | "tensorflow-gpu"
  | "tensorflow"
  | "webgpu"
  | "native"
  | "wasm"
  | "cpu";

/** Every accepted {@linkcode BackendName}, for CLI validation. */
export const BACKEND_NAMES: readonly BackendName[] = [
  "auto",
  "tensorflow-gpu",
  "tensorflow",
  "webgpu",
  "native",
  "wasm",
  "cpu",
];

/** The backend actually in use and why it was chosen. */
export interface BackendChoice {
  /** tfjs backend name (`tensorflow`, `webgpu`, `wasm` or `cpu`). */
  name: string;
  /** Human-readable reason, e.g. "requested" or "auto: webgpu skipped (fallback adapter ...)". */
  reason: string;
  /** Threads the backend computes with, when it says (wasm). */
  threads?: number;
  /** The compute precision in use (`bf16` only on `native`; see core/backend/precision.ts). */
  precision?: ResolvedPrecision;
  /** Why that precision (e.g. "requested", "auto: native bf16 (AVX-512 BF16)"). */
  precisionReason?: string;
}

/** Options of {@linkcode initBackend}. */
export interface InitBackendOptions {
  /** Threads for the wasm backend (default: env `CONVDECK_THREADS`, else all logical cores). */
  threads?: number;
  /** Where fallback warnings go (default `console.warn`). */
  log?: (line: string) => void;
  /**
   * Save training memory (default true): free intermediate gradients during backprop
   * (core/backend/grad_memory.ts) and use a Relu gradient that keeps the output instead of the
   * input (core/backend/relu_grad.ts). Together they roughly halve a convnet step's peak memory.
   */
  saveGradientMemory?: boolean;
  /**
   * Compute precision (default `fp32`): `bf16` mixed precision on the native backend, `auto`
   * for bf16 where the CPU has it natively. Applied to the backend chosen; `bf16` on another
   * backend or CPU is an error (see core/backend/precision.ts).
   */
  precision?: Precision;
}

/** npm packages providing the `tensorflow` backend, by requested name. */
export const NODE_PACKAGES = {
  "tensorflow-gpu": "@tensorflow/tfjs-node-gpu",
  "tensorflow": "@tensorflow/tfjs-node",
} as const;

type Concrete = Exclude<BackendName, "auto">;

async function initNode(name: "tensorflow-gpu" | "tensorflow"): Promise<BackendChoice> {
  const pkg = NODE_PACKAGES[name];
  if (!isResolvable(pkg)) {
    throw new Error(`${pkg} is not installed (add it to deno.json "imports"; see README)`);
  }
  const specifier: string = pkg; // a variable: never fetched unless this runs
  await import(specifier);
  if (!(await tf.setBackend("tensorflow"))) throw new Error("tf.setBackend('tensorflow') failed");
  return { name: "tensorflow", reason: "" };
}

async function initWebgpu(): Promise<BackendChoice> {
  if ((navigator as { gpu?: unknown }).gpu === undefined) {
    throw new Error("this runtime has no WebGPU (navigator.gpu)");
  }
  await import("@tensorflow/tfjs-backend-webgpu");
  if (!(await tf.setBackend("webgpu"))) throw new Error("tf.setBackend('webgpu') failed");
  return { name: "webgpu", reason: "" };
}

async function initWasm(options: InitBackendOptions): Promise<BackendChoice> {
  registerWasmTrainingKernels();
  const threads = resolveThreads(options.threads);
  const ok = await withWasmThreads(threads, () => tf.setBackend("wasm"));
  if (!ok) throw new Error("tf.setBackend('wasm') returned false");
  const wasm = await import("@tensorflow/tfjs-backend-wasm");
  return { name: "wasm", reason: "", threads: wasm.getThreadsCount() };
}

async function initNative(options: InitBackendOptions): Promise<BackendChoice> {
  const status = nativeAvailable();
  if (!status.ok) throw new Error(status.reason);
  // The native backend shares the wasm backend's module: start wasm (its kernels) first, with
  // one thread. On native only small ops run on wasm, and a threaded module's thread pool keeps
  // spinning after each of them, taking a core from oneDNN's threads: measured at 32x32 batch
  // 16, a step took 32-33 ms on the threaded module against 29-31 ms on the single-threaded
  // one. (When wasm was started earlier in the process with threads, its module stays.)
  await initWasm({ ...options, threads: 1 });
  await registerNativeBackend({ threads: options.threads });
  if (!(await tf.setBackend(NATIVE_BACKEND))) throw new Error("tf.setBackend('native') failed");
  return { name: NATIVE_BACKEND, reason: "", threads: nativeThreads() };
}

async function initCpu(): Promise<BackendChoice> {
  if (!(await tf.setBackend("cpu"))) throw new Error("tf.setBackend('cpu') returned false");
  return { name: "cpu", reason: "" };
}

function init(name: Concrete, options: InitBackendOptions): Promise<BackendChoice> {
  switch (name) {
    case "tensorflow-gpu":
    case "tensorflow":
      return initNode(name);
    case "webgpu":
      return initWebgpu();
    case "native":
      return initNative(options);
    case "wasm":
      return initWasm(options);
    case "cpu":
      return initCpu();
  }
}

/**
 * Sets the precision on the initialised backend `backend` (a tfjs backend name) and returns
 * the one in use with the reason. Throws, with the fix, for `bf16` on a backend other than
 * `native` or on a CPU without native bf16 (naming the instruction set it lacks).
 *
 * @example
 * ```ts
 * import { applyPrecision } from "./select.ts";
 * const { precision, reason } = applyPrecision("auto", "wasm");
 * console.log(precision, reason); // fp32 auto: bf16 runs on the native backend only
 * ```
 */
export function applyPrecision(
  requested: Precision,
  backend: string,
): { precision: ResolvedPrecision; reason: string } {
  if (!PRECISIONS.includes(requested)) {
    throw new PrecisionError(
      `--precision must be one of ${PRECISIONS.join(", ")}, got "${requested}"`,
    );
  }
  if (backend !== NATIVE_BACKEND) {
    if (requested === "bf16") {
      throw new PrecisionError(
        `--precision bf16 runs on the native (oneDNN) backend only; this process uses ` +
          `'${backend}' (use --backend native, or --precision auto / fp32)`,
      );
    }
    return {
      precision: "fp32",
      reason: requested === "auto" ? "auto: bf16 runs on the native backend only" : "requested",
    };
  }
  if (requested === "fp32") {
    setNativePrecision("fp32");
    return { precision: "fp32", reason: "requested" };
  }
  const support = nativeBf16Support();
  if (requested === "auto" && !support.ok) {
    setNativePrecision("fp32");
    return { precision: "fp32", reason: `auto: no native bf16 on this CPU (${support.isa})` };
  }
  try {
    setNativePrecision("bf16");
  } catch (e) {
    throw new PrecisionError((e as Error).message); // names the missing instruction set
  }
  return {
    precision: "bf16",
    reason: requested === "auto" ? `auto: native bf16 (${support.isa})` : "requested",
  };
}

function message(e: unknown): string {
  return (e instanceof Error ? e.message : String(e)).split("\n")[0];
}

/** The order `auto` tries, with the reason each earlier candidate was skipped. */
async function autoCandidates(): Promise<{ order: Concrete[]; skipped: string[] }> {
  const order: Concrete[] = [];
  const skipped: string[] = [];
  for (const name of ["tensorflow-gpu", "tensorflow"] as const) {
    if (isResolvable(NODE_PACKAGES[name])) order.push(name);
    else skipped.push(`${name}: ${NODE_PACKAGES[name]} not installed`);
  }
  const gpu = await probeGpu();
  if (gpu.real) order.push("webgpu");
  else skipped.push(`webgpu: ${gpu.why}`);
  const native = nativeAvailable();
  if (native.ok) order.push("native");
  else skipped.push(`native: ${native.reason}`);
  order.push("wasm", "cpu");
  return { order, skipped };
}

/**
 * Initialises tfjs with the requested backend and enables prod mode (no tfjs-node banner, no
 * per-op NaN checks). A backend that fails to initialise falls back to the next one (`auto`'s
 * order, then wasm, then cpu) with a one-line warning through `options.log`. Throws only on an
 * unknown name or when even `cpu` fails.
 *
 * @example
 * ```ts
 * import { initBackend } from "./select.ts";
 * const choice = await initBackend("auto");
 * console.log(`backend: ${choice.name} (${choice.reason})`); // backend: wasm (auto: ...)
 * ```
 */
export async function initBackend(
  requested: BackendName,
  options: InitBackendOptions = {},
): Promise<BackendChoice> {
  if (!BACKEND_NAMES.includes(requested)) {
    throw new Error(`unknown backend '${requested}': use one of ${BACKEND_NAMES.join(", ")}`);
  }
  tf.enableProdMode();
  if (options.saveGradientMemory !== false) {
    registerReluGradient();
    enableGradientMemorySaver();
  }
  const log = options.log ?? ((line: string) => console.warn(line));
  let order: Concrete[];
  const notes: string[] = [];
  if (requested === "auto") {
    const auto = await autoCandidates();
    order = auto.order;
    notes.push(...auto.skipped);
  } else {
    order = [requested, ...(["wasm", "cpu"] as const).filter((n) => n !== requested)];
  }
  for (const [i, name] of order.entries()) {
    try {
      const choice = await init(name, options);
      const why = requested === "auto"
        ? `auto: ${name} is the first usable backend` +
          (notes.length ? ` (${notes.join("; ")})` : "")
        : i === 0
        ? "requested"
        : `fallback from ${requested}: ${notes.join("; ")}`;
      // outside the fallback: bf16 asked where it cannot run is the user's error, not a reason
      // to try another backend
      const p = applyPrecision(options.precision ?? "fp32", choice.name);
      return { ...choice, reason: why, precision: p.precision, precisionReason: p.reason };
    } catch (e) {
      if (e instanceof PrecisionError) throw e;
      const next = order[i + 1];
      notes.push(`${name}: ${message(e)}`);
      if (next === undefined) {
        throw new Error(`no backend could be initialised: ${notes.join("; ")}`);
      }
      log(
        `warning: backend '${name}' failed to initialise (${message(e)}); falling back to ${next}`,
      );
    }
  }
  throw new Error("unreachable");
}

let ensured: Promise<string> | undefined;

/**
 * Makes sure tfjs has a backend ready, for library entry points (`predict`, `Predictor.load`)
 * that a program may call without choosing one: a backend already set (by
 * {@link initBackend} or `tf.setBackend`) is kept; otherwise `initBackend("auto")` runs, once
 * per process (concurrent callers share it), with one wasm thread when it comes to wasm, so
 * that no worker thread keeps the program from ending by itself (call `initBackend` yourself,
 * and {@link releaseBackends} at the end, for more). Returns the backend's name.
 *
 * @example
 * ```ts
 * import { ensureBackend } from "./select.ts";
 * console.log(await ensureBackend()); // "wasm" (or the one set before)
 * ```
 */
export async function ensureBackend(): Promise<string> {
  const current = (tf.engine() as unknown as { backendName?: string }).backendName;
  if (current) return current;
  // wasm's pthread workers would keep the program from ending by itself (Deno's web workers
  // cannot be unref'd): without native, one wasm thread. oneDNN's own threads do not hold it.
  const threads = nativeAvailable().ok ? undefined : 1;
  ensured ??= initBackend("auto", { threads }).then((c) => c.name);
  try {
    return await ensured;
  } catch (err) {
    ensured = undefined; // a later call may try again
    throw err;
  }
}

/**
 * Releases every initialised tfjs backend (its memory, and the wasm backend's pthread workers,
 * which the `native` backend shares): call it once a command is done with tfjs, before it
 * exits. The wasm backend's worker threads otherwise keep Deno's event loop alive, so a
 * command that returns from its main module without `Deno.exit` would never end. tfjs cannot
 * compute in this process afterwards (the backends' factories are removed with them).
 *
 * @example
 * ```ts
 * import { initBackend, releaseBackends } from "./select.ts";
 * await initBackend("wasm");
 * // ... train, evaluate ...
 * releaseBackends(); // the process can now end on its own
 * ```
 */
export function releaseBackends(): void {
  const names = Object.keys((tf.engine() as unknown as { registry: object }).registry);
  // `native` lives on wasm's module: release it before wasm terminates the module's threads.
  names.sort((a, b) => Number(b === NATIVE_BACKEND) - Number(a === NATIVE_BACKEND));
  for (const name of names) {
    if (tf.findBackendFactory(name) !== null) tf.removeBackend(name);
  }
}
