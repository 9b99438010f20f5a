/**
 * The `native` backend's heavy kernels: convolutions (forward, fused forward, both gradients),
 * matrix products and max pooling (forward and gradient), computed by oneDNN through the shim
 * on the tensors' memory in the tfjs-backend-wasm heap, in place. A case the shim does not
 * cover (NCHW, PReLU, non-float32, unusual broadcasting) runs the `wasm` kernel of the same
 * name instead, looked up at call time.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs-core";
import type { NativeLib } from "./ffi.ts";
import { lastError } from "./ffi.ts";
import { markPacked, packingOn, readPacked, unpack, unpackingKernel } from "./packed.ts";

/** The parts of tfjs-backend-wasm's `BackendWasm` the kernels use. */
export interface WasmLikeBackend extends tf.KernelBackend {
  wasm: { HEAPU8: Uint8Array };
  dataIdMap: { get(dataId: tf.DataId): { memoryOffset: number } };
  incRef(dataId: tf.DataId): void;
  refCount(dataId: tf.DataId): number;
  makeOutput(shape: number[], dtype: tf.DataType): tf.TensorInfo;
}

/** A kernel's arguments on the native backend. */
export type Args = {
  inputs: Record<string, tf.TensorInfo>;
  backend: WasmLikeBackend;
  attrs?: tf.NamedAttrMap;
};

const ACTIVATIONS: Record<string, number> = {
  linear: 0,
  relu: 1,
  relu6: 2,
  elu: 3,
  leakyrelu: 4,
  sigmoid: 5,
  tanh: 6,
};

/** Counts of native and fallback executions per kernel, for tests and profiles. */
export const kernelCounts: Record<string, { native: number; fallback: number }> = {};

/** Counts one execution of kernel `name` (native or fallback) in {@linkcode kernelCounts}. */
export function countKernel(name: string, native: boolean): void {
  const c = kernelCounts[name] ??= { native: 0, fallback: 0 };
  if (native) c.native++;
  else c.fallback++;
}

/** Byte offset of `t`'s data in the shared wasm heap. */
export function offset(b: WasmLikeBackend, t: tf.TensorInfo): number {
  return b.dataIdMap.get(t.dataId).memoryOffset;
}

/** A kernel config of `backendName` running `fn`. */
export function kernelConfig(
  kernelName: string,
  backendName: string,
  fn: (args: Args) => tf.TensorInfo | tf.TensorInfo[],
): tf.KernelConfig {
  return { kernelName, backendName, kernelFunc: fn as unknown as tf.KernelFunc };
}

function allFloat(...ts: (tf.TensorInfo | undefined)[]): boolean {
  return ts.every((t) =>
    t === undefined || (t.dtype === "float32" && tf.util.sizeFromShape(t.shape) > 0)
  );
}

function fallback(name: string, args: Args): tf.TensorInfo | tf.TensorInfo[] {
  countKernel(name, false);
  const k = tf.getKernel(name, "wasm");
  if (!k) {
    throw new Error(
      `native backend: this ${name} case is not supported by oneDNN here and no 'wasm' ${name} ` +
        `kernel is registered to fall back to (register the wasm training kernels first)`,
    );
  }
  if (k.setupFunc && !setUp.has(k.kernelFunc)) {
    // The wasm kernel binds its C function in its setup, which the engine ran only if `wasm`
    // was ever the active backend. Both backends share one module, so binding here is valid.
    k.setupFunc(args.backend);
    setUp.add(k.kernelFunc);
  }
  return k.kernelFunc(args as unknown as Parameters<tf.KernelFunc>[0]);
}

const setUp = new WeakSet<tf.KernelFunc>();

function check(lib: NativeLib, rc: number, name: string): void {
  if (rc !== 0) throw new Error(`native backend: ${name} failed in oneDNN: ${lastError(lib)}`);
}

/** True when oneDNN's output-size rule holds for these paddings (else it refuses the shape). */
function padsFit(inSize: number, eff: number, stride: number, lo: number, hi: number, out: number) {
  return Math.floor((inSize - eff + lo + hi) / stride) + 1 === out;
}

/** The shim's 20 conv parameters (see `conv_run` in shim.c) for `ci`. */
export function convParams(
  ci: tf.backend_util.Conv2DInfo,
  act: number,
  alpha: number,
  bias: boolean,
): Float64Array {
  const p = ci.padInfo;
  return new Float64Array([
    ci.batchSize,
    ci.inHeight,
    ci.inWidth,
    ci.inChannels,
    ci.filterHeight,
    ci.filterWidth,
    ci.outChannels,
    ci.outHeight,
    ci.outWidth,
    ci.strideHeight,
    ci.strideWidth,
    ci.dilationHeight,
    ci.dilationWidth,
    p.top,
    p.left,
    p.bottom,
    p.right,
    act,
    alpha,
    bias ? 1 : 0,
  ]);
}

