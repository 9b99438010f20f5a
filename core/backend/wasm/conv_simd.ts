/**
 * The convolution and its filter gradient on convdeck's SIMD module (./simd/conv.c), split
 * across {@linkcode simdPool}'s threads: register-blocked matrix products (4 pixels x 8 output
 * channels, relaxed-SIMD multiply-adds) over an indirection buffer, built per chunk of output
 * pixels, that points each pixel's filter taps at its input pixels or at a row of zeros.
 * Neither needs an im2col copy or a padded input. Stride-1 3x3 convolutions with input channels
 * in fours (every conv layer of the book's model but the first: forward, input and filter
 * gradient) run by Winograd F(2x2, 3x3) instead where its tiles pay (see `winogradApplies`):
 * 2x2 output tiles, 16 matrix products of transformed inputs and filters (or output gradients),
 * 2.25x fewer multiply-adds; F(4x4, 3x3) where it needs fewer still (36 products for 16
 * outputs). On small images (see `byPosition`) the direct kernels take the pixels position by
 * position, 4 images at one output position to a tile, and skip the taps that fall in the
 * padding for all 4. The operand read across its rows (the
 * filter; the output gradient) is first copied into 8-channel panels read in order, and the
 * forward pass packs each block's inputs 4 pixels to a vector: Deno's V8 checks every wasm
 * memory access against the memory's bounds, so the fewer accesses per multiply-add the better.
 *
 * Both return undefined for what they do not cover (the caller falls back to XNNPACK or to its
 * own loops): output channels not a multiple of 8, or no SIMD module. They also take the first
 * layer (1-3 input channels): XNNPACK is no faster there, and every XNNPACK call left in a step
 * leaves its thread pool spinning against these kernels' helper threads (measured at 28x28x1,
 * batch 64: 241-262 images/s in seven runs with the first layer here, 200-264 on XNNPACK).
 *
 * @module
 */
import type { TensorInfo } from "@tensorflow/tfjs-core";
import { heapF32, type HeapRegion, offsetOf, scratch, type WasmBackend } from "./heap.ts";
import { type SimdPool, simdPool } from "./simd_pool.ts";
import type { ConvGeometry } from "./conv_geometry.ts";

/** Tuning knobs (tests lower them to exercise chunking and blocking). */
export const convSimdTuning = {
  /** Turns both kernels off (the callers' other paths then run). */
  enabled: true,
  /** Fewest input channels for the forward kernel (more sends thinner convolutions to XNNPACK). */
  minForwardChannels: 1,
  /** Output pixels per indirection chunk (the buffer holds chunk x taps addresses). */
  pixelChunk: 16384,
  /**
   * Packed input floats (pixels x taps x channels) of a forward pixel block, per thread, kept in
   * cache while the filter passes over it (32768 to 393216 measured alike on one thread).
   */
  forwardBlockFloats: 65536,
  /**
   * Output pixels per filter-gradient block: the block's inputs, addresses and output-gradient
   * panel stay in L1 while every 8-channel panel passes (128 measured at or above 256 on the
   * book's layers; 256 fell behind at 256 channels).
   */
  filterBlock: 128,
  /**
   * Stride-1 3x3 convolutions (forward, so also the stride-1 input gradient, and the filter
   * gradient) by Winograd F(2x2, 3x3) when the input has at least this many channels, a
   * multiple of 4 (0: never); see `winogradApplies`.
   */
  winogradMinChannels: 8,
  /** Lets Winograd take 4x4 output tiles where they pay (see `winogradTile`). */
  winograd4x4: true,
  /**
   * Transformed input and product floats of a Winograd tile block, per thread:
   * `n * tiles * (C + CO)` (n = 16 planes for 2x2 tiles, 36 for 4x4): 2x2 tiles, 128 at 32
   * channels in and out, 16 at 256 (blocks of 16 to 256 tiles ran alike on one thread on the
   * book's layers); 4x4 tiles, 56 and 4.
   */
  winogradBlockFloats: 131072,
  /**
   * Transformed input and output-gradient floats of a chunk of tiles of the Winograd filter
   * gradient, `n * tiles * (C + CO)` (n as above; all threads share a chunk).
   */
  winogradGradChunkFloats: 524288,
  /**
   * The direct kernels take the pixels position by position when less than this fraction of
   * the output pixels' filter taps read the input (0: never); see `byPosition`.
   */
  byPositionBelow: 0.75,
};

