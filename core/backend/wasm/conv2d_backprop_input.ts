/**
 * Fast `Conv2DBackpropInput` for tfjs-backend-wasm (whose own is a scalar loop that takes about
 * two thirds of a training step): the gradient of a 2-D convolution with respect to its input.
 *
 * - Stride 1: a forward convolution (XNNPACK) of `dy`, padded by `filter - 1 - pad`, with the
 *   filter flipped spatially and its in/out channels swapped.
 * - Other strides: `dcol[P, K] = dy[P, outC] x filterT[outC, K]` through XNNPACK's matrix multiply,
 *   then col2im (scatter-add of `dcol` rows into `dx`), chunked by images to bound memory.
 *
 * @module
 */
import {
  backend_util,
  type Conv2DBackpropInputAttrs,
  type Conv2DBackpropInputInputs,
  getKernel,
  type KernelConfig,
  type KernelFunc,
  type TensorInfo,
} from "@tensorflow/tfjs-core";
import { alias, gemm, heapF32, offsetOf, scratch, type WasmBackend } from "./heap.ts";
import { simdKernels } from "./simd.ts";
import { tuning } from "./conv2d_backprop_filter.ts";
import { type ConvGeometry, geometry } from "./conv_geometry.ts";

/** `filter[fh, fw, ci, co]` flipped spatially with channels swapped: `[fh, fw, co, ci]`. */
function flippedFilter(backend: WasmBackend, filter: TensorInfo, g: ConvGeometry): TensorInfo {
  const { fh, fw, inC, outC } = g;
  const out = backend.makeOutput([fh, fw, outC, inC], "float32");
  const simd = simdKernels(backend);
  if (simd !== undefined) {
    simd.flip_filter(offsetOf(backend, out), offsetOf(backend, filter), fh, fw, inC, outC);
    return out;
  }
  const heap = heapF32(backend);
  const src = offsetOf(backend, filter) / 4;
  const dst = offsetOf(backend, out) / 4;
  for (let r = 0; r < fh; r++) {
    for (let c = 0; c < fw; c++) {
      const s0 = src + (r * fw + c) * inC * outC;
      const d0 = dst + ((fh - 1 - r) * fw + (fw - 1 - c)) * outC * inC;
      for (let i = 0; i < inC; i++) {
        for (let o = 0; o < outC; o++) heap[d0 + o * inC + i] = heap[s0 + i * outC + o];
      }
    }
  }
  return out;
}

/** Stride-1 input gradient as a forward convolution; undefined when the padding does not fit. */
function viaForwardConv(
  backend: WasmBackend,
  dy: TensorInfo,
  filter: TensorInfo,
  g: ConvGeometry,
): TensorInfo | undefined {
  const top = g.fh - 1 - g.padTop;
  const left = g.fw - 1 - g.padLeft;
  const bottom = g.inH - g.outH - top + g.fh - 1;
  const right = g.inW - g.outW - left + g.fw - 1;
  if (Math.min(top, left, bottom, right) < 0) return undefined;
  const conv = getKernel("Conv2D", "wasm");
  if (conv === undefined) throw new Error("wasm Conv2D kernel is not registered");
  const flipped = flippedFilter(backend, filter, g);
  try {
    return conv.kernelFunc({
      inputs: { x: dy, filter: flipped },
      backend,
      attrs: {
        strides: [1, 1],
        pad: [[0, 0], [top, bottom], [left, right], [0, 0]],
        dataFormat: "NHWC",
        dilations: [1, 1],
      },
    }) as TensorInfo;
  } finally {
    backend.disposeData(flipped.dataId);
  }
}

/** Input gradient for any stride: matrix multiply then col2im, chunked by images. */
function viaCol2im(
  backend: WasmBackend,
  dy: TensorInfo,
  filter: TensorInfo,
  g: ConvGeometry,
  inputShape: number[],
): TensorInfo {
  const { batch, inH, inW, inC, outH, outW, outC, fh, fw, sh, sw, padTop, padLeft } = g;
  const K = fh * fw * inC;
  const perImage = outH * outW;
  const chunk = Math.max(1, Math.min(batch, Math.floor(tuning.scratchFloats / (K * perImage))));
  const dx = backend.makeOutput(inputShape, "float32");
  const filterT = scratch(backend, outC * K);
  const dcol = scratch(backend, chunk * perImage * K);
  try {
    let heap = heapF32(backend);
    const f0 = offsetOf(backend, filter) / 4;
    const t0 = filterT.ptr / 4;
    for (let k = 0; k < K; k++) {
      for (let o = 0; o < outC; o++) heap[t0 + o * K + k] = heap[f0 + k * outC + o];
    }
    const dxBase = offsetOf(backend, dx) / 4;
    heap.fill(0, dxBase, dxBase + batch * inH * inW * inC);
    for (let b0 = 0; b0 < batch; b0 += chunk) {
      const nb = Math.min(chunk, batch - b0);
      const P = nb * perImage;
      const dyChunk = alias(backend, offsetOf(backend, dy) + b0 * perImage * outC * 4, P * outC);
      const wView = alias(backend, filterT.ptr, outC * K);
      try {
        gemm(backend, dyChunk.id, wView.id, dcol.id, P, outC, K);
      } finally {
        wView.release();
        dyChunk.release();
      }
      heap = heapF32(backend);
      let row = dcol.ptr / 4;
      for (let b = b0; b < b0 + nb; b++) {
        const img = dxBase + b * inH * inW * inC;
        for (let oh = 0; oh < outH; oh++) {
          for (let ow = 0; ow < outW; ow++, row += K) {
            for (let r = 0; r < fh; r++) {
              const ih = oh * sh - padTop + r;
              if (ih < 0 || ih >= inH) continue;
              for (let c = 0; c < fw; c++) {
                const iw = ow * sw - padLeft + c;
                if (iw < 0 || iw >= inW) continue;
                const src = row + (r * fw + c) * inC;
                const dst = img + (ih * inW + iw) * inC;
                for (let d = 0; d < inC; d++) heap[dst + d] += heap[src + d];
              }
            }
          }
        }
      }
    }
  } finally {
    dcol.release();
    filterT.release();
  }
  return dx;
}

function conv2DBackpropInput(args: {
  inputs: Conv2DBackpropInputInputs;
  backend: WasmBackend;
  attrs: Conv2DBackpropInputAttrs;
}): TensorInfo {
  const { inputs, backend, attrs } = args;
  const dy = inputs.dy as TensorInfo;
  const filter = inputs.filter as TensorInfo;
  const { strides, pad, dataFormat, dimRoundingMode, inputShape } = attrs;
  const info = backend_util.computeConv2DInfo(
    inputShape,
    filter.shape as [number, number, number, number],
    strides,
    1,
    pad,
    dimRoundingMode,
    false,
    backend_util.convertConv2DDataFormat(dataFormat),
  );
  const g = geometry(info, "Conv2DBackpropInput");
  if (g.sh === 1 && g.sw === 1) {
    const out = viaForwardConv(backend, dy, filter, g);
    if (out !== undefined) return out;
  }
  return viaCol2im(backend, dy, filter, g, inputShape);
}

/** Kernel config registering {@linkcode conv2DBackpropInput} for the wasm backend. */
export const conv2DBackpropInputConfig: KernelConfig = {
  kernelName: "Conv2DBackpropInput",
  backendName: "wasm",
  kernelFunc: conv2DBackpropInput as unknown as KernelFunc,
};