/** Whether oneDNN takes this conv geometry as tfjs computed it (NHWC, same output size). */
export function convFits(ci: tf.backend_util.Conv2DInfo): boolean {
  const p = ci.padInfo;
  return ci.dataFormat === "channelsLast" &&
    padsFit(
      ci.inHeight,
      ci.effectiveFilterHeight,
      ci.strideHeight,
      p.top,
      p.bottom,
      ci.outHeight,
    ) &&
    padsFit(ci.inWidth, ci.effectiveFilterWidth, ci.strideWidth, p.left, p.right, ci.outWidth);
}

type Conv2DAttrs = {
  strides: [number, number] | number;
  pad: "valid" | "same" | number | tf.backend_util.ExplicitPadding;
  dataFormat: "NHWC" | "NCHW";
  dilations: [number, number] | number;
  dimRoundingMode?: "floor" | "round" | "ceil";
  activation?: string;
  leakyreluAlpha?: number;
};

/** The conv geometry of a Conv2D kernel call (NHWC or NCHW per `dataFormat`). */
function conv2dInfo(
  xShape: readonly number[],
  filterShape: readonly number[],
  a: Conv2DAttrs,
  dilations: Conv2DAttrs["dilations"] | 1,
): tf.backend_util.Conv2DInfo {
  return tf.backend_util.computeConv2DInfo(
    xShape as [number, number, number, number],
    filterShape as [number, number, number, number],
    a.strides,
    dilations,
    a.pad,
    a.dimRoundingMode,
    false,
    tf.backend_util.convertConv2DDataFormat(a.dataFormat),
  );
}

/**
 * Conv2D / FusedConv2D forward on oneDNN (a wasm fallback for cases it does not cover). With
 * `keep`, the shim keeps x's bf16 copy for the layer's weight gradient (bf16 precision only) and
 * `keep` gets its token (0: none kept). With `packed` (the fused conv layer), x may be a packed
 * tensor, read as it is, and y is written packed while packing is on (./packed.ts).
 */
export function convForward(
  lib: NativeLib,
  name: string,
  args: Args,
  keep?: (token: number) => void,
  packed = false,
): tf.TensorInfo {
  const { x, filter } = args.inputs;
  const bias: tf.TensorInfo | undefined = args.inputs.bias;
  const preluActivationWeights: tf.TensorInfo | undefined = args.inputs.preluActivationWeights;
  const a = args.attrs as unknown as Conv2DAttrs;
  const act = ACTIVATIONS[a.activation ?? "linear"];
  const b = args.backend;
  const ci = conv2dInfo(x.shape, filter.shape, a, a.dilations);
  if (
    act === undefined || preluActivationWeights !== undefined || !allFloat(x, filter, bias) ||
    !convFits(ci) || (bias !== undefined && tf.util.sizeFromShape(bias.shape) !== ci.outChannels)
  ) {
    unpack(lib, b, x);
    return fallback(name, args) as tf.TensorInfo;
  }
  const xPacked = packed && readPacked(lib, b, x), yPacked = packed && packingOn();
  const out = b.makeOutput(ci.outShape, "float32");
  const o = new Float64Array([
    offset(b, x),
    offset(b, filter),
    bias ? offset(b, bias) : 0,
    offset(b, out),
    0, // kind 3: the token of x's kept bf16 copy, written by the shim
    (xPacked ? 1 : 0) | (yPacked ? 2 : 0),
  ]);
  const p = convParams(ci, act, a.leakyreluAlpha ?? 0.2, bias !== undefined);
  check(lib, lib.cd_conv(keep ? 3 : 0, b.wasm.HEAPU8, p, o), name);
  keep?.(o[4]);
  if (yPacked) markPacked(out);
  countKernel(name, true);
  return out;
}

