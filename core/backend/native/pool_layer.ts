/**
 * Max pooling after a ReLU convolution, with the ReLU's backward pass folded into the pool's on
 * the `native` backend. A Conv2D with a ReLU followed by MaxPooling2D (each block of the book's
 * model) needs, on the way back, the pool's gradient and then that gradient masked by
 * `y > 0`; the pool's gradient kernel already reads `y` to find each window's maximum, so it
 * can apply the mask in the same pass, and the convolution's gradient kernel then skips its
 * own (one pass over the block's largest tensor less per step, the same numbers).
 *
 * How: the fused conv layer marks its ReLU outputs ({@linkcode markReluOutput}); MaxPooling2D's
 * pooling function, on such an input, runs {@linkcode RELU_POOL_KERNEL}: the same max pool
 * forward, whose gradient is the gradient of `maxPool(relu(x))` (equal to `maxPool(x)` for
 * `x >= 0`), and marks that gradient as masked for `x`. The conv layer's gradient skips the
 * mask only when its `dy` is exactly such a gradient for its own output (a sum with other
 * consumers' gradients is a new tensor, and is masked as usual).
 *
 * In bf16 precision both kernels pool packed (bf16) tensors into packed ones (./packed.ts).
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs-core";
import * as tfl from "@tensorflow/tfjs-layers";
import type { NativeLib } from "./ffi.ts";
import { lastError } from "./ffi.ts";
import {
  type Args,
  convFits,
  countKernel,
  kernelConfig,
  offset,
  type PoolAttrs,
  poolInfo,
  poolParams,
  type WasmLikeBackend,
} from "./kernels.ts";
import { markPacked, packingOn, readPacked } from "./packed.ts";

/** Forward kernel: max pooling of a ReLU output (the same numbers as tfjs's MaxPool). */
export const RELU_POOL_KERNEL = "ConvdeckReluMaxPool";
/** Backward kernel: the max-pool gradient masked by `x > 0`, in one pass. */
export const RELU_POOL_GRAD_KERNEL = "ConvdeckReluMaxPoolGrad";

/** Data of tensors that are outputs of a fused ReLU convolution. */
const reluOutputs = new WeakSet<tf.DataId>();
/** Data of gradients already masked by `x > 0`, mapped to the data of that `x`. */
const maskedFor = new WeakMap<tf.DataId, tf.DataId>();

/** Marks `t` as the output of a ReLU (so that a max pool of it may fold the ReLU's gradient). */
export function markReluOutput(t: tf.TensorInfo): void {
  reluOutputs.add(t.dataId);
}

/**
 * True when `dy` is a gradient that was already masked by `y > 0` (the ReLU gradient of `y`
 * needs no second pass).
 */
export function isMaskedFor(dy: tf.TensorInfo, y: tf.TensorInfo): boolean {
  return maskedFor.get(dy.dataId) === y.dataId;
}

/** The forward and backward kernel configs for `backendName`, bound to the loaded shim. */
export function reluPoolKernelConfigs(lib: NativeLib, backendName: string): tf.KernelConfig[] {
  const forward = (args: Args) => {
    const { x } = args.inputs;
    const b: WasmLikeBackend = args.backend;
    const ci = poolInfo(x, args.attrs as unknown as PoolAttrs);
    const out = b.makeOutput(ci.outShape, "float32");
    const off = (t: tf.TensorInfo) => offset(b, t);
    // A packed x (./packed.ts) is pooled in bf16 into a packed output: the same values.
    const packed = readPacked(lib, b, x);
    const o = new Float64Array([off(x), off(out), packed ? 1 : 0]);
    if (lib.cd_maxpool(b.wasm.HEAPU8, poolParams(ci), o)) {
      throw new Error(`native backend: ${RELU_POOL_KERNEL} failed: ${lastError(lib)}`);
    }
    if (packed) markPacked(out);
    countKernel(RELU_POOL_KERNEL, true);
    return out;
  };
  const grad = (args: Args) => {
    const { dy, x } = args.inputs;
    const b: WasmLikeBackend = args.backend;
    const ci = poolInfo(x, args.attrs as unknown as PoolAttrs);
    const dx = b.makeOutput(x.shape, "float32");
    const off = (t: tf.TensorInfo) => offset(b, t);
    const flags = (readPacked(lib, b, dy) ? 1 : 0) | (readPacked(lib, b, x) ? 2 : 0) |
      (packingOn() ? 4 : 0);
    const o = new Float64Array([off(dy), off(x), off(dx), flags]);
    const rc = lib.cd_maxpool_grad(b.wasm.HEAPU8, poolParams(ci, true), o);
    if (rc < 0) {
      throw new Error(`native backend: ${RELU_POOL_GRAD_KERNEL} failed: ${lastError(lib)}`);
    }
    if (rc === 1) markPacked(dx); // the shim writes dx packed where it can (2x2 windows)
    maskedFor.set(dx.dataId, x.dataId);
    countKernel(RELU_POOL_GRAD_KERNEL, true);
    return dx;
  };
  return [
    kernelConfig(RELU_POOL_KERNEL, backendName, forward),
    kernelConfig(RELU_POOL_GRAD_KERNEL, backendName, grad),
  ];
}

