/**
 * Parsed metrics per run, extended incrementally as `metrics.jsonl` grows: the one reader of a
 * run's metrics for the dashboard's API and its live streams alike, so that many requests and
 * many open streams of one run parse the file once. Each record keeps the byte offset just
 * after its line, so a stream can ask for what came after the offset it last saw.
 *
 * @example
 * ```ts
 * import { MetricsCache } from "./metrics_cache.ts";
 * const cache = new MetricsCache();
 * const all = await cache.get("runs/default-20261201-101010");
 * const newer = await cache.since("runs/default-20261201-101010", all.offset);
 * console.log(all.epochs.length, newer.records.length);
 * ```
 *
 * @module
 */
import type { MetricsRecord } from "./format.ts";
import { READ_CHUNK_BYTES, readMetrics } from "./reader.ts";

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
  /** Bumped each time the file was replaced or truncated (records read anew). */
  generation: number;
}

interface Entry extends CachedMetrics {
  /** Every record in file order; `ends[i]`: the offset after the read that found record i. */
  all: MetricsRecord[];
  ends: number[];
}

/** What came after an offset (see {@linkcode MetricsCache.since}). */
export interface MetricsSince {
  /** Records whose lines end after the offset asked for, in file order. */
  records: MetricsRecord[];
  /** Offset to ask from next time. */
  offset: number;
  /** True when the file was replaced: `records` holds all of it. */
  reset: boolean;
}

/** Bytes read per refresh step; a large file is read in steps, never all at once. */
const STEP_BYTES = 8 * READ_CHUNK_BYTES;

/** A small LRU cache of {@link CachedMetrics} keyed by run directory. */
export class MetricsCache {
  #entries = new Map<string, Entry>();
  #inflight = new Map<string, Promise<Entry>>();
  readonly #capacity: number;

  /** Keeps the metrics of at most `capacity` runs. */
  constructor(capacity = 16) {
    this.#capacity = capacity;
  }

  /** Returns all metrics of `runDir`, reading only what was appended since the last call. */
  get(runDir: string): Promise<CachedMetrics> {
    return this.#get(runDir);
  }

  /**
   * The records after byte `offset` (as returned by an earlier read); an offset past the end
   * of the file (it was replaced) gives everything, with `reset`.
   */
  async since(runDir: string, offset: number): Promise<MetricsSince> {
    const e = await this.#get(runDir);
    if (offset > e.offset) return { records: [...e.all], offset: e.offset, reset: true };
    let lo = 0, hi = e.ends.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (e.ends[mid] <= offset) lo = mid + 1;
      else hi = mid;
    }
    return { records: e.all.slice(lo), offset: e.offset, reset: false };
  }

  #get(runDir: string): Promise<Entry> {
    const pending = this.#inflight.get(runDir);
    if (pending) return pending;
    const p = this.#refresh(runDir).finally(() => this.#inflight.delete(runDir));
    this.#inflight.set(runDir, p);
    return p;
  }

  async #refresh(runDir: string): Promise<Entry> {
    let entry = this.#entries.get(runDir);
    for (;;) {
      const res = await readMetrics(runDir, {
        sinceOffset: entry?.offset ?? 0,
        maxBytes: STEP_BYTES,
      });
      if (!entry || res.reset) {
        entry = {
          epochs: [],
          batches: [],
          all: [],
          ends: [],
          offset: 0,
          skipped: 0,
          generation: (entry?.generation ?? -1) + 1,
        };
      }
      // Every offset handed out is the end of a read, so each record is tagged with the end
      // of the read that found it: "after offset X" is then exact.
      for (const r of res.records) {
        (r.batch === undefined ? entry.epochs : entry.batches).push(r);
        entry.all.push(r);
        entry.ends.push(res.offset);
      }
      entry.offset = res.offset;
      entry.skipped += res.skipped;
      if (!res.more) break;
    }
    this.#entries.delete(runDir);
    this.#entries.set(runDir, entry);
    while (this.#entries.size > this.#capacity) {
      this.#entries.delete(this.#entries.keys().next().value!);
    }
    return entry;
  }
}