function convBackpropInput(lib: NativeLib, args: Args): tf.TensorInfo {
  const { dy, filter } = args.inputs;
  const a = args.attrs as unknown as Conv2DAttrs & { inputShape: number[] };
  const b = args.backend;
  const ci = conv2dInfo(a.inputShape, filter.shape, a, 1);
  if (!allFloat(dy, filter) || !convFits(ci)) {
    return fallback("Conv2DBackpropInput", args) as tf.TensorInfo;
  }
  const out = b.makeOutput(a.inputShape, "float32");
  const o = new Float64Array([offset(b, dy), offset(b, filter), offset(b, out)]);
  check(lib, lib.cd_conv(1, b.wasm.HEAPU8, convParams(ci, 0, 0, false), o), "Conv2DBackpropInput");
  countKernel("Conv2DBackpropInput", true);
  return out;
}

function convBackpropFilter(lib: NativeLib, args: Args): tf.TensorInfo {
  const { x, dy } = args.inputs;
  const a = args.attrs as unknown as Conv2DAttrs & { filterShape: number[] };
  const b = args.backend;
  const ci = conv2dInfo(x.shape, a.filterShape, a, 1);
  if (!allFloat(x, dy) || !convFits(ci)) {
    return fallback("Conv2DBackpropFilter", args) as tf.TensorInfo;
  }
  const out = b.makeOutput(a.filterShape, "float32");
  const o = new Float64Array([offset(b, x), offset(b, dy), offset(b, out)]);
  check(lib, lib.cd_conv(2, b.wasm.HEAPU8, convParams(ci, 0, 0, false), o), "Conv2DBackpropFilter");
  countKernel("Conv2DBackpropFilter", true);
  return out;
}

function matMul(lib: NativeLib, name: string, args: Args): tf.TensorInfo {
  const { a: A, b: B } = args.inputs;
  const bias: tf.TensorInfo | undefined = args.inputs.bias;
  const preluActivationWeights: tf.TensorInfo | undefined = args.inputs.preluActivationWeights;
  const at = args.attrs as unknown as {
    transposeA: boolean;
    transposeB: boolean;
    activation?: string;
    leakyreluAlpha?: number;
  };
  const be = args.backend;
  const act = ACTIVATIONS[at.activation ?? "linear"];
  const ra = A.shape.length, rb = B.shape.length;
  const M = at.transposeA ? A.shape[ra - 1] : A.shape[ra - 2];
  const K = at.transposeA ? A.shape[ra - 2] : A.shape[ra - 1];
  const K2 = at.transposeB ? B.shape[rb - 1] : B.shape[rb - 2];
  const N = at.transposeB ? B.shape[rb - 2] : B.shape[rb - 1];
  const outerA = A.shape.slice(0, -2), outerB = B.shape.slice(0, -2);
  const batchA = tf.util.sizeFromShape(outerA), batchB = tf.util.sizeFromShape(outerB);
  if (K !== K2) {
    throw new Error(
      `Error in matMul: inner shapes (${K}) and (${K2}) of Tensors with shapes ${A.shape} and ` +
        `${B.shape} and transposeA=${at.transposeA} and transposeB=${at.transposeB} must match.`,
    );
  }
  const outer = tf.backend_util.assertAndGetBroadcastShape(outerA, outerB);
  const batch = tf.util.sizeFromShape(outer);
  const simpleBroadcast = (batchA === batch || batchA === 1) && (batchB === batch || batchB === 1);
  if (
    act === undefined || preluActivationWeights !== undefined || !allFloat(A, B, bias) ||
    !simpleBroadcast || (bias !== undefined && tf.util.sizeFromShape(bias.shape) !== N) ||
    K === 0
  ) {
    return fallback(name, args) as tf.TensorInfo;
  }
  const out = be.makeOutput([...outer, M, N], "float32");
  const p = new Float64Array([
    batch,
    M,
    K,
    N,
    at.transposeA ? 1 : 0,
    at.transposeB ? 1 : 0,
    batchA,
    batchB,
    bias ? 1 : 0,
    act,
    at.leakyreluAlpha ?? 0.2,
  ]);
  const o = new Float64Array([
    offset(be, A),
    offset(be, B),
    bias ? offset(be, bias) : 0,
    offset(be, out),
  ]);
  check(lib, lib.cd_matmul(be.wasm.HEAPU8, p, o), name);
  countKernel(name, true);
  return out;
}

/** Attributes of tfjs's MaxPool kernel. */
export type PoolAttrs = {
  filterSize: [number, number] | number;
  strides: [number, number] | number;
  pad: "valid" | "same" | number | tf.backend_util.ExplicitPadding;
  dimRoundingMode?: "floor" | "round" | "ceil";
};

