/**
 * System metrics per epoch, recorded beside the loss in each epoch record of the run:
 * `images_per_s` (training images per second of the epoch's training time), `cpu_percent`
 * (this process's CPU time over wall time; 200 = two cores busy), `rss_mb` (resident memory),
 * `wasm_heap_mb` (the wasm backend's heap, when that backend runs) and `load_1m` (the
 * machine's one-minute load average). Throughput regressions across runs show up here first.
 *
 * @example
 * ```ts
 * import { SystemMetrics } from "./system_metrics.ts";
 * const sys = new SystemMetrics();
 * sys.begin();
 * // ... train an epoch of 2,400 images ...
 * console.log(sys.end(2400)); // { images_per_s, cpu_percent, rss_mb, load_1m, ... }
 * ```
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs-core";
import { SystemSampler } from "./system_sampler.ts";

/**
 * The trainer's system metrics: {@linkcode SystemSampler} (shared with the tracking API) plus
 * `wasm_heap_mb` when a wasm-based backend runs.
 */
export class SystemMetrics extends SystemSampler {
  /** Samples with the wasm heap size of the current tfjs backend. */
  constructor() {
    super({ heapBytes: wasmHeapBytes });
  }
}

/**
 * Bytes of the wasm backend's heap, or `undefined` when the backend is not wasm-based.
 *
 * @example
 * ```ts
 * import { wasmHeapBytes } from "./system_metrics.ts";
 * console.log(wasmHeapBytes() ?? "not on wasm");
 * ```
 */
export function wasmHeapBytes(): number | undefined {
  try {
    const b = tf.backend() as unknown as { wasm?: { HEAPU8?: Uint8Array } };
    return b?.wasm?.HEAPU8?.buffer.byteLength;
  } catch {
    return undefined;
  }
}
