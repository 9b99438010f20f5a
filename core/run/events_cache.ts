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
import {
  appendRecent,
  type RecentWindow,
  type RecordsSince,
  recordsSince,
  RunLru,
} from "./tail_cache.ts";

/** What came after an offset (see {@linkcode EventsCache.since}). */
export type EventsSince = RecordsSince<RunEvent>;

type Entry = RecentWindow<RunEvent>;

/** Events kept per run for live streams. */
const RECENT = 2_000;

/** Bytes read per step of a refresh. */
const STEP_BYTES = 4 * READ_CHUNK_BYTES;

/** Steps one refresh takes at most: a larger backlog is read by the next refreshes. */
const MAX_STEPS = 4;

/** A small LRU of recent events per run directory, shared by live streams. */
export class EventsCache {
  readonly #lru: RunLru<Entry>;

  /** Keeps the events of at most `capacity` runs. */
  constructor(capacity = 32) {
    this.#lru = new RunLru(capacity, refresh);
  }

  /**
   * The events after byte `offset` (as returned by an earlier call); an offset past the end
   * of the file (it was replaced) or older than the window gives `reset` with the window.
   */
  async since(runDir: string, offset: number): Promise<EventsSince> {
    return recordsSince(await this.#lru.get(runDir), offset, true);
  }
}

function emptyEntry(): Entry {
  return { recent: [], ends: [], windowStart: 0, offset: 0 };
}

async function refresh(runDir: string, previous: Entry | undefined): Promise<Entry> {
  let entry = previous ?? emptyEntry();
  for (let step = 0; step < MAX_STEPS; step++) {
    const res = await readEvents(runDir, { sinceOffset: entry.offset, maxBytes: STEP_BYTES });
    if (res.reset) entry = emptyEntry();
    appendRecent(entry, res.records, res.offset, RECENT);
    entry.offset = res.offset;
    if (!res.more) break;
  }
  return entry;
}
