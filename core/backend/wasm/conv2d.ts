/**
 * `Conv2D` for tfjs-backend-wasm: convdeck's SIMD convolution (./conv_simd.ts) where it
 * applies (float32 NHWC, dilation 1, output channels a multiple of 8), tfjs's own XNNPACK
 * kernel everywhere else. The stride-1 input gradient
 * (./conv2d_backprop_input.ts) is a forward convolution too, so it takes the same path.
 *
 * @module
 */
import {
  backend_util,
  type Conv2DAttrs,
  type Conv2DInputs,
  type KernelConfig,
  type KernelFunc,
  type TensorInfo,
} from "@tensorflow/tfjs-core";
import type { WasmBackend } from "./heap.ts";
import { simdConvForward } from "./conv_simd.ts";
import { geometry } from "./conv_geometry.ts";

/** The Conv2D kernel, delegating to `stock` (tfjs's own) where SIMD does not apply. */
export function conv2DOverStock(stock: KernelConfig): KernelFunc {
  const conv2D = (args: { inputs: Conv2DInputs; backend: WasmBackend; attrs: Conv2DAttrs }) => {
    const { inputs, backend, attrs } = args;
    const x = inputs.x as TensorInfo;
    const filter = inputs.filter as TensorInfo;
    const { strides, pad, dataFormat, dilations, dimRoundingMode } = attrs;
    const info = backend_util.computeConv2DInfo(
      x.shape as [number, number, number, number],
      filter.shape as [number, number, number, number],
      strides,
      dilations,
      pad,
      dimRoundingMode,
      false,
      backend_util.convertConv2DDataFormat(dataFormat),
    );
    const plain = info.dataFormat === "channelsLast" && info.dilationHeight === 1 &&
      info.dilationWidth === 1 && x.dtype === "float32" && filter.dtype === "float32";
    const out = plain
      ? simdConvForward(backend, x, filter, geometry(info, "Conv2D"), info.outShape)
      : undefined;
    return out ?? stock.kernelFunc(args as never);
  };
  return conv2D as unknown as KernelFunc;
}
