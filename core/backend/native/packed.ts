/**
 * bf16 activations between the `native` backend's layers in bf16 precision: "packed" tensors.
 *
 * In bf16 mixed precision every convolution reads its input in bf16, so a float32 activation
 * costs a conversion pass per layer, and twice the memory traffic of bf16 wherever it is
 * written and read (the conv output, the max pool, their gradients). So the fused conv layer,
 * the ReLU max pool and their gradient kernels write their outputs packed: the tensor stays a
 * float32 tensor to tfjs (same shape, same buffer), but its `n` values are held as bf16 in the
 * first half of the buffer. The same kernels read packed inputs as they are. Every other reader
 * (any other kernel, `dataSync`/`data()`, a move to another backend) first has the tensor
 * expanded in place into float32 ({@linkcode unpack}): the values it then reads are the bf16
 * values exactly, which is what the next convolution would have read anyway. A tensor is
 * marked by its data id, so a reshape or an Identity of it (which share the data) stays packed.
 *
 * Packing is on in bf16 precision unless `CONVDECK_BF16_ACTIVATIONS=0` (read by the shim at
 * start); in float32 precision nothing is packed, and a tensor packed before a switch to fp32
 * is expanded before any kernel reads it.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs-core";
import type { NativeLib } from "./ffi.ts";
import { lastError } from "./ffi.ts";

/** The parts of the backend unpacking needs (the wasm heap and where each tensor lives in it). */
export interface PackedHost {
  /** The shared wasm heap. */
  wasm: { HEAPU8: Uint8Array };
  /** Each tensor's byte offset in the heap, by data id. */
  dataIdMap: { get(dataId: tf.DataId): { memoryOffset: number } | undefined };
}

/** Data ids of packed tensors. */
const packedData = new WeakSet<object>();

let packing = false;

/**
 * Turns packing of new activations on or off (the native backend's precision setter calls it:
 * on in bf16 precision unless `CONVDECK_BF16_ACTIVATIONS=0`).
 *
 * @example
 * ```ts
 * import { setPacking } from "./packed.ts";
 * setPacking(false); // float32 activations between layers
 * ```
 */
export function setPacking(on: boolean): void {
  packing = on;
}

/**
 * Whether the layer kernels write their outputs packed now.
 *
 * @example
 * ```ts
 * import { packingOn } from "./packed.ts";
 * console.log(packingOn()); // false until bf16 precision is set
 * ```
 */
export function packingOn(): boolean {
  return packing;
}

/**
 * Whether `t`'s data is packed (bf16 values in the first half of its buffer).
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs-core";
 * import { isPacked } from "./packed.ts";
 * console.log(isPacked(tf.zeros([2]))); // false
 * ```
 */
export function isPacked(t: tf.TensorInfo): boolean {
  return packedData.has(t.dataId);
}

/**
 * Marks `t` (just written packed by a kernel) as packed.
 *
 * @example
 * ```ts
 * import { markPacked } from "./packed.ts";
 * // in a kernel that wrote `out` as bf16: markPacked(out);
 * ```
 */
export function markPacked(t: tf.TensorInfo): void {
  packedData.add(t.dataId);
}

/**
 * Expands a packed tensor into float32 in place (nothing for one that is not packed).
 *
 * @example
 * ```ts
 * import { unpack } from "./packed.ts";
 * // before a kernel that reads float32: unpack(lib, backend, x);
 * ```
 */
export function unpack(lib: NativeLib, b: PackedHost, t: tf.TensorInfo): void {
  if (!packedData.has(t.dataId)) return;
  const where = b.dataIdMap.get(t.dataId);
  if (where === undefined) return; // disposed
  const n = tf.util.sizeFromShape(t.shape);
  if (lib.cd_bf16_expand(b.wasm.HEAPU8, n, where.memoryOffset) !== 0) {
    throw new Error(`native backend: expanding a bf16 activation failed: ${lastError(lib)}`);
  }
  packedData.delete(t.dataId);
}

/**
 * Whether a packed-aware kernel may read `t` as it is: true when `t` is packed and packing is
 * on; a packed `t` while packing is off is expanded here first (false).
 *
 * @example
 * ```ts
 * import { readPacked } from "./packed.ts";
 * // const flags = readPacked(lib, backend, x) ? 1 : 0;
 * ```
 */
export function readPacked(lib: NativeLib, b: PackedHost, t: tf.TensorInfo): boolean {
  if (!packedData.has(t.dataId)) return false;
  if (packing) return true;
  unpack(lib, b, t);
  return false;
}

/**
 * `config` with its kernel expanding every packed input first: for each kernel of the native
 * backend that reads float32 data (all but the packed-aware layer kernels and those that only
 * share data).
 *
 * @example
 * ```ts
 * import { unpackingKernel } from "./packed.ts";
 * // tf.registerKernel(unpackingKernel(lib, config));
 * ```
 */
export function unpackingKernel(lib: NativeLib, config: tf.KernelConfig): tf.KernelConfig {
  const inner = config.kernelFunc;
  const kernelFunc = ((args: Parameters<tf.KernelFunc>[0]) => {
    const b = args.backend as unknown as PackedHost;
    for (const t of Object.values(args.inputs)) if (t) unpack(lib, b, t as tf.TensorInfo);
    return inner(args);
  }) as tf.KernelFunc;
  return { ...config, kernelFunc };
}
