/**
 * `DepthwiseConv2dNativeBackpropInput` and `DepthwiseConv2dNativeBackpropFilter` for
 * tfjs-backend-wasm (which lacks both): the gradients of depthwise convolutions, used by
 * DepthwiseConv2D and SeparableConv2D layers. Direct loops over the wasm heap (depthwise
 * convolutions are memory-bound: one multiply-add per loaded value).
 *
 * @module
 */
import {
  backend_util,
  type DepthwiseConv2dNativeBackpropFilterAttrs,
  type DepthwiseConv2dNativeBackpropFilterInputs,
  type DepthwiseConv2dNativeBackpropInputAttrs,
  type DepthwiseConv2dNativeBackpropInputInputs,
  type KernelConfig,
  type KernelFunc,
  type TensorInfo,
} from "@tensorflow/tfjs-core";
import { heapF32, offsetOf, type WasmBackend } from "./heap.ts";

type Info = backend_util.Conv2DInfo;

/**
 * Calls `visit(dyIndex, xIndex, filterIndex)` (float indices of the first channel) for every
 * (output pixel, filter tap) pair whose tap lies inside the input.
 */
function forEachTap(info: Info, visit: (dy: number, x: number, f: number) => void): void {
  if (info.dilationHeight !== 1 || info.dilationWidth !== 1) {
    // tfjs's depthwise gradient rejects dilation > 1 before reaching a kernel; so do we.
    throw new Error("depthwise convolution gradients on wasm support only dilation 1");
  }
  const {
    batchSize,
    inHeight,
    inWidth,
    inChannels,
    outHeight,
    outWidth,
    outChannels,
    filterHeight,
    filterWidth,
    strideHeight,
    strideWidth,
    dilationHeight,
    dilationWidth,
    padInfo,
  } = info;
  for (let b = 0; b < batchSize; b++) {
    for (let oh = 0; oh < outHeight; oh++) {
      for (let ow = 0; ow < outWidth; ow++) {
        const dyIdx = ((b * outHeight + oh) * outWidth + ow) * outChannels;
        for (let r = 0; r < filterHeight; r++) {
          const ih = oh * strideHeight - padInfo.top + r * dilationHeight;
          if (ih < 0 || ih >= inHeight) continue;
          for (let s = 0; s < filterWidth; s++) {
            const iw = ow * strideWidth - padInfo.left + s * dilationWidth;
            if (iw < 0 || iw >= inWidth) continue;
            visit(
              dyIdx,
              ((b * inHeight + ih) * inWidth + iw) * inChannels,
              (r * filterWidth + s) * outChannels,
            );
          }
        }
      }
    }
  }
}

function backpropInput(args: {
  inputs: DepthwiseConv2dNativeBackpropInputInputs;
  backend: WasmBackend;
  attrs: DepthwiseConv2dNativeBackpropInputAttrs;
}): TensorInfo {
  const { inputs, backend, attrs } = args;
  const dy = inputs.dy as TensorInfo, filter = inputs.filter as TensorInfo;
  const { strides, dilations, pad, dimRoundingMode, inputShape } = attrs;
  const info = backend_util.computeConv2DInfo(
    inputShape,
    filter.shape as [number, number, number, number],
    strides,
    dilations,
    pad,
    dimRoundingMode,
    true,
  );
  const dx = backend.makeOutput(inputShape, "float32");
  const heap = heapF32(backend);
  const dxBase = offsetOf(backend, dx) / 4;
  const dyBase = offsetOf(backend, dy) / 4;
  const fBase = offsetOf(backend, filter) / 4;
  heap.fill(0, dxBase, dxBase + inputShape.reduce((a, b) => a * b));
  const C = info.inChannels, M = info.outChannels / info.inChannels;
  forEachTap(info, (dyI, xI, fI) => {
    for (let c = 0; c < C; c++) {
      let acc = 0;
      for (let m = 0; m < M; m++) {
        acc += heap[dyBase + dyI + c * M + m] * heap[fBase + fI + c * M + m];
      }
      heap[dxBase + xI + c] += acc;
    }
  });
  return dx;
}

function backpropFilter(args: {
  inputs: DepthwiseConv2dNativeBackpropFilterInputs;
  backend: WasmBackend;
  attrs: DepthwiseConv2dNativeBackpropFilterAttrs;
}): TensorInfo {
  const { inputs, backend, attrs } = args;
  const x = inputs.x as TensorInfo, dy = inputs.dy as TensorInfo;
  const { strides, dilations, pad, dimRoundingMode, filterShape } = attrs;
  const info = backend_util.computeConv2DInfo(
    x.shape as [number, number, number, number],
    filterShape,
    strides,
    dilations,
    pad,
    dimRoundingMode,
    true,
  );
  const df = backend.makeOutput(filterShape, "float32");
  const heap = heapF32(backend);
  const dfBase = offsetOf(backend, df) / 4;
  const dyBase = offsetOf(backend, dy) / 4;
  const xBase = offsetOf(backend, x) / 4;
  heap.fill(0, dfBase, dfBase + filterShape.reduce((a, b) => a * b));
  const C = info.inChannels, M = info.outChannels / info.inChannels;
  forEachTap(info, (dyI, xI, fI) => {
    for (let c = 0; c < C; c++) {
      const xv = heap[xBase + xI + c];
      for (let m = 0; m < M; m++) {
        heap[dfBase + fI + c * M + m] += xv * heap[dyBase + dyI + c * M + m];
      }
    }
  });
  return df;
}

/** Kernel config of the depthwise input gradient for the wasm backend. */
export const depthwiseBackpropInputConfig: KernelConfig = {
  kernelName: "DepthwiseConv2dNativeBackpropInput",
  backendName: "wasm",
  kernelFunc: backpropInput as unknown as KernelFunc,
};

/** Kernel config of the depthwise filter gradient for the wasm backend. */
export const depthwiseBackpropFilterConfig: KernelConfig = {
  kernelName: "DepthwiseConv2dNativeBackpropFilter",
  backendName: "wasm",
  kernelFunc: backpropFilter as unknown as KernelFunc,
};