/** Calls that took the SIMD path (tests check that their cases reach it). */
export const convSimdStats = {
  forward: 0,
  filterGrad: 0,
  winograd: 0,
  winograd4x4: 0,
  byPosition: 0,
};

/**
 * What a call both kernels cover runs with: the pool, output pixels `P`, filter rows `K`, and
 * the pixels' order: image by image (`slots` 0), or position by position with `slots` (the
 * batch rounded up to 4) images to each of the output's `positions` (see `byPosition`).
 */
interface SimdCall {
  pool: SimdPool;
  P: number;
  taps: number;
  K: number;
  slots: number;
  positions: number;
}

/** The call's {@linkcode SimdCall}, or undefined when the SIMD kernels do not cover it. */
function simdCall(backend: WasmBackend, g: ConvGeometry): SimdCall | undefined {
  if (!convSimdTuning.enabled || g.outC % 8 !== 0) return undefined;
  const pool = simdPool(backend);
  if (pool === undefined) return undefined;
  const positions = g.outH * g.outW;
  if (g.batch * positions === 0) return undefined;
  const taps = g.fh * g.fw;
  const slots = byPosition(g) ? Math.ceil(g.batch / 4) * 4 : 0;
  const P = slots > 0 ? slots * positions : g.batch * positions;
  return { pool, P, taps, K: taps * g.inC, slots, positions };
}

/**
 * Whether the direct kernels take the pixels of `g` position by position (4 images at one
 * output position to a tile): when at least a quarter of the output pixels' taps fall in the
 * padding, as on small images (32 of a 3x3 image's 81 with "same" padding; 4x4: 44 of 144),
 * since the taps a tile's pixels all read in the padding are then skipped.
 */
function byPosition(g: ConvGeometry): boolean {
  // Taps of a filter dimension that read the input, summed over the output's positions.
  const inside = (out: number, f: number, s: number, pad: number, size: number) => {
    let n = 0;
    for (let o = 0; o < out; o++) {
      for (let r = 0; r < f; r++) n += o * s - pad + r >= 0 && o * s - pad + r < size ? 1 : 0;
    }
    return n;
  };
  const read = inside(g.outH, g.fh, g.sh, g.padTop, g.inH) *
    inside(g.outW, g.fw, g.sw, g.padLeft, g.inW);
  return read < convSimdTuning.byPositionBelow * g.outH * g.outW * g.fh * g.fw;
}

/**
 * Pieces to cut `count` pixels or tiles into for kernels that pass the whole filter over each
 * block of `block` of them: up to 8 per thread (for balance), but none smaller than a block, as
 * each piece reads the whole filter again (the book's 256-channel layer at 4x4 pixels, batch
 * 16, cut into 16 pieces of 4 tiles, read its 4 MB Winograd filter 16 times and ran no faster
 * on 2 threads than on 1); at least one per thread.
 */
function blockPieces(pool: SimdPool, count: number, block: number): number {
  return Math.max(pool.parts, Math.min(8 * pool.parts, Math.floor(count / block)));
}

/**
 * Runs a kernel over the output pixels of `x`'s convolution, chunk by chunk: allocates a zeroed
 * row of `inC` floats (the padding's input), an indirection buffer for a chunk and `extra`
 * floats of scratch (`work`), calls `start` once, then fills the indirection buffer of each
 * chunk `[c0, c1)` and runs the chunk function `start` returned on it; frees the buffers after.
 * `indBase` is the buffer's base shifted back by `c0` pixels, as the kernels index it by
 * absolute pixel (it wraps like wasm's i32).
 */
