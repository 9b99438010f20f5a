/**
 * Registers the `native` backend: a tfjs-backend-wasm `BackendWasm` that shares the `wasm`
 * backend's WebAssembly module (same heap, same compiled kernels), carries every kernel
 * registered for `wasm`, and replaces the heavy ones with oneDNN kernels run through Deno FFI
 * on the heap in place.
 *
 * Why share the module rather than instantiate a second one: tfjs-backend-wasm keeps its
 * `cwrap`ped C functions in module-level variables that each kernel's setup rebinds to the
 * module of the backend being set up, so two modules in one process would make the `wasm`
 * backend call into the other module's heap. One module, two `BackendWasm` objects whose
 * tensor ids cannot collide (ours start at 2^30), keeps both backends valid in one process.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs-core";
import { BackendWasm } from "@tensorflow/tfjs-backend-wasm";
import { lastError, loadNative, type NativeLib } from "./ffi.ts";
import { NATIVE_KERNEL_NAMES, nativeKernelConfigs, type WasmLikeBackend } from "./kernels.ts";
import { adamKernelConfig, type AdamRunner, installFusedAdam } from "../fused_adam.ts";
import { convGradConfig, convLayerKernelConfigs, installFusedConvLayers } from "./conv_layer.ts";
import { installReluPoolLayers, reluPoolGradConfig, reluPoolKernelConfigs } from "./pool_layer.ts";
import { enableGradientMemorySaver } from "../grad_memory.ts";
import { type PackedHost, setPacking, unpack, unpackingKernel } from "./packed.ts";
import { installSharedSavedTensors } from "./saved_tensors.ts";

/** The backend name. */

export const NATIVE_BACKEND = "native";

const ID_BASE = 2 ** 30;
const DEFAULT_CACHE_CAPACITY = 256;

/** Options of {@linkcode registerNativeBackend}. */
export interface NativeOptions {
  /**
   * oneDNN threads (OpenMP). Default: `CONVDECK_NATIVE_THREADS`, else every logical core
   * (`navigator.hardwareConcurrency`).
   */
  threads?: number;
  /** Most oneDNN primitives kept (least recently used evicted). Default 256. */
  cacheCapacity?: number;
}

type WasmModule = BackendWasm["wasm"] & {
  tfjs: { initWithThreadsCount: (n: number) => void };
};

type EngineInternals = {
  registry: Record<string, tf.KernelBackend>;
  initializeBackend(name: string): { success: Promise<boolean> | boolean; asyncInit: boolean };
};

let lib: NativeLib | null = null;
let threadsInUse = 0;

/** The `native` backend: a `BackendWasm` on the shared module, with native kernels. */
class NativeBackend extends BackendWasm {
  constructor(wasm: WasmModule) {
    super(wasm);
    (this as unknown as { dataIdNextNumber: number }).dataIdNextNumber = ID_BASE;
  }

  /** Releases the oneDNN primitives; the shared WebAssembly module stays with `wasm`. */
  override dispose(): void {
    lib?.cd_cache_clear();
  }

  /** The data, expanded into float32 first when it is a packed activation (./packed.ts). */
  override readSync(
    dataId: tf.DataId,
    start?: number,
    end?: number,
  ): tf.backend_util.BackendValues {
    this.unpackData(dataId);
    return super.readSync(dataId, start, end);
  }

  /** As {@linkcode NativeBackend.readSync}. */
  override read(dataId: tf.DataId): Promise<tf.backend_util.BackendValues> {
    this.unpackData(dataId);
    return super.read(dataId);
  }

  private unpackData(dataId: tf.DataId): void {
    const d = this.dataIdMap.get(dataId);
    if (lib && d) unpack(lib, this as unknown as PackedHost, { dataId, ...d });
  }
}

/**
 * Builds the backend on the shared module without running BackendWasm's thread-pool
 * (re)initialisation: the module was initialised by the `wasm` backend that owns it.
 */
function createNativeBackend(wasm: WasmModule): NativeBackend {
  const init = wasm.tfjs.initWithThreadsCount;
  wasm.tfjs.initWithThreadsCount = () => {};
  try {
    return new NativeBackend(wasm);
  } finally {
    wasm.tfjs.initWithThreadsCount = init;
  }
}

