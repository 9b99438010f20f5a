/**
 * `Conv2DBackpropFilter` for tfjs-backend-wasm (which lacks it): the gradient of a 2-D
 * convolution with respect to its filter.
 *
 * Method: for a chunk of images, build the transposed im2col matrix `colT[K, P]`
 * (K = filterHeight * filterWidth * inChannels, P = pixels of the output in the chunk) directly in
 * the wasm heap, then one XNNPACK matrix multiply `colT[K, P] x dy[P, outChannels]` gives the
 * filter gradient `[K, outChannels]`, which is the filter layout `[fh, fw, ci, co]`. Chunks are
 * summed; the chunk size bounds scratch memory (see {@linkcode scratchLimit}).
 *
 * @module
 */
import {
  backend_util,
  type Conv2DBackpropFilterAttrs,
  type Conv2DBackpropFilterInputs,
  type KernelConfig,
  type KernelFunc,
  type TensorInfo,
} from "@tensorflow/tfjs-core";
import { alias, heapF32, matMul, offsetOf, scratch, type WasmBackend } from "./heap.ts";

/** Most float32 elements of scratch (im2col) memory one kernel call allocates. */
export const scratchLimit = {
  /** Default 16 Mi floats (64 MiB); tests lower it to exercise the chunked path. */
  floats: 16 * 2 ** 20,
};

/** Geometry of one convolution, as the kernels here need it. */
export interface ConvGeometry {
  batch: number;
  inH: number;
  inW: number;
  inC: number;
  outH: number;
  outW: number;
  outC: number;
  fh: number;
  fw: number;
  sh: number;
  sw: number;
  padTop: number;
  padLeft: number;
}

/** Extracts {@linkcode ConvGeometry} from tfjs's conv info; rejects what the kernels do not do. */
export function geometry(info: backend_util.Conv2DInfo, kernel: string): ConvGeometry {
  if (info.dataFormat !== "channelsLast") {
    throw new Error(`${kernel} on wasm supports only dataFormat 'NHWC' (channelsLast)`);
  }
  if (info.dilationHeight !== 1 || info.dilationWidth !== 1) {
    throw new Error(`${kernel} on wasm supports only dilation 1`);
  }
  return {
    batch: info.batchSize,
    inH: info.inHeight,
    inW: info.inWidth,
    inC: info.inChannels,
    outH: info.outHeight,
    outW: info.outWidth,
    outC: info.outChannels,
    fh: info.filterHeight,
    fw: info.filterWidth,
    sh: info.strideHeight,
    sw: info.strideWidth,
    padTop: info.padInfo.top,
    padLeft: info.padInfo.left,
  };
}

/**
 * Writes the transposed im2col matrix of images `[b0, b0 + nb)` of `x` (NHWC, at float index
 * `xBase` of `heap`) to `heap` at float index `colBase`: row `k = (r * fw + c) * inC + d`,
 * column `p = (b * outH + oh) * outW + ow`, zero where the filter tap falls in the padding.
 */
export function im2colT(
  heap: Float32Array,
  xBase: number,
  colBase: number,
  g: ConvGeometry,
  b0: number,
  nb: number,
): void {
  const { inH, inW, inC, outH, outW, fh, fw, sh, sw, padTop, padLeft } = g;
  const P = nb * outH * outW;
  for (let r = 0; r < fh; r++) {
    for (let c = 0; c < fw; c++) {
      // Output columns whose input column ow * sw - padLeft + c lies inside [0, inW).
      const owLo = Math.max(0, Math.ceil((padLeft - c) / sw));
      const owHi = Math.min(outW, Math.floor((inW - 1 + padLeft - c) / sw) + 1);
      for (let d = 0; d < inC; d++) {
        const rowBase = colBase + ((r * fw + c) * inC + d) * P;
        for (let b = 0; b < nb; b++) {
          const imgBase = xBase + (b0 + b) * inH * inW * inC + d;
          for (let oh = 0; oh < outH; oh++) {
            const dst = rowBase + (b * outH + oh) * outW;
            const ih = oh * sh - padTop + r;
            if (ih < 0 || ih >= inH || owLo >= owHi) {
              heap.fill(0, dst, dst + outW);
              continue;
            }
            if (owLo > 0) heap.fill(0, dst, dst + owLo);
            if (owHi < outW) heap.fill(0, dst + owHi, dst + outW);
            let src = imgBase + (ih * inW + owLo * sw - padLeft + c) * inC;
            const step = sw * inC;
            for (let ow = owLo; ow < owHi; ow++, src += step) heap[dst + ow] = heap[src];
          }
        }
      }
    }
  }
}

/**
 * Filter gradient of a convolution with geometry `g`, input `x` and output gradient `dy` (both
 * float32 NHWC tensors of the wasm backend). Returns a new tensor of shape `filterShape`.
 */
export function convFilterGrad(
  backend: WasmBackend,
  x: TensorInfo,
  dy: TensorInfo,
  g: ConvGeometry,
  filterShape: number[],
): TensorInfo {
  const K = g.fh * g.fw * g.inC;
  const perImage = g.outH * g.outW;
  const chunk = Math.max(1, Math.min(g.batch, Math.floor(scratchLimit.floats / (K * perImage))));
  const out = backend.makeOutput(filterShape, "float32");
  const outPtr = offsetOf(backend, out);
  const outId = backend.dataIdMap.get(out.dataId).id;
  const col = scratch(backend, K * chunk * perImage);
  const partial = chunk < g.batch ? scratch(backend, K * g.outC) : undefined;
  try {
    for (let b0 = 0; b0 < g.batch; b0 += chunk) {
      const nb = Math.min(chunk, g.batch - b0);
      const P = nb * perImage;
      const heap = heapF32(backend);
      im2colT(heap, offsetOf(backend, x) / 4, col.ptr / 4, g, b0, nb);
      const dyChunk = alias(
        backend,
        offsetOf(backend, dy) + b0 * perImage * g.outC * 4,
        P * g.outC,
      );
      const colView = alias(backend, col.ptr, K * P);
      try {
        matMul(backend, colView.id, dyChunk.id, b0 === 0 ? outId : partial!.id, K, P, g.outC);
      } finally {
        colView.release();
        dyChunk.release();
      }
      if (b0 > 0) {
        const h = heapF32(backend);
        const o = outPtr / 4, p = partial!.ptr / 4;
        for (let i = 0; i < K * g.outC; i++) h[o + i] += h[p + i];
      }
    }
  } finally {
    col.release();
    partial?.release();
  }
  return out;
}

function conv2DBackpropFilter(args: {
  inputs: Conv2DBackpropFilterInputs;
  backend: WasmBackend;
  attrs: Conv2DBackpropFilterAttrs;
}): TensorInfo {
  const { inputs, backend, attrs } = args;
  const x = inputs.x as TensorInfo;
  const dy = inputs.dy as TensorInfo;
  const { strides, pad, dataFormat, dimRoundingMode, filterShape } = attrs;
  const info = backend_util.computeConv2DInfo(
    x.shape as [number, number, number, number],
    filterShape,
    strides,
    1,
    pad,
    dimRoundingMode,
    false,
    backend_util.convertConv2DDataFormat(dataFormat),
  );
  return convFilterGrad(backend, x, dy, geometry(info, "Conv2DBackpropFilter"), filterShape);
}

/** Kernel config registering {@linkcode conv2DBackpropFilter} for the wasm backend. */
export const conv2DBackpropFilterConfig: KernelConfig = {
  kernelName: "Conv2DBackpropFilter",
  backendName: "wasm",
  kernelFunc: conv2DBackpropFilter as unknown as KernelFunc,
};
