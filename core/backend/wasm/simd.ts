/**
 * convdeck's own SIMD helpers for the wasm training kernels (./simd/kernels.c, compiled by
 * `deno task build-simd`), instantiated over the SAME `WebAssembly.Memory` as
 * tfjs-backend-wasm: they read and write tensors in place, by heap offset, with no copies.
 * Where that memory cannot be found (or {@linkcode simdTuning}`.enabled` is false) the kernels
 * use their JavaScript loops instead; both compute the same float32 results.
 *
 * @module
 */
import { SIMD_WASM } from "./simd/kernels_wasm.ts";
import { threadedWasmMemory } from "./threads.ts";
import type { WasmBackend, WasmModule } from "./heap.ts";

/** Switch for the SIMD helpers (tests turn it off to check the JavaScript paths). */
export const simdTuning = { enabled: true };

/** The exported functions of kernels.c; every pointer is a byte offset in tfjs's heap. */
export interface SimdKernels {
  /** `out[i] = y[i] > 0 ? dy[i] : 0` for floats `[i0, i1)`. */
  relu_grad(out: number, dy: number, y: number, i0: number, i1: number): void;
  /** `out[c] = sum_r x[r * width + c]` for columns `[c0, c1)`, rows summed in order. */
  sum_rows(out: number, x: number, rows: number, width: number, c0: number, c1: number): void;
  /** `dst[i] += src[i]` over `n` floats. */
  add_into(dst: number, src: number, n: number): void;
  /** Filter `[fh, fw, inC, outC]` flipped spatially with channels swapped. */
  flip_filter(out: number, f: number, fh: number, fw: number, inC: number, outC: number): void;
  /** Transposed im2col `[K, pb]` of output pixels `[p0, p0 + pb)`. */
  im2col_t(
    x: number,
    col: number,
    inH: number,
    inW: number,
    inC: number,
    outH: number,
    outW: number,
    fh: number,
    fw: number,
    sh: number,
    sw: number,
    padTop: number,
    padLeft: number,
    p0: number,
    pb: number,
  ): void;
  /**
   * Indirection buffer of output pixels `[p0, p1)`: `ind[p * fh * fw + tap]` = address of the
   * input pixel the tap reads, or `zero` in the padding; pixels image by image, or with `slots`
   * > 0 position by position, `slots` images to a position (see conv.c).
   */
  conv_indirection(
    ind: number,
    x: number,
    zero: number,
    inH: number,
    inW: number,
    inC: number,
    outH: number,
    outW: number,
    fh: number,
    fw: number,
    sh: number,
    sw: number,
    padTop: number,
    padLeft: number,
    slots: number,
    batch: number,
    p0: number,
    p1: number,
  ): void;
  /** The filter `[K, CO]` as 8-column panels, for output channels `[co0, co1)`. */
  pack_panels(wp: number, w: number, K: number, CO: number, co0: number, co1: number): void;
  /**
   * Convolution of output pixels `[p0, p1)` over an indirection buffer, the filter as
   * `pack_panels` panels, with `block * (taps * C + taps / 4 + 1)` floats of scratch at `ap`
   * and `zero` a row of `C` zeros, pixels ordered as `conv_indirection`'s; `CO % 8 === 0`,
   * `block % 4 === 0`.
   */
  conv_forward(
    y: number,
    ind: number,
    wp: number,
    ap: number,
    zero: number,
    taps: number,
    C: number,
    CO: number,
    block: number,
    slots: number,
    batch: number,
    positions: number,
    p0: number,
    p1: number,
  ): void;
  /**
   * Filter-gradient rows `[k0, k1)` over output pixels `[p0, p1)` (ordered as
   * `conv_indirection`'s; position by position, `block === slots`), with
   * `block * (CO + taps * C + 3)` floats of scratch at `pack`; `CO % 8 === 0`.
   */
  conv_filter_grad(
    dw: number,
    ind: number,
    dy: number,
    pack: number,
    zero: number,
    taps: number,
    C: number,
    CO: number,
    slots: number,
    batch: number,
    positions: number,
    p0: number,
    p1: number,
    block: number,
    k0: number,
    k1: number,
    accumulate: number,
  ): void;
  /**
   * The 3x3 filter `[3, 3, C, CO]` under Winograd F(tile x tile, 3x3)'s transform (`tile` 2 or
   * 4), as `(tile + 2)^2` planes of 8-column panels, for output channels `[co0, co1)`
   * (multiples of 4).
   */
  winograd_filter(
    up: number,
    w: number,
    C: number,
    CO: number,
    tile: number,
    co0: number,
    co1: number,
  ): void;
  /**
   * Stride-1 3x3 convolution of output tiles `[t0, t1)` of `tile` x `tile` pixels (2 or 4) by
   * Winograd F(tile x tile, 3x3), the filter from `winograd_filter` for the same tile, with
   * `n * (block * (1 + C + CO) + 16) + 16 * n` floats of scratch at `work` (`n = (tile + 2)^2`)
   * and `zero` a row of `C` zeros; `C % 4 === 0`, `CO % 8 === 0`, `block % 4 === 0`.
   */
  winograd_forward(
    y: number,
    x: number,
    up: number,
    work: number,
    zero: number,
    inH: number,
    inW: number,
    C: number,
    outH: number,
    outW: number,
    CO: number,
    padTop: number,
    padLeft: number,
    tilesH: number,
    tilesW: number,
    tile: number,
    block: number,
    t0: number,
    t1: number,
  ): void;
  /**
   * Winograd filter gradient, step 1: the transformed inputs (`vs`) and output gradients
   * (`zs`) of `tile` x `tile` output tiles `[t0, t1)` of the chunk of `n` tiles from `c0`;
   * `(tile + 2)^2` addresses of scratch at `ind`, `zero` a row of `max(C, CO)` zeros.
   */
  winograd_grad_transform(
    vs: number,
    zs: number,
    ind: number,
    x: number,
    dy: number,
    zero: number,
    inH: number,
    inW: number,
    C: number,
    outH: number,
    outW: number,
    CO: number,
    padTop: number,
    padLeft: number,
    tilesH: number,
    tilesW: number,
    tile: number,
    c0: number,
    n: number,
    t0: number,
    t1: number,
  ): void;
  /**
   * Step 2: rows `[u0, u1)` of the 16 or 36 sums over the chunk's tiles (overwritten if
   * `first`).
   */
  winograd_grad_products(
    m: number,
    vs: number,
    zs: number,
    C: number,
    CO: number,
    n: number,
    first: number,
    u0: number,
    u1: number,
  ): void;
  /**
   * Step 3: the filter gradient `[3, 3, C, CO]` of input channels `[ci0, ci1)` from the sums of
   * `tile` x `tile` output tiles.
   */
  winograd_grad_filter(
    dw: number,
    m: number,
    C: number,
    CO: number,
    tile: number,
    ci0: number,
    ci1: number,
  ): void;
  /** Parts `[f0, f1)` of `parts` of the fused Adam step (arguments: ../fused_adam.ts). */
  adam(p: number, o: number, f0: number, f1: number, parts: number): void;
  /** MaxPool gradient (first maximum of each window) of images `[b0, b1)`, zeroing `dx` first. */
  max_pool_grad(
    dx: number,
    x: number,
    dy: number,
    inH: number,
    inW: number,
    C: number,
    outH: number,
    outW: number,
    fh: number,
    fw: number,
    sh: number,
    sw: number,
    top: number,
    left: number,
    b0: number,
    b1: number,
  ): void;
}