async function wasmBackend(): Promise<BackendWasm> {
  const engine = tf.engine() as unknown as EngineInternals;
  if (!engine.registry["wasm"]) {
    if (!tf.findBackendFactory("wasm")) {
      throw new Error("the 'wasm' backend is not registered; import @tensorflow/tfjs-backend-wasm");
    }
    const { success } = engine.initializeBackend("wasm");
    if (!(await success)) throw new Error("the 'wasm' backend failed to initialise");
  }
  return engine.registry["wasm"] as unknown as BackendWasm;
}

/**
 * The kernels `native` computes itself: the shim's ({@linkcode NATIVE_KERNEL_NAMES}) and those
 * {@linkcode registerNativeBackend} adds (the fused Adam, the convolution and ReLU + pool layer
 * kernels). Kernels of the same name that `wasm` also has (the fused Adam) are never copied over
 * them.
 */
const ownKernels = new Set<string>(NATIVE_KERNEL_NAMES);

/**
 * Copies to `native` every `wasm` kernel it does not compute natively (again when `wasm`
 * gained or replaced kernels since). Returns how many were (re)registered.
 */
export function syncNativeKernels(): number {
  let n = 0;
  for (const k of tf.getKernelsForBackend("wasm")) {
    if (ownKernels.has(k.kernelName)) continue;
    // wasm's kernels read float32 data: packed activations are expanded first (./packed.ts);
    // Reshape shares its input's data, packed or not.
    const wrap = lib !== null && k.kernelName !== "Reshape";
    const mine = tf.getKernel(k.kernelName, NATIVE_BACKEND);
    const from = mine && (copiedFrom.get(mine.kernelFunc) ?? mine.kernelFunc);
    if (
      mine && from === k.kernelFunc && mine.setupFunc === k.setupFunc &&
      copiedFrom.has(mine.kernelFunc) === wrap
    ) continue;
    if (mine) tf.unregisterKernel(k.kernelName, NATIVE_BACKEND);
    const copy = { ...k, backendName: NATIVE_BACKEND };
    const config = wrap ? unpackingKernel(lib!, copy) : copy;
    if (wrap) copiedFrom.set(config.kernelFunc, k.kernelFunc);
    tf.registerKernel(config);
    n++;
  }
  return n;
}

/** The `wasm` kernel function each copied kernel of `native` runs behind its unpacking. */
const copiedFrom = new WeakMap<tf.KernelFunc, tf.KernelFunc>();

/** The number of oneDNN threads in use (0 before registration). */
export function nativeThreads(): number {
  return threadsInUse;
}

/** Sets the number of oneDNN (OpenMP) threads; returns the number now used. */
export function setNativeThreads(threads: number): number {
  if (!lib) throw new Error("native backend not registered: call registerNativeBackend() first");
  if (!Number.isInteger(threads) || threads < 1) {
    throw new Error(`native threads must be a positive integer, got ${threads}`);
  }
  threadsInUse = lib.cd_set_threads(threads);
  return threadsInUse;
}

/** The compute precision of the native convolutions and matrix products. */
export type NativePrecision = "fp32" | "bf16";

let precisionInUse: NativePrecision = "fp32";

/** The precision the native backend computes its convolutions and matrix products in. */
export function nativePrecision(): NativePrecision {
  return precisionInUse;
}

/**
 * Sets the precision of the native convolutions (forward and both gradients) and matrix
 * products: `fp32`, or `bf16` mixed precision (bf16 inputs and weights, float32 accumulation
 * and outputs; the weights, the optimizer state and every other op stay float32). Throws,
 * naming the missing instruction set, for `bf16` where oneDNN has no native bf16 kernels (no
 * silent emulation). Returns the precision now in use.
 *
 * @example
 * ```ts
 * import { nativeBf16Support, registerNativeBackend, setNativePrecision } from "./register.ts";
 * await registerNativeBackend();
 * if (nativeBf16Support().ok) setNativePrecision("bf16");
 * ```
 */
export function setNativePrecision(precision: NativePrecision): NativePrecision {
  if (!lib) throw new Error("native backend not registered: call registerNativeBackend() first");
  if (precision !== "fp32" && precision !== "bf16") {
    throw new Error(`native precision must be fp32 or bf16, got ${String(precision)}`);
  }
  if (lib.cd_set_precision(precision === "bf16" ? 1 : 0) !== 0) {
    throw new Error(`--precision bf16: ${lastError(lib)}`);
  }
  precisionInUse = precision;
  setPacking(precision === "bf16" && lib.cd_bf16_activations() === 1);
  return precisionInUse;
}

