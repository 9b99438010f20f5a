/**
 * Runs calls of the SIMD module's convolution and Adam functions on the calling thread and helper
 * threads (`node:worker_threads`, unref'd so they never keep a process alive) that instantiate
 * the same module over tfjs-backend-wasm's shared memory. The threaded wasm backend runs
 * XNNPACK on its own pool; these kernels are convdeck's, so they bring their own threads: one
 * helper per wasm thread beyond the first. Handing a job over takes a few microseconds
 * (`Atomics.notify` / `Atomics.wait` on a shared control block); a thread polls for half a
 * millisecond before it blocks, as the next job of a layer comes within microseconds.
 *
 * Each call is cut into pieces that free threads claim one at a time (./_simd_protocol.ts), so
 * a thread slowed by anything else on the machine delays the call by at most a piece. Until a
 * helper has started, and with the single-threaded backend (plain memory), the caller runs the
 * whole range itself: each function computes the same results however its work is split.
 *
 * @module
 */
import { Worker } from "node:worker_threads";
import { getThreadsCount } from "@tensorflow/tfjs-backend-wasm";
import type { WasmBackend, WasmModule } from "./heap.ts";
import { simdBinding, type SimdKernels } from "./simd.ts";
import {
  CONTROL_SLOTS,
  runPieces,
  SLOT,
  spinWhile,
  SPLIT_KERNELS,
  type SplitKernel,
} from "./_simd_protocol.ts";

export type { SplitKernel } from "./_simd_protocol.ts";

/** Switches for tests: with `helpers` off the calling thread runs every piece itself. */
export const simdPoolTuning = {
  helpers: true,
  /** Longest wait for a helper's piece, in ms, before the call fails instead of hanging. */
  helperTimeoutMs: 120_000,
};

/** One call of a SIMD function, cut into pieces along one of its range arguments. */
export interface SplitJob {
  /**
   * The arguments; those at `range` hold the whole range, and are overwritten with each piece's
   * bounds.
   */
  args: number[];
  /** Indices in `args` of the range's lower and upper bound. */
  range: [number, number];
  /** Inner bounds of pieces fall on multiples of this (the kernel's tile). */
  align: number;
  /** Most pieces to cut (fewer when the range is short). */
  pieces: number;
  /** `[index, stride]`: `args[index]` is offset by `thread * stride` (per-thread scratch). */
  perThread?: [number, number];
}

/** A way to run one SIMD function on all the pool's threads at once. */
export interface SimdPool {
  /** Threads a call can use: the calling thread plus the helpers. */
  readonly parts: number;
  /** Number of helper threads that have started and take pieces. */
  helpersReady(): number;
  /**
   * Runs `name` over the pieces of `job`, each claimed by whichever thread is free (the caller
   * included), and returns when every piece is done. Throws if a piece failed.
   */
  run(name: SplitKernel, job: SplitJob): void;
}

const pools = new WeakMap<WasmModule, SimdPool>();

function makePool(
  kernels: SimdKernels,
  helperCount: number,
  start: (control: SharedArrayBuffer) => void,
): SimdPool {
  const fnList = SPLIT_KERNELS.map((n) =>
    (kernels as unknown as Record<string, (...args: number[]) => void>)[n]
  );
  const control = new SharedArrayBuffer(CONTROL_SLOTS * 4);
  const ctl = new Int32Array(control);
  if (helperCount > 0) start(control);
  let seq = 0;
  return {
    parts: helperCount + 1,
    helpersReady: () => Atomics.load(ctl, SLOT.ready),
    run(name, job) {
      const fn = SPLIT_KERNELS.indexOf(name);
      if (job.args.length > CONTROL_SLOTS - SLOT.args) {
        throw new Error(`${name}: too many arguments`);
      }
      const lo = job.args[job.range[0]], hi = job.args[job.range[1]];
      const pieces = Math.max(1, Math.min(job.pieces, Math.ceil((hi - lo) / job.align)));
      const useHelpers = simdPoolTuning.helpers && Atomics.load(ctl, SLOT.ready) > 0;
      seq = (seq + 1) & 0x3fffffff;
      const tag = (seq & 0x7fff) << 16;
      // Close the previous job's ticket first: a late helper can claim nothing while the
      // fields below are rewritten.
      Atomics.store(ctl, SLOT.ticket, tag | 0xffff);
      ctl[SLOT.fn] = fn;
      ctl[SLOT.pieces] = useHelpers ? pieces : 1;
      ctl[SLOT.loArg] = job.range[0];
      ctl[SLOT.hiArg] = job.range[1];
      ctl[SLOT.lo] = lo;
      ctl[SLOT.hi] = hi;
      ctl[SLOT.align] = job.align;
      ctl[SLOT.threadArg] = job.perThread?.[0] ?? -1;
      ctl[SLOT.threadStride] = job.perThread?.[1] ?? 0;
      ctl[SLOT.argc] = job.args.length;
      ctl.set(job.args, SLOT.args);
      ctl[SLOT.failed] = 0;
      Atomics.store(ctl, SLOT.done, 0);
      Atomics.store(ctl, SLOT.ticket, tag);
      if (useHelpers) {
        Atomics.store(ctl, SLOT.seq, seq);
        Atomics.notify(ctl, SLOT.seq);
      }
      runPieces(ctl, seq, 0, fnList);
      const total = ctl[SLOT.pieces];
      const begin = performance.now();
      let d: number;
      while ((d = Atomics.load(ctl, SLOT.done)) < total) {
        if (spinWhile(ctl, SLOT.done, d)) continue;
        Atomics.wait(ctl, SLOT.done, d, 1000);
        if (performance.now() - begin > simdPoolTuning.helperTimeoutMs) {
          throw new Error(
            `${name}: a SIMD helper thread gave no answer in ${simdPoolTuning.helperTimeoutMs} ms`,
          );
        }
      }
      if (ctl[SLOT.failed] !== 0) {
        throw new Error(`${name} failed on a SIMD helper thread (see its message above)`);
      }
    },
  };
}

/**
 * The pool for `backend`, or undefined when the SIMD module is not available (see
 * {@linkcode simdBinding}). Helpers start on the first call, one per wasm thread beyond the
 * first, and only over a shared memory.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs-core";
 * import { simdPool } from "./simd_pool.ts";
 * import type { WasmBackend } from "./heap.ts";
 * console.log(simdPool(tf.backend() as unknown as WasmBackend)?.parts);
 * ```
 */
export function simdPool(backend: WasmBackend): SimdPool | undefined {
  const binding = simdBinding(backend);
  if (binding === undefined) return undefined;
  let pool = pools.get(backend.wasm);
  if (pool === undefined) {
    const shared = binding.memory.buffer instanceof SharedArrayBuffer;
    const count = shared ? Math.max(0, getThreadsCount() - 1) : 0;
    pool = makePool(binding.kernels, count, (control) => {
      for (let i = 1; i <= count; i++) {
        const worker = new Worker(new URL("./_simd_worker.ts", import.meta.url));
        worker.unref();
        worker.postMessage({ module: binding.module, memory: binding.memory, control, thread: i });
      }
    });
    pools.set(backend.wasm, pool);
  }
  return pool;
}
