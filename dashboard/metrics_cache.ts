/**
 * Parsed metrics per run, extended incrementally as `metrics.jsonl` grows, so that repeated
 * requests for a run with 100k points do not parse the whole file again.
 *
 * @module
 */
import type { MetricsRecord } from "../core/run/format.ts";
import { readMetrics } from "../core/run/reader.ts";

/** All metrics of one run read so far. */
export interface CachedMetrics {
  /** Epoch records (no `batch` key), in file order. */
  epochs: MetricsRecord[];
  /** Batch records, in file order. */
  batches: MetricsRecord[];
  /** Byte offset after the last complete line read. */
  offset: number;
  /** Malformed lines skipped so far. */
  skipped: number;
}

/** A small LRU cache of {@link CachedMetrics} keyed by run directory. */
export class MetricsCache {
  #entries = new Map<string, CachedMetrics>();
  #inflight = new Map<string, Promise<CachedMetrics>>();
  readonly #capacity: number;

  /** Keeps the metrics of at most `capacity` runs. */
  constructor(capacity = 16) {
    this.#capacity = capacity;
  }

  /** Returns all metrics of `runDir`, reading only what was appended since the last call. */
  get(runDir: string): Promise<CachedMetrics> {
    const pending = this.#inflight.get(runDir);
    if (pending) return pending;
    const p = this.#refresh(runDir).finally(() => this.#inflight.delete(runDir));
    this.#inflight.set(runDir, p);
    return p;
  }

  async #refresh(runDir: string): Promise<CachedMetrics> {
    let entry = this.#entries.get(runDir);
    const res = await readMetrics(runDir, { sinceOffset: entry?.offset ?? 0 });
    if (!entry || res.reset) entry = { epochs: [], batches: [], offset: 0, skipped: 0 };
    for (const r of res.records) (r.batch === undefined ? entry.epochs : entry.batches).push(r);
    entry.offset = res.offset;
    entry.skipped += res.skipped;
    this.#entries.delete(runDir);
    this.#entries.set(runDir, entry);
    while (this.#entries.size > this.#capacity) {
      this.#entries.delete(this.#entries.keys().next().value!);
    }
    return entry;
  }
}