/** oneDNN's instruction-set names by `dnnl_cpu_isa_t` value (oneDNN 2.x). */
const ISA_NAMES: Record<number, string> = {
  0x1: "SSE4.1",
  0x3: "AVX",
  0x7: "AVX2",
  0x407: "AVX2-VNNI",
  0x27: "AVX-512",
  0x67: "AVX-512 VNNI",
  0xe7: "AVX-512 BF16",
  0x3e7: "AMX",
};
const ISA_AVX512_CORE_BF16 = 0xe7;

/**
 * Whether this CPU runs oneDNN's bf16 kernels natively (AVX512-BF16 or AMX, from oneDNN's own
 * ISA query, which honours `DNNL_MAX_CPU_ISA`), with the instruction set oneDNN dispatches to.
 *
 * @example
 * ```ts
 * const { ok, isa } = nativeBf16Support();
 * console.log(ok ? `bf16 on ${isa}` : `no native bf16 (${isa})`);
 * ```
 */
export function nativeBf16Support(): { ok: boolean; isa: string } {
  const loaded = loadNative();
  if (!("lib" in loaded)) return { ok: false, isa: `unknown (${loaded.reason})` };
  const v = loaded.lib.cd_cpu_isa();
  return {
    ok: (v & ISA_AVX512_CORE_BF16) === ISA_AVX512_CORE_BF16,
    isa: ISA_NAMES[v] ?? `oneDNN ISA 0x${v.toString(16)}`,
  };
}

/** oneDNN primitive-cache statistics, for tests and tuning. */
export function nativeCacheStats(): NativeCacheStats {
  if (!lib) {
    return {
      entries: 0,
      created: 0,
      scratchBytes: 0,
      liveObjects: 0,
      keptInputHits: 0,
      ownWeightGradients: 0,
      gemmWeightGradients: 0,
      winogradConvs: 0,
    };
  }
  return {
    entries: lib.cd_cache_size(),
    created: lib.cd_created_total(),
    scratchBytes: lib.cd_scratch_bytes(),
    liveObjects: lib.cd_live_objects(),
    keptInputHits: lib.cd_xcache_hits(),
    ownWeightGradients: lib.cd_own_wgrads(),
    gemmWeightGradients: lib.cd_gemm_wgrads(),
    winogradConvs: lib.cd_winograd_convs(),
  };
}

/** What {@linkcode nativeCacheStats} reports. */
export interface NativeCacheStats {
  /** Primitives held in the cache now. */
  entries: number;
  /** Primitives created since start (grows only on cache misses). */
  created: number;
  /** Bytes of the shared oneDNN scratchpad. */
  scratchBytes: number;
  /** oneDNN memory objects alive outside a call (0 unless something leaked). */
  liveObjects: number;
  /**
   * bf16 weight gradients that used the input copy their forward kept (instead of converting
   * the input again) since start.
   */
  keptInputHits: number;
  /**
   * Weight gradients computed by the shim's own kernels instead of oneDNN's, since start: the
   * AVX-512 float32 one and the AVX512-BF16 one (3x3, stride 1, 'same' convolutions; see
   * {@linkcode nativeOwnKernels}).
   */
  ownWeightGradients: number;
  /**
   * bf16 weight gradients of convolutions with small output images (16 pixels or fewer) computed
   * as one bf16 matrix product (im2col, then oneDNN's matmul) instead of the convolution
   * primitive, since start (`CONVDECK_BF16_GEMM_WGRAD=0` turns this off).
   */
  gemmWeightGradients: number;
  /**
   * float32 convolution passes (forward, input gradient, weight gradient) run by oneDNN's
   * Winograd F(4x4, 3x3) kernels instead of the direct ones, since start (AVX-512; 3x3,
   * stride-1, 'same' convolutions with multiples of 16 channels, not 16 in and out, on images of
   * 5x5 pixels or more; `CONVDECK_FP32_WINOGRAD=0` turns them off).
   */
  winogradConvs: number;
}

/**
 * Which of the shim's own weight-gradient kernels run here: `fp32` (AVX-512: 3x3, stride-1,
 * 'same' convolutions with 1-4 input channels, or 8-128 on rows of 24+ pixels, and a multiple of
 * 32 output channels) and `bf16` (AVX512-BF16: 32 or 64 input channels), each false where the
 * compiler, the CPU (as oneDNN sees it) or `CONVDECK_FP32_OWN_WGRAD=0` /
 * `CONVDECK_BF16_OWN_WGRAD=0` rule it out; both false before {@linkcode registerNativeBackend}.
 *
 * @example
 * ```ts
 * import { nativeOwnKernels, registerNativeBackend } from "./register.ts";
 * await registerNativeBackend();
 * console.log(nativeOwnKernels()); // { fp32: true, bf16: true } on a Zen 4
 * ```
 */
