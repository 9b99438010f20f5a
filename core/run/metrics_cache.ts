/**
 * Parsed metrics per run, extended incrementally as `metrics.jsonl` grows: the one reader of a
 * run's metrics for the dashboard's API and its live streams alike, so that many requests and
 * many open streams of one run parse the file once. Memory stays bounded whatever the file's
 * size: epoch records are kept whole, batch records are decimated by bucketed min/max as they
 * arrive (every spike survives), and live streams are served from a window of recent records.
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
import { downsampleMinMax, metricKeys } from "./downsample.ts";

/** All metrics of one run read so far. */
export interface CachedMetrics {
  /** Epoch records (no `batch` key), in file order. */
  epochs: MetricsRecord[];
  /**
   * Batch records in file order; past {@linkcode MAX_BATCH_POINTS} they are decimated by
   * bucketed min/max (see `batchCount` for how many there were).
   */
  batches: MetricsRecord[];
  /** How many batch records the file holds (read so far). */
  batchCount: number;
  /** Byte offset after the last complete line read. */
  offset: number;
  /** Malformed lines skipped so far. */
  skipped: number;
}

interface Entry extends CachedMetrics {
  /** The most recent records in file order; `ends[i]`: offset after the read that found it. */
  recent: MetricsRecord[];
  ends: number[];
  /** The offset the recent window starts after (older offsets get a reset). */
  windowStart: number;
}

/** What came after an offset (see {@linkcode MetricsCache.since}). */
export interface MetricsSince {
  /** Records whose lines end after the offset asked for, in file order. */
  records: MetricsRecord[];
  /** Offset to ask from next time. */
  offset: number;
  /** True when the file was replaced, or the offset is older than the window: reload. */
  reset: boolean;
}

/** Batch points kept per run before decimation (the API downsamples further). */
export const MAX_BATCH_POINTS = 20_000;

/** Recent records kept for live streams. */
const RECENT = 5_000;

/** Bytes read per refresh step; a large file is read in steps, never all at once. */
const STEP_BYTES = 8 * READ_CHUNK_BYTES;

function emptyEntry(): Entry {
  return {
    epochs: [],
    batches: [],
    batchCount: 0,
    offset: 0,
    skipped: 0,
    recent: [],
    ends: [],
    windowStart: 0,
  };
}

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
   * of the file (it was replaced) or older than the recent window gives `reset` (reload).
   */
  async since(runDir: string, offset: number): Promise<MetricsSince> {
    const e = await this.#get(runDir);
    if (offset > e.offset || offset < e.windowStart) {
      return { records: [], offset: e.offset, reset: true };
    }
    let lo = 0, hi = e.ends.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (e.ends[mid] <= offset) lo = mid + 1;
      else hi = mid;
    }
    return { records: e.recent.slice(lo), offset: e.offset, reset: false };
  }

  #get(runDir: string): Promise<Entry> {
    const pending = this.#inflight.get(runDir);
    if (pending) return pending;
    const p = this.#refresh(runDir).finally(() => this.#inflight.delete(runDir));
    this.#inflight.set(runDir, p);
    return p;
  }

  async #refresh(runDir: string): Promise<Entry> {
    let entry = this.#entries.get(runDir) ?? emptyEntry();
    for (;;) {
      const res = await readMetrics(runDir, { sinceOffset: entry.offset, maxBytes: STEP_BYTES });
      if (res.reset) entry = emptyEntry();
      // Every offset handed out is the end of a read, so each record is tagged with the end
      // of the read that found it: "after offset X" is then exact.
      for (const r of res.records) {
        if (r.batch === undefined) entry.epochs.push(r);
        else {
          entry.batches.push(r);
          entry.batchCount++;
        }
        entry.recent.push(r);
        entry.ends.push(res.offset);
      }
      if (entry.batches.length > 2 * MAX_BATCH_POINTS) {
        entry.batches = downsampleMinMax(
          entry.batches,
          MAX_BATCH_POINTS,
          metricKeys(entry.batches.slice(-100)),
        );
      }
      if (entry.recent.length > 2 * RECENT) {
        const drop = entry.recent.length - RECENT;
        entry.windowStart = entry.ends[drop - 1];
        entry.recent = entry.recent.slice(drop);
        entry.ends = entry.ends.slice(drop);
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
