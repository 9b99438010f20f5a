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
import { cpuUsage } from "node:process";

/** Samples the process and machine between {@linkcode SystemMetrics.begin} and `end`. */
export class SystemMetrics {
  #wall = 0;
  #cpu = { user: 0, system: 0 };

  /** Marks the start of a measured span (an epoch, or what is left of it after a resume). */
  begin(): void {
    this.#wall = performance.now();
    this.#cpu = cpuUsage();
  }

  /** The metrics of the span since `begin()`, `images` being the images trained in it. */
  end(images: number, trainSeconds?: number): Record<string, number> {
    const wallMs = performance.now() - this.#wall;
    const cpu = cpuUsage(this.#cpu);
    const out: Record<string, number> = {};
    const secs = trainSeconds ?? wallMs / 1000;
    if (secs > 0 && images > 0) out.images_per_s = images / secs;
    if (wallMs > 0) out.cpu_percent = ((cpu.user + cpu.system) / 1000 / wallMs) * 100;
    out.rss_mb = Deno.memoryUsage().rss / 2 ** 20;
    const heap = wasmHeapBytes();
    if (heap !== undefined) out.wasm_heap_mb = heap / 2 ** 20;
    try {
      out.load_1m = Deno.loadavg()[0];
    } catch { /* not on this platform */ }
    return out;
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
