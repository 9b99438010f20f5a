/**
 * Splits calls of the SIMD module's convolution functions across the calling thread and helper
 * threads (`node:worker_threads`, unref'd so they never keep a process alive) that instantiate
 * the same module over tfjs-backend-wasm's shared memory. The threaded wasm backend runs
 * XNNPACK on its own pool; these kernels are convdeck's, so they bring their own threads: one
 * helper per wasm thread beyond the first. Handing a job over takes a few microseconds
 * (`Atomics.notify` / `Atomics.wait` on a shared control block).
 *
 * Until a helper has started, and with the single-threaded backend (plain memory), the caller
 * runs every part itself: each function computes the same results however its work is split.
 *
 * @module
 */
import { Worker } from "node:worker_threads";
import { getThreadsCount } from "@tensorflow/tfjs-backend-wasm";
import type { WasmBackend, WasmModule } from "./heap.ts";
import { simdBinding, type SimdKernels } from "./simd.ts";
import { CONTROL_SLOTS, SLOT, SPLIT_KERNELS, type SplitKernel } from "./_simd_protocol.ts";

export type { SplitKernel } from "./_simd_protocol.ts";

/** Switches for tests: with `helpers` off the calling thread runs every part itself. */
export const simdPoolTuning = {
  helpers: true,
  /** Longest wait for a helper's part, in ms, before the call fails instead of hanging. */
  helperTimeoutMs: 120_000,
};

/** A way to run one SIMD function as several parts at once. */
export interface SimdPool {
  /** Number of parts a call is split into: the calling thread plus the helpers. */
  readonly parts: number;
  /** Number of helper threads that have started and take parts. */
  helpersReady(): number;
  /**
   * Runs `name` once for each part `i` in `[0, parts)` with the arguments `argsOf(i)`, part 0
   * on the calling thread, and returns when every part is done. Throws if a part failed.
   */
  run(name: SplitKernel, argsOf: (part: number) => number[]): void;
}

interface Helper {
  ctl: Int32Array;
  seq: number;
}

const pools = new WeakMap<WasmModule, SimdPool | null>();

function startHelper(module: WebAssembly.Module, memory: WebAssembly.Memory): Helper {
  const control = new SharedArrayBuffer(CONTROL_SLOTS * 4);
  const worker = new Worker(new URL("./_simd_worker.ts", import.meta.url));
  worker.unref();
  worker.postMessage({ module, memory, control });
  return { ctl: new Int32Array(control), seq: 0 };
}

function makePool(kernels: SimdKernels, helpers: Helper[]): SimdPool {
  const fns = kernels as unknown as Record<SplitKernel, (...args: number[]) => void>;
  return {
    parts: helpers.length + 1,
    helpersReady: () => helpers.filter((h) => Atomics.load(h.ctl, SLOT.ready) === 1).length,
    run(name, argsOf) {
      const fn = SPLIT_KERNELS.indexOf(name);
      const posted: Helper[] = [];
      for (let i = 1; i <= helpers.length; i++) {
        const h = helpers[i - 1];
        const args = argsOf(i);
        if (!simdPoolTuning.helpers || Atomics.load(h.ctl, SLOT.ready) !== 1) {
          fns[name](...args); // not started yet: run its part here
          continue;
        }
        if (args.length > CONTROL_SLOTS - SLOT.args) throw new Error(`${name}: too many arguments`);
        h.ctl[SLOT.fn] = fn;
        h.ctl[SLOT.argc] = args.length;
        h.ctl.set(args, SLOT.args);
        Atomics.store(h.ctl, SLOT.seq, ++h.seq);
        Atomics.notify(h.ctl, SLOT.seq);
        posted.push(h);
      }
      let error: unknown;
      try {
        fns[name](...argsOf(0));
      } catch (e) {
        error = e;
      }
      for (const h of posted) {
        const start = performance.now();
        let d: number;
        while ((d = Atomics.load(h.ctl, SLOT.done)) !== h.seq) {
          Atomics.wait(h.ctl, SLOT.done, d, 1000);
          if (performance.now() - start > simdPoolTuning.helperTimeoutMs) {
            throw new Error(
              `${name}: a SIMD helper thread gave no answer in ${simdPoolTuning.helperTimeoutMs} ms`,
            );
          }
        }
        if (h.ctl[SLOT.failed] !== 0 && error === undefined) {
          error = new Error(`${name} failed on a SIMD helper thread (see its message above)`);
        }
      }
      if (error !== undefined) throw error;
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
  if (pool === undefined || pool === null) {
    const shared = binding.memory.buffer instanceof SharedArrayBuffer;
    const count = shared ? Math.max(0, getThreadsCount() - 1) : 0;
    const helpers = Array.from(
      { length: count },
      () => startHelper(binding.module, binding.memory),
    );
    pool = makePool(binding.kernels, helpers);
    pools.set(backend.wasm, pool);
  }
  return pool;
}

/**
 * Bounds of part `part` of `[lo, hi)` split into `parts` nearly equal ranges whose inner bounds
 * are multiples of `align` (the kernels' tile sizes).
 *
 * @example
 * ```ts
 * import { splitRange } from "./simd_pool.ts";
 * console.log(splitRange(0, 10, 2, 0, 4), splitRange(0, 10, 2, 1, 4)); // [0, 4] [4, 10]
 * ```
 */
export function splitRange(
  lo: number,
  hi: number,
  parts: number,
  part: number,
  align: number,
): [number, number] {
  const at = (i: number) =>
    i <= 0
      ? lo
      : i >= parts
      ? hi
      : Math.min(hi, lo + Math.round((hi - lo) * i / parts / align) * align);
  return [at(part), at(part + 1)];
}