/** The SIMD module as bound to one backend: its exports, the compiled module and the memory. */
export interface SimdBinding {
  /** The exported functions, bound to `memory`. */
  kernels: SimdKernels;
  /** The compiled module (helper threads instantiate it over the same memory). */
  module: WebAssembly.Module;
  /** tfjs-backend-wasm's memory: shared when its threaded build runs. */
  memory: WebAssembly.Memory;
}

const instances = new WeakMap<WasmModule, SimdBinding | null>();

function decode(base64: string): Uint8Array<ArrayBuffer> {
  const s = atob(base64);
  const bytes = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) bytes[i] = s.charCodeAt(i);
  return bytes;
}

/** The backend's memory: exported by the single-threaded build, captured for the threaded. */
function backendMemory(backend: WasmBackend): WebAssembly.Memory | undefined {
  const asm = (backend.wasm as unknown as { asm?: { memory?: unknown } }).asm;
  const candidates = [asm?.memory, threadedWasmMemory()];
  for (const m of candidates) {
    if (!(m instanceof WebAssembly.Memory)) continue;
    // Same memory? A byte written through tfjs's view must show through this one.
    const ptr = backend.wasm._malloc(4) >>> 0;
    try {
      const probe = new Uint8Array(m.buffer, ptr, 4);
      const view = backend.wasm.HEAPU8;
      view.set([0x5a, 0xc3, 0x17, 0x99], ptr);
      const same = probe[0] === 0x5a && probe[1] === 0xc3 && probe[2] === 0x17 && probe[3] === 0x99;
      view.set([0x11, 0x22, 0x33, 0x44], ptr);
      if (same && probe[0] === 0x11 && probe[3] === 0x44) return m;
    } finally {
      backend.wasm._free(ptr);
    }
  }
  return undefined;
}

/**
 * The SIMD module bound to `backend`'s memory, or undefined when it is disabled, the memory
 * cannot be reached, or this runtime lacks WebAssembly relaxed SIMD (the module uses its fused
 * multiply-add). Instantiated once per backend module.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs-core";
 * import { simdBinding } from "./simd.ts";
 * import type { WasmBackend } from "./heap.ts";
 * const binding = simdBinding(tf.backend() as unknown as WasmBackend);
 * console.log(binding?.memory.buffer instanceof SharedArrayBuffer);
 * ```
 */
export function simdBinding(backend: WasmBackend): SimdBinding | undefined {
  if (!simdTuning.enabled) return undefined;
  let b = instances.get(backend.wasm);
  if (b === undefined) {
    b = null;
    const memory = backendMemory(backend);
    if (memory !== undefined) {
      const shared = memory.buffer instanceof SharedArrayBuffer;
      const bytes = decode(shared ? SIMD_WASM.shared : SIMD_WASM.plain);
      if (WebAssembly.validate(bytes)) {
        const module = new WebAssembly.Module(bytes);
        const instance = new WebAssembly.Instance(module, { env: { memory } });
        b = { kernels: instance.exports as unknown as SimdKernels, module, memory };
      }
    }
    instances.set(backend.wasm, b);
  }
  return b ?? undefined;
}

/**
 * The SIMD helpers bound to `backend`'s memory, or undefined when {@linkcode simdBinding} is
 * (the caller then runs its JavaScript loop).
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs-core";
 * import { simdKernels } from "./simd.ts";
 * import type { WasmBackend } from "./heap.ts";
 * const simd = simdKernels(tf.backend() as unknown as WasmBackend);
 * console.log(simd === undefined ? "JavaScript loops" : "SIMD");
 * ```
 */
export function simdKernels(backend: WasmBackend): SimdKernels | undefined {
  return simdBinding(backend)?.kernels;
}
