/**
 * The fused Adam step (`ConvdeckAdam`, see ../fused_adam.ts) on the wasm backend: the SIMD
 * module's `adam`, cut by elements into pieces for {@linkcode simdPool}'s threads, or, without the
 * module, a JavaScript loop with the same float32 roundings.
 *
 * @module
 */
import type { KernelConfig } from "@tensorflow/tfjs-core";
import { adamKernelConfig, type AdamRunner } from "../fused_adam.ts";
import { heapF32, scratch, type WasmBackend } from "./heap.ts";
import { simdPool } from "./simd_pool.ts";

const f = Math.fround;

/** kernels.c's `adam` takes its share of every variable as a range of this many parts. */
const ADAM_PARTS = 65536;

/** The update of `cd_adam` / kernels.c's `adam` in JavaScript, float32 rounding each operation. */
function adamLoop(heap: Float32Array, p: Float64Array, o: Float64Array): void {
  const nlr = f(-p[0]), b1 = f(p[1]), b2 = f(p[2]), eps = f(p[3]), c1 = f(p[4]), c2 = f(p[5]);
  const acc1 = heap[o[0] / 4], acc2 = heap[o[1] / 4];
  const oma1 = f(1 - acc1), oma2 = f(1 - acc2);
  for (let k = 0; k < p[6]; k++) {
    const q = 4 + 8 * k;
    const [w, g, m, v, w2, m2, v2] = [0, 1, 2, 3, 4, 5, 6].map((j) => o[q + j] / 4);
    for (let i = 0; i < o[q + 7]; i++) {
      const gi = heap[g + i];
      const mi = f(f(heap[m + i] * b1) + f(gi * c1));
      const vi = f(f(heap[v + i] * b2) + f(f(gi * gi) * c2));
      heap[m2 + i] = mi;
      heap[v2 + i] = vi;
      const mh = f(mi / oma1), vh = f(vi / oma2);
      heap[w2 + i] = f(f(f(mh / f(f(Math.sqrt(vh)) + eps)) * nlr) + heap[w + i]);
    }
  }
  heap[o[2] / 4] = f(acc1 * b1);
  heap[o[3] / 4] = f(acc2 * b2);
}

const runAdam: AdamRunner = (b, p, o) => {
  const backend = b as unknown as WasmBackend;
  const pool = simdPool(backend);
  if (pool === undefined) {
    adamLoop(heapF32(backend), p, o);
    return;
  }
  const args = scratch(backend, 2 * (p.length + o.length)); // float64s, 8-byte aligned
  try {
    const buffer = backend.wasm.HEAPU8.buffer;
    new Float64Array(buffer, args.ptr, p.length).set(p);
    new Float64Array(buffer, args.ptr + 8 * p.length, o.length).set(o);
    pool.run("adam", {
      args: [args.ptr, args.ptr + 8 * p.length, 0, ADAM_PARTS, ADAM_PARTS],
      range: [2, 3],
      align: 1,
      pieces: 4 * pool.parts,
    });
  } finally {
    args.release();
  }
};

/**
 * Kernel config of the fused Adam step for the wasm backend. It writes new tensors, never in
 * place: tfjs's XNNPACK kernels cache packed weights by tensor id.
 */
export const wasmAdamConfig: KernelConfig = adamKernelConfig(runAdam, "wasm", false);