export function nativeOwnKernels(): { fp32: boolean; bf16: boolean } {
  if (!lib) return { fp32: false, bf16: false };
  const k = lib.cd_own_kernels();
  return { fp32: (k & 1) !== 0, bf16: (k & 2) !== 0 };
}

function defaultThreads(): number {
  const env = Deno.env.get("CONVDECK_NATIVE_THREADS");
  if (env !== undefined) {
    const n = Number(env);
    if (!Number.isInteger(n) || n < 1) {
      throw new Error(`CONVDECK_NATIVE_THREADS must be a positive integer, got '${env}'`);
    }
    return n;
  }
  return navigator.hardwareConcurrency || 1;
}

/**
 * Registers the `native` backend (idempotent). Throws, with the reason, when oneDNN is not
 * usable here ({@linkcode nativeAvailable} tells beforehand). Register the wasm training
 * kernels before calling it, or call {@linkcode syncNativeKernels} after.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs-core";
 * import { nativeAvailable } from "./ffi.ts";
 * import { registerNativeBackend } from "./register.ts";
 * if (nativeAvailable().ok) {
 *   await registerNativeBackend({ threads: 2 });
 *   await tf.setBackend("native");
 * }
 * ```
 */
export async function registerNativeBackend(options: NativeOptions = {}): Promise<void> {
  const loaded = loadNative();
  if (!("lib" in loaded)) throw new Error(`native backend unavailable: ${loaded.reason}`);
  const threads = options.threads ?? defaultThreads();
  if (!lib) {
    lib = loaded.lib;
    if (lib.cd_init(options.cacheCapacity ?? DEFAULT_CACHE_CAPACITY, threads) !== 0) {
      throw new Error("native backend: oneDNN engine creation failed");
    }
  }
  threadsInUse = lib.cd_set_threads(threads);
  const shared = await wasmBackend();
  for (
    const k of [
      ...nativeKernelConfigs(lib, NATIVE_BACKEND),
      adamKernelConfig(adamRunner(lib), NATIVE_BACKEND, true),
      ...convLayerKernelConfigs(lib, NATIVE_BACKEND),
      ...reluPoolKernelConfigs(lib, NATIVE_BACKEND),
    ]
  ) {
    if (tf.getKernel(k.kernelName, NATIVE_BACKEND)) {
      tf.unregisterKernel(k.kernelName, NATIVE_BACKEND);
    }
    tf.registerKernel(k);
    ownKernels.add(k.kernelName);
  }
  syncNativeKernels();
  installFusedAdam(NATIVE_BACKEND);
  for (const config of [convGradConfig, reluPoolGradConfig]) {
    if (tf.getGradient(config.kernelName) !== undefined) continue;
    tf.registerGradient(config);
    // When the training-memory saver is on (it installs a lean Add gradient), wrap this
    // gradient too, as it wraps every other.
    if (tf.getGradient("Add")?.inputsToSave?.length === 0) enableGradientMemorySaver();
  }
  installFusedConvLayers(NATIVE_BACKEND);
  installReluPoolLayers(NATIVE_BACKEND);
  installSharedSavedTensors(NATIVE_BACKEND);
  if (tf.findBackendFactory(NATIVE_BACKEND) === null) {
    tf.registerBackend(NATIVE_BACKEND, () => {
      const engine = tf.engine() as unknown as EngineInternals;
      const owner = engine.registry["wasm"] as unknown as BackendWasm | undefined;
      if (!owner || owner.wasm == null) {
        throw new Error("native backend needs the 'wasm' backend alive (it shares its module)");
      }
      syncNativeKernels();
      return createNativeBackend((owner ?? shared).wasm as WasmModule);
    }, 1);
  }
}

/** The fused Adam's loop on the native backend: the shim's `cd_adam`. */
function adamRunner(lib: NativeLib): AdamRunner {
  return (b, p, o) => {
    if (lib.cd_adam((b as unknown as WasmLikeBackend).wasm.HEAPU8, p, o) !== 0) {
      throw new Error(`native backend: ConvdeckAdam failed: ${lastError(lib)}`);
    }
  };
}