/** The pooling geometry of a max-pool call on `x` (NHWC). */
export function poolInfo(x: tf.TensorInfo, a: PoolAttrs): tf.backend_util.Conv2DInfo {
  return tf.backend_util.computePool2DInfo(
    x.shape as [number, number, number, number],
    a.filterSize,
    a.strides,
    1,
    a.pad,
    a.dimRoundingMode,
  );
}

/** The shim's 15 pooling parameters for `ci`; `relu` masks a max-pool gradient (shim.c). */
export function poolParams(ci: tf.backend_util.Conv2DInfo, relu = false): Float64Array {
  const p = ci.padInfo;
  return new Float64Array([
    ci.batchSize,
    ci.inHeight,
    ci.inWidth,
    ci.inChannels,
    ci.filterHeight,
    ci.filterWidth,
    ci.outHeight,
    ci.outWidth,
    ci.strideHeight,
    ci.strideWidth,
    p.top,
    p.left,
    p.bottom,
    p.right,
    relu ? 1 : 0,
  ]);
}

function maxPool(lib: NativeLib, args: Args): tf.TensorInfo {
  const { x } = args.inputs;
  const b = args.backend;
  const ci = poolInfo(x, args.attrs as unknown as PoolAttrs);
  if (!allFloat(x) || !convFits(ci)) return fallback("MaxPool", args) as tf.TensorInfo;
  const out = b.makeOutput(ci.outShape, "float32");
  const o = new Float64Array([offset(b, x), offset(b, out), 0]); // 0: float32 (not packed)
  check(lib, lib.cd_maxpool(b.wasm.HEAPU8, poolParams(ci), o), "MaxPool");
  countKernel("MaxPool", true);
  return out;
}

function maxPoolGrad(lib: NativeLib, args: Args): tf.TensorInfo {
  const { dy, input } = args.inputs;
  const b = args.backend;
  const ci = poolInfo(input, args.attrs as unknown as PoolAttrs);
  if (!allFloat(dy, input)) return fallback("MaxPoolGrad", args) as tf.TensorInfo;
  const out = b.makeOutput(input.shape, "float32");
  const o = new Float64Array([offset(b, dy), offset(b, input), offset(b, out), 0]); // float32
  check(lib, lib.cd_maxpool_grad(b.wasm.HEAPU8, poolParams(ci), o), "MaxPoolGrad");
  countKernel("MaxPoolGrad", true);
  return out;
}

/** Below this many elements an element-wise op stays on wasm (the FFI call costs more). */
export const MIN_NATIVE_ELEMENTS = 32768;

function big(t: tf.TensorInfo): boolean {
  return tf.util.sizeFromShape(t.shape) >= MIN_NATIVE_ELEMENTS;
}

function unary(lib: NativeLib, name: string, op: number, args: Args): tf.TensorInfo {
  const { x } = args.inputs;
  const b = args.backend;
  if (!allFloat(x) || !big(x)) return fallback(name, args) as tf.TensorInfo;
  const alpha = (args.attrs?.alpha as number | undefined) ?? 0;
  const out = b.makeOutput(x.shape, "float32");
  const n = tf.util.sizeFromShape(x.shape);
  const o = new Float64Array([offset(b, x), offset(b, out)]);
  check(lib, lib.cd_unary(op, b.wasm.HEAPU8, n, alpha, o), name);
  countKernel(name, true);
  return out;
}

/** True when `small` broadcasts over `full` as a block repeated along its leading axes. */
function trailingBroadcast(full: number[], small: number[]): boolean {
  const s = [...small];
  while (s.length > 0 && s[0] === 1) s.shift();
  if (s.length > full.length) return false;
  const tail = full.slice(full.length - s.length);
  return s.every((d, i) => d === tail[i]);
}

function binary(lib: NativeLib, name: string, op: number, args: Args): tf.TensorInfo {
  let { a, b: bb } = args.inputs;
  const be = args.backend;
  if (!allFloat(a, bb) || (!big(a) && !big(bb))) return fallback(name, args) as tf.TensorInfo;
  const same = tf.util.arraysEqual(a.shape, bb.shape);
  if (!same && trailingBroadcast(bb.shape, a.shape) && !trailingBroadcast(a.shape, bb.shape)) {
    [a, bb] = [bb, a]; // add and multiply commute
  }
  if (!same && !trailingBroadcast(a.shape, bb.shape)) {
    return fallback(name, args) as tf.TensorInfo;
  }
  const out = be.makeOutput(a.shape, "float32");
  const o = new Float64Array([offset(be, a), offset(be, bb), offset(be, out)]);
  const n = tf.util.sizeFromShape(a.shape), nb = tf.util.sizeFromShape(bb.shape);
  check(lib, lib.cd_binary(op, be.wasm.HEAPU8, n, nb, o), name);
  countKernel(name, true);
  return out;
}

