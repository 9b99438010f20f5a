/**
 * `Conv2DBackpropFilter` for tfjs-backend-wasm (which lacks it): the gradient of a 2-D
 * convolution with respect to its filter. Where it applies (output channels a multiple of 8)
 * convdeck's SIMD kernel computes it (./conv_simd.ts); elsewhere:
 *
 * Method: for a block of output pixels, build the transposed im2col matrix `colT[K, P]`
 * (K = filterHeight * filterWidth * inChannels, P = pixels in the block) directly in the wasm
 * heap, then one XNNPACK matrix multiply `colT[K, P] x dy[P, outChannels]` (run as a 1x1
 * convolution, which uses the thread pool) gives the block's filter gradient
 * `[K, outChannels]`, which is the filter layout `[fh, fw, ci, co]`. Blocks are summed.
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
import { alias, gemm, heapF32, matMul, offsetOf, scratch, type WasmBackend } from "./heap.ts";
import { simdKernels } from "./simd.ts";
import { simdConvFilterGrad } from "./conv_simd.ts";
import { type ConvGeometry, geometry } from "./conv_geometry.ts";

/** Tuning knobs of the convolution gradient kernels (tests lower them to exercise blocking). */
export const tuning = {
  /** Most float32 elements of col2im scratch one call allocates: 16 Mi (64 MiB). */
  scratchFloats: 16 * 2 ** 20,
  /** Output pixels per GEMM in the filter gradient (the GEMM's reduction length). */
  pixelBlock: 2000,
  /** GEMM of the filter gradient: XNNPACK fully-connected (one thread) or 1x1 conv (threaded). */
  filterGemm: "conv" as "conv" | "fc",
};

/** Time spent in the filter gradient's two phases (for profiling; never reset here). */
export const filterGradStats = { im2colMs: 0, gemmMs: 0 };

/**
 * Writes the transposed im2col matrix of output pixels `[p0, p0 + pb)` (pixel index
 * `p = (b * outH + oh) * outW + ow` over the whole batch) of `x` (NHWC, at float index `xBase`
 * of `heap`) to `heap` at float index `colBase`, as a contiguous `[K, pb]` matrix: row
 * `k = (r * fw + c) * inC + d`, zero where the filter tap falls in the padding.
 */
export function im2colT(
  heap: Float32Array,
  xBase: number,
  colBase: number,
  g: ConvGeometry,
  p0: number,
  pb: number,
): void {
  const { inH, inW, inC, outH, outW, fh, fw, sh, sw, padTop, padLeft } = g;
  const ih0 = new Int32Array(pb), iw0 = new Int32Array(pb), off = new Int32Array(pb);
  for (let j = 0; j < pb; j++) {
    const p = p0 + j;
    const ow = p % outW, row = (p - ow) / outW, oh = row % outH, b = (row - oh) / outH;
    ih0[j] = oh * sh - padTop;
    iw0[j] = ow * sw - padLeft;
    off[j] = xBase + ((b * inH + ih0[j]) * inW + iw0[j]) * inC;
  }
  const src = new Int32Array(pb); // heap index of channel 0 of each pixel's tap, -1 in padding
  for (let r = 0; r < fh; r++) {
    for (let c = 0; c < fw; c++) {
      const tap = (r * inW + c) * inC;
      for (let j = 0; j < pb; j++) {
        const ih = ih0[j] + r, iw = iw0[j] + c;
        src[j] = ih < 0 || ih >= inH || iw < 0 || iw >= inW ? -1 : off[j] + tap;
      }
      let dst = colBase + (r * fw + c) * inC * pb;
      for (let d = 0; d < inC; d++, dst += pb) {
        for (let j = 0; j < pb; j++) {
          const s = src[j];
          heap[dst + j] = s < 0 ? 0 : heap[s + d];
        }
      }
    }
  }
}

/**
 * Filter gradient of a convolution with geometry `g`, input `x` and output gradient `dy` (both
 * float32 NHWC tensors of the wasm backend). Returns a new tensor of shape `filterShape`.
 * Works through blocks of {@linkcode tuning}`.pixelBlock` output pixels: XNNPACK's GEMM does not
 * block its reduction dimension, so short reductions keep both operands in cache.
 */
export function convFilterGrad(
  backend: WasmBackend,
  x: TensorInfo,
  dy: TensorInfo,
  g: ConvGeometry,
  filterShape: number[],
): TensorInfo {
  const simdOut = simdConvFilterGrad(backend, x, dy, g, filterShape);
  if (simdOut !== undefined) return simdOut;
  const K = g.fh * g.fw * g.inC;
  const P = g.batch * g.outH * g.outW;
  const block = Math.max(1, Math.min(P, tuning.pixelBlock));
  const out = backend.makeOutput(filterShape, "float32");
  const outPtr = offsetOf(backend, out);
  const outId = backend.dataIdMap.get(out.dataId).id;
  const col = scratch(backend, K * block);
  const partial = block < P ? scratch(backend, K * g.outC) : undefined;
  const simd = simdKernels(backend);
  try {
    for (let p0 = 0; p0 < P; p0 += block) {
      const pb = Math.min(block, P - p0);
      const t0 = performance.now();
      if (simd !== undefined) {
        const { inH, inW, inC, outH, outW, fh, fw, sh, sw, padTop, padLeft } = g;
        simd.im2col_t(
          offsetOf(backend, x),
          col.ptr,
          inH,
          inW,
          inC,
          outH,
          outW,
          fh,
          fw,
          sh,
          sw,
          padTop,
          padLeft,
          p0,
          pb,
        );
      } else {
        im2colT(heapF32(backend), offsetOf(backend, x) / 4, col.ptr / 4, g, p0, pb);
      }
      const t1 = performance.now();
      filterGradStats.im2colMs += t1 - t0;
      const dyBlock = alias(backend, offsetOf(backend, dy) + p0 * g.outC * 4, pb * g.outC);
      const colView = alias(backend, col.ptr, K * pb);
      try {
        (tuning.filterGemm === "conv" ? gemm : matMul)(
          backend,
          colView.id,
          dyBlock.id,
          p0 === 0 ? outId : partial!.id,
          K,
          pb,
          g.outC,
        );
      } finally {
        colView.release();
        dyBlock.release();
      }
      filterGradStats.gemmMs += performance.now() - t1;
      if (p0 > 0 && simd !== undefined) {
        simd.add_into(outPtr, partial!.ptr, K * g.outC);
      } else if (p0 > 0) {
        const h = heapF32(backend);
        const o = outPtr / 4, q = partial!.ptr / 4;
        for (let i = 0; i < K * g.outC; i++) h[o + i] += h[q + i];
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
