/**
 * `MaxPoolGrad` for tfjs-backend-wasm, replacing the stock kernel (a scalar loop, about 5% of a
 * training step of the book's model). Each output gradient goes to the first maximum of its
 * window in row-major order, as on the cpu backend; channels are the inner loop.
 *
 * @module
 */
import {
  backend_util,
  type KernelConfig,
  type KernelFunc,
  type MaxPoolGradAttrs,
  type TensorInfo,
} from "@tensorflow/tfjs-core";
import { heapF32, offsetOf, type WasmBackend } from "./heap.ts";
import { simdPool } from "./simd_pool.ts";

function maxPoolGrad(args: {
  inputs: { dy: TensorInfo; input: TensorInfo; output: TensorInfo };
  backend: WasmBackend;
  attrs: MaxPoolGradAttrs;
}): TensorInfo {
  const { inputs: { dy, input }, backend, attrs } = args;
  const info = backend_util.computePool2DInfo(
    input.shape as [number, number, number, number],
    attrs.filterSize,
    attrs.strides,
    1,
    attrs.pad,
    attrs.dimRoundingMode,
  );
  const { batchSize, inHeight, inWidth, inChannels: C, outHeight, outWidth } = info;
  const { filterHeight: fh, filterWidth: fw, strideHeight: sh, strideWidth: sw } = info;
  const { top, left } = info.padInfo;
  const dx = backend.makeOutput(input.shape, "float32");
  const pool = simdPool(backend);
  if (pool !== undefined) {
    // Split by images across the pool's threads (windows never cross images).
    pool.run("max_pool_grad", {
      args: [
        offsetOf(backend, dx),
        offsetOf(backend, input),
        offsetOf(backend, dy),
        inHeight,
        inWidth,
        C,
        outHeight,
        outWidth,
        fh,
        fw,
        sh,
        sw,
        top,
        left,
        0,
        batchSize,
      ],
      range: [14, 15],
      align: 1,
      pieces: 4 * pool.parts,
    });
    return dx;
  }
  const heap = heapF32(backend);
  const x0 = offsetOf(backend, input) / 4, dy0 = offsetOf(backend, dy) / 4;
  const dx0 = offsetOf(backend, dx) / 4;
  heap.fill(0, dx0, dx0 + batchSize * inHeight * inWidth * C);
  const best = new Float32Array(C), at = new Int32Array(C);
  for (let b = 0; b < batchSize; b++) {
    const img = b * inHeight * inWidth * C;
    for (let oh = 0; oh < outHeight; oh++) {
      const r0 = Math.max(0, oh * sh - top), r1 = Math.min(inHeight, oh * sh - top + fh);
      for (let ow = 0; ow < outWidth; ow++) {
        const c0 = Math.max(0, ow * sw - left), c1 = Math.min(inWidth, ow * sw - left + fw);
        best.fill(-Infinity);
        at.fill(-1);
        for (let r = r0; r < r1; r++) {
          for (let c = c0; c < c1; c++) {
            const p = img + (r * inWidth + c) * C;
            for (let d = 0; d < C; d++) {
              const v = heap[x0 + p + d];
              if (v > best[d]) {
                best[d] = v;
                at[d] = p + d;
              }
            }
          }
        }
        const g = dy0 + ((b * outHeight + oh) * outWidth + ow) * C;
        for (let d = 0; d < C; d++) if (at[d] >= 0) heap[dx0 + at[d]] += heap[g + d];
      }
    }
  }
  return dx;
}

/** Kernel config of {@linkcode maxPoolGrad} for the wasm backend. */
export const maxPoolGradConfig: KernelConfig = {
  kernelName: "MaxPoolGrad",
  backendName: "wasm",
  kernelFunc: maxPoolGrad as unknown as KernelFunc,
};
