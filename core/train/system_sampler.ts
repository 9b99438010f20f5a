/**
 * The process and machine numbers recorded beside the loss (`images_per_s`, `cpu_percent`,
 * `rss_mb`, `load_1m`), measured between `begin()` and `end()` with `node:` APIs only, so the
 * trainer (`SystemMetrics` in `system_metrics.ts`, which adds the wasm heap) and the tracking
 * API's fit callback (Deno and Node) record the same metrics the same way.
 *
 * @example
 * ```ts
 * import { SystemSampler } from "./system_sampler.ts";
 * const sys = new SystemSampler();
 * sys.begin();
 * // ... train an epoch of 2,400 images ...
 * console.log(sys.end(2400)); // { images_per_s, cpu_percent, rss_mb, load_1m }
 * ```
 *
 * @module
 */
import { loadavg } from "node:os";
import process from "node:process";

/** Samples the process and machine between {@linkcode SystemSampler.begin} and `end`. */
export class SystemSampler {
  #wall = 0;
  #cpu = { user: 0, system: 0 };
  readonly #heapBytes: () => number | undefined;

  /** `heapBytes` adds `wasm_heap_mb` (the trainer passes the wasm backend's heap size). */
  constructor(options: { heapBytes?: () => number | undefined } = {}) {
    this.#heapBytes = options.heapBytes ?? (() => undefined);
  }

  /** Marks the start of a measured span (an epoch, or what is left of it after a resume). */
  begin(): void {
    this.#wall = performance.now();
    this.#cpu = process.cpuUsage();
  }

  /** The metrics of the span since `begin()`, `images` being the images trained in it. */
  end(images: number, trainSeconds?: number): Record<string, number> {
    const wallMs = performance.now() - this.#wall;
    const cpu = process.cpuUsage(this.#cpu);
    const out: Record<string, number> = {};
    const secs = trainSeconds ?? wallMs / 1000;
    if (secs > 0 && images > 0) out.images_per_s = images / secs;
    if (wallMs > 0) out.cpu_percent = ((cpu.user + cpu.system) / 1000 / wallMs) * 100;
    out.rss_mb = process.memoryUsage().rss / 2 ** 20;
    const heap = this.#heapBytes();
    if (heap !== undefined) out.wasm_heap_mb = heap / 2 ** 20;
    const load = loadavg();
    if (load.some((l) => l > 0)) out.load_1m = load[0];
    return out;
  }
}
