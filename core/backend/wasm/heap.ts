/**
 * Low-level access to the tfjs-backend-wasm heap: typed views of tensors, scratch buffers,
 * tensor aliases (a registered id that points into another tensor's memory) and a direct call
 * into XNNPACK's matrix multiply. Shared by the training kernels in this folder.
 *
 * @module
 */
import type { DataType, KernelBackend, TensorInfo } from "@tensorflow/tfjs-core";

/** The parts of the Emscripten module of tfjs-backend-wasm that the kernels use. */
export interface WasmModule {
  HEAPU8: Uint8Array;
  _malloc(bytes: number): number;
  _free(ptr: number): void;
  cwrap(
    name: string,
    ret: string | null,
    args: string[],
  ): (...args: unknown[]) => unknown;
  tfjs: {
    registerTensor(id: number, size: number, memoryOffset: number): void;
    disposeData(id: number): void;
  };
}

/** The parts of tfjs-backend-wasm's `BackendWasm` that the kernels use. */
export interface WasmBackend extends KernelBackend {
  wasm: WasmModule;
  dataIdMap: { get(dataId: object): { id: number; memoryOffset: number } };
  makeOutput(shape: number[], dtype: DataType, memoryOffset?: number): TensorInfo;
  disposeData(dataId: object, force?: boolean): boolean;
}

/** Byte offset of a tensor's data in the wasm heap (of wasm, or of native, which shares it). */
export function offsetOf(
  backend: { dataIdMap: { get(dataId: object): { memoryOffset: number } } },
  t: TensorInfo,
): number {
  return backend.dataIdMap.get(t.dataId).memoryOffset;
}

/** Registered id (the one the C++ kernels take) of a tensor. */
export function idOf(backend: WasmBackend, t: TensorInfo): number {
  return backend.dataIdMap.get(t.dataId).id;
}

/**
 * The current float32 view of the whole heap. Re-read it after every allocation: growing the
 * memory replaces the buffer.
 */
export function heapF32(backend: WasmBackend): Float32Array {
  const buffer = backend.wasm.HEAPU8.buffer;
  if (cachedView === undefined || cachedView.buffer !== buffer) {
    cachedView = new Float32Array(buffer);
  }
  return cachedView;
}

let cachedView: Float32Array | undefined;

let nextAliasId = 2_000_000_000;

/**
 * A float32 region of the heap registered under its own id, so that C++ kernels can read or
 * write it. `owned` regions are freed on `release`; aliases of another tensor's memory are not.
 */
export interface HeapRegion {
  /** Id registered with the wasm backend. */
  id: number;
  /** Byte offset in the heap. */
  ptr: number;
  /** Number of float32 elements. */
  size: number;
  /** Unregisters the id (and frees the memory if the region owns it). */
  release(): void;
}

function register(backend: WasmBackend, ptr: number, size: number, owned: boolean): HeapRegion {
  const id = nextAliasId++;
  if (nextAliasId > 2_140_000_000) nextAliasId = 2_000_000_000;
  backend.wasm.tfjs.registerTensor(id, size, ptr);
  return {
    id,
    ptr,
    size,
    release() {
      backend.wasm.tfjs.disposeData(id);
      if (owned) backend.wasm._free(ptr);
    },
  };
}

/** Allocates `size` float32 elements of scratch memory, registered under a fresh id. */
export function scratch(backend: WasmBackend, size: number): HeapRegion {
  const ptr = backend.wasm._malloc(Math.max(4, size * 4)) >>> 0;
  if (ptr === 0) {
    throw new Error(
      `wasm heap exhausted allocating ${(size * 4 / 2 ** 20).toFixed(0)} MiB: ` +
        "use a smaller batch size or input size",
    );
  }
  return register(backend, ptr, size, true);
}

/** Registers `size` float32 elements starting at byte `ptr` (inside a live tensor) under a fresh id. */
export function alias(backend: WasmBackend, ptr: number, size: number): HeapRegion {
  return register(backend, ptr, size, false);
}

type MatMulFn = (
  aId: number,
  aShape: Uint8Array,
  aRank: number,
  bId: number,
  bShape: Uint8Array,
  bRank: number,
  transposeA: boolean,
  transposeB: boolean,
  outId: number,
) => void;

const matMulFns = new WeakMap<WasmModule, MatMulFn>();

function shapeBytes(shape: number[]): Uint8Array {
  return new Uint8Array(new Int32Array(shape).buffer);
}

/**
 * `out[m, n] = a[m, k] * b[k, n]` with all three row-major and contiguous, through XNNPACK's
 * fully-connected operator (tfjs's fast path for batch 1 without transposes; multithreaded).
 * `b` is packed by XNNPACK per call and its operator is freed when `b`'s id is released.
 */
export function matMul(
  backend: WasmBackend,
  aId: number,
  bId: number,
  outId: number,
  m: number,
  k: number,
  n: number,
): void {
  let fn = matMulFns.get(backend.wasm);
  if (fn === undefined) {
    fn = backend.wasm.cwrap("BatchMatMul", null, [
      "number",
      "array",
      "number",
      "number",
      "array",
      "number",
      "number",
      "number",
      "number",
    ]) as unknown as MatMulFn;
    matMulFns.set(backend.wasm, fn);
  }
  fn(aId, shapeBytes([1, m, k]), 3, bId, shapeBytes([1, k, n]), 3, false, false, outId);
}

type Conv2DFn = (...args: number[]) => void;
const conv2DFns = new WeakMap<WasmModule, Conv2DFn>();

/**
 * Same product as {@linkcode matMul}, computed as a 1x1 convolution of `a` (as `m` pixels of `k`
 * channels) with `b` (as a `[1, 1, k, n]` filter): XNNPACK's convolution runs on the backend's
 * thread pool, its fully-connected operator (used by `matMul`) on one thread only.
 */
export function gemm(
  backend: WasmBackend,
  aId: number,
  bId: number,
  outId: number,
  m: number,
  k: number,
  n: number,
): void {
  let fn = conv2DFns.get(backend.wasm);
  if (fn === undefined) {
    fn = backend.wasm.cwrap("Conv2D", null, new Array(19).fill("number")) as unknown as Conv2DFn;
    conv2DFns.set(backend.wasm, fn);
  }
  // x: [1, 1, m, k]; filter [1, 1, k, n]; no padding, stride 1, dilation 1.
  fn(aId, 1, 1, m, bId, 1, 1, 0, 0, 0, 0, 0, 1, 1, 1, 1, k, n, outId);
}
