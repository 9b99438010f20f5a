/**
 * The control block shared by {@linkcode ./simd_pool.ts} and its helper thread
 * (`./_simd_worker.ts`): an `Int32Array` over a `SharedArrayBuffer`, one per helper.
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
] as const;

/** One of {@linkcode SPLIT_KERNELS}. */
export type SplitKernel = typeof SPLIT_KERNELS[number];

/** Slots of the control block. */
export const SLOT = {
  /** Job number, raised by the caller to start a job; -1 asks the helper to stop. */
  seq: 0,
  /** Job number the helper finished last. */
  done: 1,
  /** 1 once the helper has instantiated the module. */
  ready: 2,
  /** 0 when the last job ran to its end, 1 when it threw (the helper logs why). */
  failed: 3,
  /** Index in {@linkcode SPLIT_KERNELS} of the job's function. */
  fn: 4,
  /** Number of arguments. */
  argc: 5,
  /** First argument (all are int32: sizes and heap offsets). */
  args: 6,
} as const;

/** Int32 slots in a control block: room for 26 arguments. */
export const CONTROL_SLOTS = 32;
