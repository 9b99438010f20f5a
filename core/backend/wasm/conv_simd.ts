/**
 * The convolution and its filter gradient on convdeck's SIMD module (./simd/conv.c), split
 * across {@linkcode simdPool}'s threads: register-blocked matrix products (4 pixels x 8 output
 * channels, relaxed-SIMD multiply-adds) over an indirection buffer, built per chunk of output
 * pixels, that points each pixel's filter taps at its input pixels or at a row of zeros.
 * Neither needs an im2col copy or a padded input.
 *
 * Both return undefined for what they do not cover (the caller falls back to XNNPACK or to its
 * own loops): output channels not a multiple of 8, no SIMD module, and, for the forward pass,
 * fewer than {@linkcode convSimdTuning}`.minForwardChannels` input channels, where XNNPACK's
 * own kernels are faster.
 *
 * @module
 */
import type { TensorInfo } from "@tensorflow/tfjs-core";
import { heapF32, type HeapRegion, offsetOf, scratch, type WasmBackend } from "./heap.ts";
import { type SimdPool, simdPool, splitRange } from "./simd_pool.ts";
import type { ConvGeometry } from "./conv2d_backprop_filter.ts";

/** Tuning knobs (tests lower them to exercise chunking and blocking). */
export const convSimdTuning = {
  /** Turns both kernels off (the callers' other paths then run). */
  enabled: true,
  /** Fewest input channels for the forward kernel (XNNPACK is faster on 1-3 channel images). */
  minForwardChannels: 8,
  /** Output pixels per indirection chunk (the buffer holds chunk x taps addresses). */
  pixelChunk: 16384,
  /** Input floats of a forward pixel block, kept in cache while the filter passes over it. */
  forwardBlockFloats: 65536,
  /** Output pixels per filter-gradient block. */
  filterBlock: 256,
};

/** Runs `body` with a zeroed row of `floats` floats (the padding's input) and an indirection buffer. */
function withBuffers<T>(
  backend: WasmBackend,
  g: ConvGeometry,
  body: (zero: HeapRegion, ind: HeapRegion, chunk: number) => T,
): T {
  const P = g.batch * g.outH * g.outW;
  const chunk = Math.max(4, Math.min(P, convSimdTuning.pixelChunk));
  const zero = scratch(backend, g.inC);
  let ind: HeapRegion | undefined;
  try {
    ind = scratch(backend, chunk * g.fh * g.fw);
    heapF32(backend).fill(0, zero.ptr / 4, zero.ptr / 4 + g.inC);
    return body(zero, ind, chunk);
  } finally {
    ind?.release();
    zero.release();
  }
}

/** Fills the indirection buffer for output pixels `[c0, c1)`, split across the pool. */
function indirection(
  pool: SimdPool,
  g: ConvGeometry,
  xPtr: number,
  zeroPtr: number,
  indBase: number,
  c0: number,
  c1: number,
): void {
  pool.run("conv_indirection", (i) => {
    const [p0, p1] = splitRange(c0, c1, pool.parts, i, 4);
    return [
      indBase,
      xPtr,
      zeroPtr,
      g.inH,
      g.inW,
      g.inC,
      g.outH,
      g.outW,
      g.fh,
      g.fw,
      g.sh,
      g.sw,
      g.padTop,
      g.padLeft,
      p0,
      p1,
    ];
  });
}

/**
 * Convolution of `x` with `filter` (`[fh, fw, inC, outC]`), geometry `g`, into a new NHWC
 * tensor; undefined when not covered (see the module doc).
 */
export function simdConvForward(
  backend: WasmBackend,
  x: TensorInfo,
  filter: TensorInfo,
  g: ConvGeometry,
  outShape: number[],
): TensorInfo | undefined {
  if (!convSimdTuning.enabled || g.outC % 8 !== 0) return undefined;
  if (g.inC < convSimdTuning.minForwardChannels) return undefined;
  const pool = simdPool(backend);
  if (pool === undefined) return undefined;
  const P = g.batch * g.outH * g.outW;
  if (P === 0) return undefined;
  const taps = g.fh * g.fw;
  const block = Math.max(4, Math.floor(convSimdTuning.forwardBlockFloats / g.inC / 4) * 4);
  const out = backend.makeOutput(outShape, "float32");
  withBuffers(backend, g, (zero, ind, chunk) => {
    const xPtr = offsetOf(backend, x), wPtr = offsetOf(backend, filter);
    const yPtr = offsetOf(backend, out);
    for (let c0 = 0; c0 < P; c0 += chunk) {
      const c1 = Math.min(P, c0 + chunk);
      // ind is indexed by absolute pixel: shift its base back by c0 (wraps like wasm's i32).
      const indBase = (ind.ptr - c0 * taps * 4) | 0;
      indirection(pool, g, xPtr, zero.ptr, indBase, c0, c1);
      pool.run("conv_forward", (i) => {
        const [p0, p1] = splitRange(c0, c1, pool.parts, i, 4);
        return [yPtr, indBase, wPtr, taps, g.inC, g.outC, block, p0, p1];
      });
    }
  });
  return out;
}

/**
 * Filter gradient of the convolution with geometry `g` of `x` (its output gradient `dy`) into
 * a new tensor of shape `filterShape`; undefined when not covered (see the module doc).
 */
export function simdConvFilterGrad(
  backend: WasmBackend,
  x: TensorInfo,
  dy: TensorInfo,
  g: ConvGeometry,
  filterShape: number[],
): TensorInfo | undefined {
  if (!convSimdTuning.enabled || g.outC % 8 !== 0) return undefined;
  const pool = simdPool(backend);
  if (pool === undefined) return undefined;
  const P = g.batch * g.outH * g.outW;
  if (P === 0) return undefined;
  const taps = g.fh * g.fw;
  const K = taps * g.inC;
  const block = Math.max(1, convSimdTuning.filterBlock);
  const out = backend.makeOutput(filterShape, "float32");
  withBuffers(backend, g, (zero, ind, chunk) => {
    const xPtr = offsetOf(backend, x), dyPtr = offsetOf(backend, dy);
    const dwPtr = offsetOf(backend, out);
    for (let c0 = 0; c0 < P; c0 += chunk) {
      const c1 = Math.min(P, c0 + chunk);
      const indBase = (ind.ptr - c0 * taps * 4) | 0;
      indirection(pool, g, xPtr, zero.ptr, indBase, c0, c1);
      pool.run("conv_filter_grad", (i) => {
        const [k0, k1] = splitRange(0, K, pool.parts, i, 4);
        return [dwPtr, indBase, dyPtr, taps, g.inC, g.outC, c0, c1, block, k0, k1, c0 > 0 ? 1 : 0];
      });
    }
  });
  return out;
}