/** The gradient of {@linkcode RELU_POOL_KERNEL}: one {@linkcode RELU_POOL_GRAD_KERNEL} call. */
export const reluPoolGradConfig: tf.GradConfig = {
  kernelName: RELU_POOL_KERNEL,
  inputsToSave: ["x"],
  gradFunc: (dy, saved, attrs) => {
    const [x] = saved;
    return {
      x: () =>
        tf.engine().runKernel(
          RELU_POOL_GRAD_KERNEL,
          { dy: dy as tf.Tensor, x },
          attrs as unknown as tf.NamedAttrMap,
        ) as tf.Tensor,
    };
  },
};

type PoolingFunction = (
  this: unknown,
  inputs: tf.Tensor,
  poolSize: [number, number],
  strides: [number, number],
  padding: string,
  dataFormat: string,
) => tf.Tensor;

let original: PoolingFunction | undefined;
let layerCalls = 0;

/** How many MaxPooling2D calls ran {@linkcode RELU_POOL_KERNEL} (tests check the path ran). */
export function reluPoolLayerCalls(): number {
  return layerCalls;
}

function maxPoolingPrototype(): { poolingFunction: PoolingFunction } {
  return Object.getPrototypeOf(tfl.layers.maxPooling2d({ poolSize: 2 })) as {
    poolingFunction: PoolingFunction;
  };
}

/**
 * Makes tfjs-layers' MaxPooling2D run {@linkcode RELU_POOL_KERNEL} on a fused ReLU conv's output
 * while `backendName` is the active backend (idempotent).
 */
export function installReluPoolLayers(backendName: string): void {
  if (original !== undefined) return;
  const proto = maxPoolingPrototype();
  const tfjs = proto.poolingFunction;
  original = tfjs;
  proto.poolingFunction = function (this: unknown, x, poolSize, strides, padding, dataFormat) {
    if (
      tf.getBackend() !== backendName || !reluOutputs.has(x.dataId) || x.rank !== 4 ||
      x.dtype !== "float32" || dataFormat !== "channelsLast" ||
      (padding !== "valid" && padding !== "same")
    ) {
      return tfjs.call(this, x, poolSize, strides, padding, dataFormat);
    }
    const attrs = { filterSize: poolSize, strides, pad: padding } as PoolAttrs;
    if (!convFits(poolInfo(x, attrs))) {
      return tfjs.call(this, x, poolSize, strides, padding, dataFormat);
    }
    layerCalls++;
    return tf.engine().runKernel(
      RELU_POOL_KERNEL,
      { x },
      attrs as unknown as tf.NamedAttrMap,
    ) as tf.Tensor;
  };
}

/** Restores tfjs-layers' own MaxPooling2D pooling function (for tests comparing the two). */
export function uninstallReluPoolLayers(): void {
  if (original === undefined) return;
  maxPoolingPrototype().poolingFunction = original;
  original = undefined;
}