/**
 * Sum or Mean over axes that form one contiguous block (tfjs's Sum over leading axes, in double;
 * a global average pooling's Mean over H and W, in float32 as wasm's Mean); other axes fall back
 * to wasm.
 */
function reduce(lib: NativeLib, name: "Sum" | "Mean", args: Args): tf.TensorInfo {
  const { x } = args.inputs;
  const b = args.backend;
  const { axis, keepDims } = args.attrs as unknown as {
    axis: number | number[];
    keepDims: boolean;
  };
  if (!allFloat(x) || !big(x)) return fallback(name, args) as tf.TensorInfo;
  const axes = tf.util.parseAxisParam(axis, x.shape).sort((p, q) => p - q);
  if (!axes.every((v, i) => v === axes[0] + i)) return fallback(name, args) as tf.TensorInfo;
  const first = axes[0], end = first + axes.length;
  const outer = tf.util.sizeFromShape(x.shape.slice(0, first));
  const rows = tf.util.sizeFromShape(x.shape.slice(first, end));
  const cols = tf.util.sizeFromShape(x.shape.slice(end));
  const shape = x.shape.flatMap((d, i) => i < first || i >= end ? [d] : keepDims ? [1] : []);
  const out = b.makeOutput(shape, "float32");
  const o = new Float64Array([offset(b, x), offset(b, out), outer, name === "Mean" ? rows : 1]);
  check(lib, lib.cd_sum_rows(b.wasm.HEAPU8, rows, cols, o), name);
  countKernel(name, true);
  return out;
}

/** Identity (and a cast to the same dtype): share the data instead of copying it. */
function share(name: string, args: Args): tf.TensorInfo {
  const { x } = args.inputs;
  const to = args.attrs?.dtype as tf.DataType | undefined;
  if (x.dtype === "string" || (to !== undefined && to !== x.dtype)) {
    return fallback(name, args) as tf.TensorInfo;
  }
  args.backend.incRef(x.dataId);
  countKernel(name, true);
  return { dataId: x.dataId, shape: x.shape, dtype: x.dtype };
}

/** Names of the kernels the `native` backend computes in oneDNN (or its own C). */
export const NATIVE_KERNEL_NAMES = [
  "Conv2D",
  "FusedConv2D",
  "Conv2DBackpropInput",
  "Conv2DBackpropFilter",
  "BatchMatMul",
  "_FusedMatMul",
  "MaxPool",
  "MaxPoolGrad",
  "Relu",
  "Step",
  "Add",
  "Multiply",
  "Sum",
  "Mean",
  "Identity",
  "Cast",
] as const;

/**
 * Kernel configs for `backendName`, bound to the loaded shim. Each expands packed inputs first
 * (./packed.ts) but Identity, which shares the data (packed or not) of its input.
 */
export function nativeKernelConfigs(lib: NativeLib, backendName: string): tf.KernelConfig[] {
  const f = (kernelName: string, fn: (args: Args) => tf.TensorInfo) => {
    const config = kernelConfig(kernelName, backendName, fn);
    return kernelName === "Identity" ? config : unpackingKernel(lib, config);
  };
  return [
    f("Conv2D", (a) => convForward(lib, "Conv2D", a)),
    f("FusedConv2D", (a) => convForward(lib, "FusedConv2D", a)),
    f("Conv2DBackpropInput", (a) => convBackpropInput(lib, a)),
    f("Conv2DBackpropFilter", (a) => convBackpropFilter(lib, a)),
    f("BatchMatMul", (a) => matMul(lib, "BatchMatMul", a)),
    f("_FusedMatMul", (a) => matMul(lib, "_FusedMatMul", a)),
    f("MaxPool", (a) => maxPool(lib, a)),
    f("MaxPoolGrad", (a) => maxPoolGrad(lib, a)),
    f("Relu", (a) => unary(lib, "Relu", 0, a)),
    f("Step", (a) => unary(lib, "Step", 1, a)),
    f("Add", (a) => binary(lib, "Add", 0, a)),
    f("Multiply", (a) => binary(lib, "Multiply", 1, a)),
    f("Sum", (a) => reduce(lib, "Sum", a)),
    f("Mean", (a) => reduce(lib, "Mean", a)),
    f("Identity", (a) => share("Identity", a)),
    f("Cast", (a) => share("Cast", a)),
  ];
}