function overChunks(
  backend: WasmBackend,
  call: SimdCall,
  g: ConvGeometry,
  x: TensorInfo,
  extra: number,
  start: (work: HeapRegion, zero: HeapRegion) => (c0: number, c1: number, indBase: number) => void,
): void {
  const { pool, P, taps, slots } = call;
  // Position by position, chunks hold whole positions (the filter gradient's blocks).
  const chunk = slots > 0
    ? slots * Math.max(1, Math.floor(convSimdTuning.pixelChunk / slots))
    : Math.max(4, Math.min(P, convSimdTuning.pixelChunk));
  withScratch(backend, g.inC, (zero, take) => {
    const ind = take(chunk * taps);
    const work = take(extra);
    const xPtr = offsetOf(backend, x);
    const runChunk = start(work, zero);
    for (let c0 = 0; c0 < P; c0 += chunk) {
      const c1 = Math.min(P, c0 + chunk);
      const indBase = (ind.ptr - c0 * taps * 4) | 0;
      indirection(pool, g, slots, xPtr, zero.ptr, indBase, c0, c1);
      runChunk(c0, c1, indBase);
    }
  });
}

/**
 * Runs `body` with a zeroed row of `zeros` floats (the padding's input) and `take`, which
 * allocates more scratch; releases every region after, also when `body` throws.
 */
function withScratch<T>(
  backend: WasmBackend,
  zeros: number,
  body: (zero: HeapRegion, take: (floats: number) => HeapRegion) => T,
): T {
  const regions: HeapRegion[] = [];
  const take = (floats: number) => {
    const r = scratch(backend, floats);
    regions.push(r);
    return r;
  };
  try {
    const zero = take(zeros);
    heapF32(backend).fill(0, zero.ptr / 4, zero.ptr / 4 + zeros);
    return body(zero, take);
  } finally {
    for (const r of regions) r.release();
  }
}

