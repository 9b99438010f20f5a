/**
 * A run's events, read once for every live stream that follows it: the events of
 * `events.jsonl` are read incrementally, a bounded step at a time (a huge or corrupt file is
 * never read whole at once, nor once per stream), and a window of the most recent events is
 * kept with the offsets they were found at, so that "what came after offset X" is answered
 * from memory. Concurrent readers of one run share one read.
 *
 * @example
 * ```ts
 * import { EventsCache } from "./events_cache.ts";
 * const cache = new EventsCache();
 * const first = await cache.since("runs/default-20261201-101010", 0);
 * const next = await cache.since("runs/default-20261201-101010", first.offset);
 * console.log(first.records.length, next.records.length);
 * ```
 *
 * @module
 */
import type { RunEvent } from "./format.ts";
import { READ_CHUNK_BYTES, readEvents } from "./reader.ts";

/** What came after an offset (see {@linkcode EventsCache.since}). */
export interface EventsSince {
  /** Events whose lines end after the offset asked for, in file order. */
  records: RunEvent[];
  /** Offset to ask from next time. */
  offset: number;
  /** True when the file was replaced, or the offset is older than the window: reload. */
  reset: boolean;
}

interface Entry {
  recent: RunEvent[];
  ends: number[];
  windowStart: number;
  offset: number;
}

/** Events kept per run for live streams. */
const RECENT = 2_000;

/** Bytes read per step of a refresh. */
const STEP_BYTES = 4 * READ_CHUNK_BYTES;

/** Steps one refresh takes at most: a larger backlog is read by the next refreshes. */
const MAX_STEPS = 4;

/** A small LRU of recent events per run directory, shared by live streams. */
export class EventsCache {
  #entries = new Map<string, Entry>();
  #inflight = new Map<string, Promise<Entry>>();
  readonly #capacity: number;

  /** Keeps the events of at most `capacity` runs. */
  constructor(capacity = 32) {
    this.#capacity = capacity;
  }

  /**
   * The events after byte `offset` (as returned by an earlier call); an offset past the end
   * of the file (it was replaced) or older than the window gives `reset` with the window.
   */
  async since(runDir: string, offset: number): Promise<EventsSince> {
    const e = await this.#get(runDir);
    if (offset > e.offset || offset < e.windowStart) {
      return { records: e.recent.slice(), offset: e.offset, reset: true };
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
    let entry = this.#entries.get(runDir) ??
      { recent: [], ends: [], windowStart: 0, offset: 0 };
    for (let step = 0; step < MAX_STEPS; step++) {
      const res = await readEvents(runDir, { sinceOffset: entry.offset, maxBytes: STEP_BYTES });
      if (res.reset) entry = { recent: [], ends: [], windowStart: 0, offset: 0 };
      for (const r of res.records) {
        entry.recent.push(r);
        entry.ends.push(res.offset);
      }
      if (entry.recent.length > 2 * RECENT) {
        const drop = entry.recent.length - RECENT;
        entry.windowStart = entry.ends[drop - 1];
        entry.recent = entry.recent.slice(drop);
        entry.ends = entry.ends.slice(drop);
      }
      entry.offset = res.offset;
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
