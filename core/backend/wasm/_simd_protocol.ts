/**
 * The job protocol shared by {@linkcode ./simd_pool.ts} and its helper threads
 * (`./_simd_worker.ts`): one `Int32Array` control block over a `SharedArrayBuffer`.
 *
 * A job is one call of a SIMD function cut into pieces along one range argument. Every thread
 * (the caller and each helper) claims pieces one at a time with a compare-and-swap on the
 * ticket slot, which holds the job's number (low 15 bits) and the next piece, so a thread
 * that arrives late for a job can never claim a piece of the next one. A slow thread
 * therefore holds up nobody: the others take the pieces it does not get to.
 *
 * @module
 */

/** The functions of the SIMD module a pool splits across threads; a job names one by index. */
export const SPLIT_KERNELS = [
  "conv_indirection",
  "pack_panels",
  "conv_forward",
  "conv_filter_grad",
  "adam",
  "winograd_filter",
  "winograd_forward",
  "winograd_grad_transform",
  "winograd_grad_products",
  "winograd_grad_filter",
  "relu_grad",
  "sum_rows",
  "max_pool_grad",
] as const;

/** One of {@linkcode SPLIT_KERNELS}. */
export type SplitKernel = typeof SPLIT_KERNELS[number];

/** Slots of the control block. */
export const SLOT = {
  /** Job number, raised by the caller to wake the helpers. */
  seq: 0,
  /** `(job number & 0x7fff) << 16 | next piece`. */
  ticket: 1,
  /** Pieces of the current job finished. */
  done: 2,
  /** Helpers that have instantiated the module. */
  ready: 3,
  /** Set to 1 by a helper whose piece threw (it logs why). */
  failed: 4,
  /** Index in {@linkcode SPLIT_KERNELS} of the job's function. */
  fn: 5,
  /** Number of pieces. */
  pieces: 6,
  /** Argument indices that receive a piece's bounds [lo, hi). */
  loArg: 7,
  hiArg: 8,
  /** The range the pieces cut, and the multiple their inner bounds fall on. */
  lo: 9,
  hi: 10,
  align: 11,
  /** Argument index offset by `thread * threadStride` (each thread's own scratch), or -1. */
  threadArg: 12,
  threadStride: 13,
  /** Number of arguments, then the arguments (all int32: sizes and heap offsets). */
  argc: 14,
  args: 15,
} as const;

/** Int32 slots in a control block: room for 33 arguments. */
export const CONTROL_SLOTS = 48;

/**
 * Bounds of part `part` of `[lo, hi)` split into `parts` nearly equal ranges whose inner bounds
 * are multiples of `align` from `lo`.
 *
 * @example
 * ```ts
 * import { splitRange } from "./_simd_protocol.ts";
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

/**
 * Claims and runs pieces of the current job `seq` as thread `thread` (0 is the caller) until
 * none is left; returns false if a piece threw.
 */
export function runPieces(
  ctl: Int32Array,
  seq: number,
  thread: number,
  fns: readonly ((...args: number[]) => void)[],
): boolean {
  const tag = (seq & 0x7fff) << 16;
  let ok = true;
  for (;;) {
    const t = Atomics.load(ctl, SLOT.ticket);
    if ((t & ~0xffff) !== tag || (t & 0xffff) >= ctl[SLOT.pieces]) return ok;
    if (Atomics.compareExchange(ctl, SLOT.ticket, t, t + 1) !== t) continue;
    // The job's fields cannot change until this piece is counted done.
    const args = Array.from(ctl.subarray(SLOT.args, SLOT.args + ctl[SLOT.argc]));
    const [a, b] = splitRange(
      ctl[SLOT.lo],
      ctl[SLOT.hi],
      ctl[SLOT.pieces],
      t & 0xffff,
      ctl[SLOT.align],
    );
    args[ctl[SLOT.loArg]] = a;
    args[ctl[SLOT.hiArg]] = b;
    if (ctl[SLOT.threadArg] >= 0) args[ctl[SLOT.threadArg]] += thread * ctl[SLOT.threadStride];
    try {
      fns[ctl[SLOT.fn]](...args);
    } catch (e) {
      ok = false;
      Atomics.store(ctl, SLOT.failed, 1);
      if (thread > 0) {
        console.error(`convdeck SIMD helper thread: ${SPLIT_KERNELS[ctl[SLOT.fn]]}: ${e}`);
      } else throw e;
    } finally {
      Atomics.add(ctl, SLOT.done, 1);
      Atomics.notify(ctl, SLOT.done);
    }
  }
}

/**
 * How long {@linkcode spinWhile} polls before its thread blocks, in milliseconds: 0.5 ms
 * took the filter gradient of 28x28 pixels, 32 -> 32 channels, batch 64 (50 jobs of a few
 * hundred microseconds) from 9.0-10.5 to 7.5-8.7 ms on 2 threads, in three alternated runs.
 */
const SPIN_MS = 0.5;

/**
 * Polls `ctl[slot]` while it equals `value`, for at most {@linkcode SPIN_MS}; true if it
 * changed. A thread about to block calls it first: inside a layer the next job follows within
 * microseconds, and waking a blocked thread (on a virtual machine, a halted virtual CPU) takes
 * tens of microseconds each time.
 *
 * @example
 * ```ts
 * import { spinWhile } from "./_simd_protocol.ts";
 * const ctl = new Int32Array(new SharedArrayBuffer(4));
 * console.log(spinWhile(ctl, 0, 0)); // false: nothing changed it within the time
 * ```
 */
export function spinWhile(ctl: Int32Array, slot: number, value: number): boolean {
  const end = performance.now() + SPIN_MS;
  for (;;) {
    for (let i = 0; i < 256; i++) if (Atomics.load(ctl, slot) !== value) return true;
    if (performance.now() >= end) return false;
  }
}
