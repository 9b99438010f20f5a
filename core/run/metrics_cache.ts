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
import {
  appendRecent,
  type RecentWindow,
  type RecordsSince,
  recordsSince,
  RunLru,
} from "./tail_cache.ts";

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

type Entry = CachedMetrics & RecentWindow<MetricsRecord>;

/** What came after an offset (see {@linkcode MetricsCache.since}). */
export type MetricsSince = RecordsSince<MetricsRecord>;

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
  readonly #lru: RunLru<Entry>;

  /** Keeps the metrics of at most `capacity` runs. */
  constructor(capacity = 16) {
    this.#lru = new RunLru(capacity, refresh);
  }

  /** Returns all metrics of `runDir`, reading only what was appended since the last call. */
  get(runDir: string): Promise<CachedMetrics> {
    return this.#lru.get(runDir);
  }

  /**
   * The records after byte `offset` (as returned by an earlier read); an offset past the end
   * of the file (it was replaced) or older than the recent window gives `reset` (reload).
   */
  async since(runDir: string, offset: number): Promise<MetricsSince> {
    return recordsSince(await this.#lru.get(runDir), offset, false);
  }
}

async function refresh(runDir: string, previous: Entry | undefined): Promise<Entry> {
  let entry = previous ?? emptyEntry();
  for (;;) {
    const res = await readMetrics(runDir, { sinceOffset: entry.offset, maxBytes: STEP_BYTES });
    if (res.reset) entry = emptyEntry();
    for (const r of res.records) {
      if (r.batch === undefined) entry.epochs.push(r);
      else {
        entry.batches.push(r);
        entry.batchCount++;
      }
    }
    appendRecent(entry, res.records, res.offset, RECENT);
    if (entry.batches.length > 2 * MAX_BATCH_POINTS) {
      entry.batches = downsampleMinMax(
        entry.batches,
        MAX_BATCH_POINTS,
        metricKeys(entry.batches.slice(-100)),
      );
    }
    entry.offset = res.offset;
    entry.skipped += res.skipped;
    if (!res.more) break;
  }
  return entry;
}
