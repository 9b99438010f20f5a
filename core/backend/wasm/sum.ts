/**
 * `Sum` for tfjs-backend-wasm with a fast path for reducing the leading axes of a float32
 * tensor (bias gradients: `[N, H, W, C] -> [C]`), which the stock kernel does by transposing
 * first. Every other case goes to the stock kernel.
 *
 * @module
 */
import {
  type KernelConfig,
  type KernelFunc,
  type SumAttrs,
  type TensorInfo,
  util,
} from "@tensorflow/tfjs-core";
import { heapF32, offsetOf, type WasmBackend } from "./heap.ts";
import { simdPool } from "./simd_pool.ts";

/** The Sum kernel, delegating to `stock` (tfjs's own) outside the fast path. */
export function sumOverStock(stock: KernelConfig): KernelFunc {
  const sum = (args: { inputs: { x: TensorInfo }; backend: WasmBackend; attrs: SumAttrs }) => {
    const { inputs: { x }, backend, attrs } = args;
    const rank = x.shape.length;
    const axes = util.parseAxisParam(attrs.axis, x.shape).sort((a, b) => a - b);
    const leading = axes.length > 0 && axes.length < rank && axes.every((a, i) => a === i);
    if (x.dtype !== "float32" || !leading) return stock.kernelFunc(args as never);
    const rows = x.shape.slice(0, axes.length).reduce((a, b) => a * b, 1);
    const inner = x.shape.slice(axes.length);
    const width = inner.reduce((a, b) => a * b, 1);
    const outShape = attrs.keepDims ? [...axes.map(() => 1), ...inner] : inner;
    const out = backend.makeOutput(outShape, "float32");
    const pool = simdPool(backend);
    if (pool !== undefined) {
      // Split by columns (4 to a vector) across the pool's threads: each sums its own in order.
      pool.run("sum_rows", {
        args: [offsetOf(backend, out), offsetOf(backend, x), rows, width, 0, width],
        range: [4, 5],
        align: 16,
        pieces: pool.parts,
      });
      return out;
    }
    const heap = heapF32(backend);
    const src = offsetOf(backend, x) / 4, dst = offsetOf(backend, out) / 4;
    const acc = new Float32Array(width);
    for (let r = 0, p = src; r < rows; r++, p += width) {
      for (let c = 0; c < width; c++) acc[c] += heap[p + c];
    }
    heap.set(acc, dst);
    return out;
  };
  return sum as unknown as KernelFunc;
}