/** Fills the indirection buffer for output pixels `[c0, c1)`, split across the pool. */
function indirection(
  pool: SimdPool,
  g: ConvGeometry,
  slots: number,
  xPtr: number,
  zeroPtr: number,
  indBase: number,
  c0: number,
  c1: number,
): void {
  pool.run("conv_indirection", {
    args: [
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
      slots,
      g.batch,
      c0,
      c1,
    ],
    range: [16, 17],
    align: 4,
    pieces: 4 * pool.parts,
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
  if (g.inC < convSimdTuning.minForwardChannels) return undefined;
  const call = simdCall(backend, g);
  if (call === undefined) return undefined;
  if (winogradApplies(g, false)) return winogradForward(backend, call.pool, x, filter, g, outShape);
  const { pool, taps, K, slots, positions } = call;
  const block = Math.max(4, Math.floor(convSimdTuning.forwardBlockFloats / K / 4) * 4);
  const out = backend.makeOutput(outShape, "float32");
  convSimdStats.forward++;
  if (slots > 0) convSimdStats.byPosition++;
  // The filter's panels, then each thread's packed inputs and its tiles' lists of taps.
  const perThread = block * K + block / 4 * (taps + 1);
  overChunks(backend, call, g, x, K * g.outC + pool.parts * perThread, (work, zero) => {
    const panels = work.ptr, packed = work.ptr + K * g.outC * 4;
    const yPtr = offsetOf(backend, out);
    pool.run("pack_panels", {
      args: [panels, offsetOf(backend, filter), K, g.outC, 0, g.outC],
      range: [4, 5],
      align: 8,
      pieces: 4 * pool.parts,
    });
    return (c0, c1, indBase) =>
      pool.run("conv_forward", {
        args: [
          yPtr,
          indBase,
          panels,
          packed,
          zero.ptr,
          taps,
          g.inC,
          g.outC,
          block,
          slots,
          g.batch,
          positions,
          c0,
          c1,
        ],
        range: [12, 13],
        align: 4,
        pieces: blockPieces(pool, c1 - c0, block),
        perThread: [3, perThread * 4],
      });
  });
  return out;
}

/**
 * Whether Winograd takes the forward pass (`filter` false) or the filter gradient of a
 * convolution of geometry `g`: 3x3, stride 1, input channels a multiple of 4 from
 * {@linkcode convSimdTuning}'s minimum, and an output whose tiles save at least 1.5x of the
 * multiply-adds (9 per output pixel against 16 per 2x2 tile or 36 per 4x4 tile, see
 * {@linkcode winogradTile}). The filter gradient counts 2x2 tiles only: on a 3x3 output (one
 * 4x4 tile, 36 against 81) the forward pass ran 1.2-1.4x faster on 4x4 tiles than the direct
 * kernel position by position (256 -> 256 channels, batch 64, 2 threads), the filter gradient
 * no faster.
 */
function winogradApplies(g: ConvGeometry, filter: boolean): boolean {
  const min = convSimdTuning.winogradMinChannels;
  if (
    min <= 0 || g.fh !== 3 || g.fw !== 3 || g.sh !== 1 || g.sw !== 1 || g.inC < min ||
    g.inC % 4 !== 0
  ) return false;
  const products = filter || winogradTile(g) === 2 ? 16 * tiles(g, 2) : 36 * tiles(g, 4);
  return 9 * g.outH * g.outW >= 1.5 * products;
}

/** Output tiles of `tile` x `tile` pixels that cover one image of `g`'s output. */
function tiles(g: ConvGeometry, tile: number): number {
  return Math.ceil(g.outH / tile) * Math.ceil(g.outW / tile);
}

/**
 * The output tile Winograd takes for `g` (where {@linkcode winogradApplies}), in the forward
 * pass and the filter gradient: 4x4, F(4x4, 3x3), 36 multiply-adds per pair of channels for 16
 * outputs, where that needs fewer multiply-adds than F(2x2, 3x3)'s 16 per 4 outputs over the
 * output's tiles (every image of 4x4 pixels and more but 5x5 and 6x6, which tie); else 2x2. On
 * one thread F(4x4) ran the book's layers 1.2-1.6x faster than F(2x2) forward, 1.2-1.7x in the
 * filter gradient; its forward sums are further from the direct convolution's: 2e-5 to 4e-5 of
 * the largest output there, against 1e-6 to 3e-6.
 */
function winogradTile(g: ConvGeometry): 2 | 4 {
  return convSimdTuning.winograd4x4 && 36 * tiles(g, 4) < 16 * tiles(g, 2) ? 4 : 2;
}

/**
 * Stride-1 3x3 convolution by Winograd (conv.c), F(4x4, 3x3) or F(2x2, 3x3) (see
 * {@linkcode winogradTile}): the filter's transform split over the output channels, then the
 * output tiles over the pool, in blocks of tiles whose transformed inputs and products stay in
 * cache. On one thread F(2x2) ran the book's layers 1.4-1.7x (7x7 images) to 2.2x faster than
 * the direct kernel, F(4x4) 1.2-1.6x faster again.
 */
function winogradForward(
  backend: WasmBackend,
  pool: SimdPool,
  x: TensorInfo,
  filter: TensorInfo,
  g: ConvGeometry,
  outShape: number[],
): TensorInfo {
  const tile = winogradTile(g);
  const nn = (tile + 2) ** 2;
  const tilesH = Math.ceil(g.outH / tile), tilesW = Math.ceil(g.outW / tile);
  const tiles = g.batch * tilesH * tilesW;
  const perTile = nn * (g.inC + g.outC);
  const block = Math.max(4, Math.floor(convSimdTuning.winogradBlockFloats / perTile / 4) * 4);
  // Addresses, transformed inputs (nn planes, a cache line apart: conv.c's PLANE), products,
  // transpose.
  const work = nn * block + nn * (block * g.inC + 16) + nn * block * g.outC + 16 * nn;
  const out = backend.makeOutput(outShape, "float32");
  convSimdStats.forward++;
  convSimdStats.winograd++;
  if (tile === 4) convSimdStats.winograd4x4++;
  withScratch(backend, g.inC, (zero, take) => {
    const up = take(nn * g.inC * g.outC);
    const scratchPtr = take(pool.parts * work);
    pool.run("winograd_filter", {
      args: [up.ptr, offsetOf(backend, filter), g.inC, g.outC, tile, 0, g.outC],
      range: [5, 6],
      align: 8,
      pieces: 4 * pool.parts,
    });
    pool.run("winograd_forward", {
      args: [
        offsetOf(backend, out),
        offsetOf(backend, x),
        up.ptr,
        scratchPtr.ptr,
        zero.ptr,
        g.inH,
        g.inW,
        g.inC,
        g.outH,
        g.outW,
        g.outC,
        g.padTop,
        g.padLeft,
        tilesH,
        tilesW,
        tile,
        block,
        0,
        tiles,
      ],
      range: [17, 18],
      align: 4,
      pieces: blockPieces(pool, tiles, block),
      perThread: [3, work * 4],
    });
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
  const call = simdCall(backend, g);
  if (call === undefined) return undefined;
  if (winogradApplies(g, true)) {
    return winogradFilterGrad(backend, call.pool, x, dy, g, filterShape);
  }
  const { pool, taps, K, slots, positions } = call;
  const block = slots > 0 ? slots : Math.max(1, convSimdTuning.filterBlock);
  const out = backend.makeOutput(filterShape, "float32");
  convSimdStats.filterGrad++;
  if (slots > 0) convSimdStats.byPosition++;
  // Each thread's copies of a block: dy's panels, then the inputs of its rows (conv.c).
  const perThread = block * (g.outC + K + 3);
  overChunks(backend, call, g, x, pool.parts * perThread, (pack, zero) => {
    const dyPtr = offsetOf(backend, dy), dwPtr = offsetOf(backend, out);
    return (c0, c1, indBase) =>
      pool.run("conv_filter_grad", {
        args: [
          dwPtr,
          indBase,
          dyPtr,
          pack.ptr,
          zero.ptr,
          taps,
          g.inC,
          g.outC,
          slots,
          g.batch,
          positions,
          c0,
          c1,
          block,
          0,
          K,
          c0 > 0 ? 1 : 0,
        ],
        range: [14, 15],
        align: 4,
        // Each piece copies every dy block into its thread's panels: a few pieces per thread.
        pieces: 4 * pool.parts,
        perThread: [3, perThread * 4],
      });
  });
  return out;
}

/**
 * Filter gradient of a stride-1 3x3 convolution by Winograd (conv.c), on the forward pass's tiles
 * ({@linkcode winogradTile}): chunk by chunk of tiles, their transforms (split over the tiles),
 * then the 16 or 36 sums over them (split over the sums' rows); last the filter rows from the
 * sums.
 */
function winogradFilterGrad(
  backend: WasmBackend,
  pool: SimdPool,
  x: TensorInfo,
  dy: TensorInfo,
  g: ConvGeometry,
  filterShape: number[],
): TensorInfo {
  const { inC: C, outC: CO } = g;
  const tile = winogradTile(g);
  const nn = (tile + 2) ** 2;
  const tilesH = Math.ceil(g.outH / tile), tilesW = Math.ceil(g.outW / tile);
  const tiles = g.batch * tilesH * tilesW;
  const chunk = Math.min(
    tiles,
    Math.max(4, Math.floor(convSimdTuning.winogradGradChunkFloats / (nn * (C + CO)))),
  );
  const out = backend.makeOutput(filterShape, "float32");
  convSimdStats.filterGrad++;
  convSimdStats.winograd++;
  if (tile === 4) convSimdStats.winograd4x4++;
  withScratch(backend, Math.max(C, CO), (zero, take) => {
    // nn planes each, a cache line apart (conv.c's PLANE).
    const sums = take(nn * (C * CO + 16));
    const vs = take(nn * (chunk * C + 16));
    const zs = take(nn * (chunk * CO + 16));
    const ind = take(nn * pool.parts);
    const xPtr = offsetOf(backend, x), dyPtr = offsetOf(backend, dy);
    for (let c0 = 0; c0 < tiles; c0 += chunk) {
      const n = Math.min(chunk, tiles - c0);
      pool.run("winograd_grad_transform", {
        args: [
          vs.ptr,
          zs.ptr,
          ind.ptr,
          xPtr,
          dyPtr,
          zero.ptr,
          g.inH,
          g.inW,
          C,
          g.outH,
          g.outW,
          CO,
          g.padTop,
          g.padLeft,
          tilesH,
          tilesW,
          tile,
          c0,
          n,
          c0,
          c0 + n,
        ],
        range: [19, 20],
        align: 1,
        pieces: 4 * pool.parts,
        perThread: [2, nn * 4],
      });
      pool.run("winograd_grad_products", {
        args: [sums.ptr, vs.ptr, zs.ptr, C, CO, n, c0 === 0 ? 1 : 0, 0, nn * C / 4],
        range: [7, 8],
        align: 1,
        pieces: 4 * pool.parts,
      });
    }
    pool.run("winograd_grad_filter", {
      args: [offsetOf(backend, out), sums.ptr, C, CO, tile, 0, C],
      range: [5, 6],
      align: 1,
      pieces: 2 * pool.parts,
    });
  });
  return out;
}
