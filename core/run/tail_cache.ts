/**
 * The shared machinery of the per-run caches that follow an append-only run file
 * (`metrics.jsonl`, `events.jsonl`): an LRU of entries keyed by run directory in which
 * concurrent readers of one run share one refresh, and a window of recent records tagged with
 * the offsets they were found at, so that "what came after offset X" is answered from memory.
 * `MetricsCache` and `EventsCache` own what they read and keep; this file owns the caching,
 * the window and the lookup.
 *
 * @example
 * ```ts
 * import { appendRecent, type RecentWindow, recordsSince, RunLru } from "./tail_cache.ts";
 * const lru = new RunLru<RecentWindow<string>>(4, (_runDir, previous) => {
 *   const w = previous ?? { recent: [], ends: [], windowStart: 0, offset: 0 };
 *   appendRecent(w, ["line"], w.offset + 5, 100);
 *   w.offset += 5;
 *   return Promise.resolve(w);
 * });
 * const w = await lru.get("runs/a");
 * console.log(recordsSince(w, 0, false).records); // ["line"]
 * ```
 *
 * @module
 */

/** Recent records of a run file with the offset after the read that found each. */
export interface RecentWindow<R> {
  /** The most recent records in file order. */
  recent: R[];
  /** `ends[i]`: the offset after the read that found `recent[i]`. */
  ends: number[];
  /** The offset the window starts after (older offsets get a reset). */
  windowStart: number;
  /** Byte offset after the last complete line read. */
  offset: number;
}

/** What came after an offset (see {@linkcode recordsSince}). */
export interface RecordsSince<R> {
  /** Records whose lines end after the offset asked for, in file order. */
  records: R[];
  /** Offset to ask from next time. */
  offset: number;
  /** True when the file was replaced, or the offset is older than the window: reload. */
  reset: boolean;
}

/**
 * The records of `w` after byte `offset` (as handed out earlier); an offset past the end (the
 * file was replaced) or older than the window gives `reset`, with the whole window when
 * `windowOnReset` and no records otherwise.
 *
 * @example
 * ```ts
 * import { recordsSince } from "./tail_cache.ts";
 * const w = { recent: ["a", "b"], ends: [10, 20], windowStart: 0, offset: 20 };
 * console.log(recordsSince(w, 10, false).records); // ["b"]
 * ```
 */
export function recordsSince<R>(
  w: RecentWindow<R>,
  offset: number,
  windowOnReset: boolean,
): RecordsSince<R> {
  if (offset > w.offset || offset < w.windowStart) {
    return { records: windowOnReset ? w.recent.slice() : [], offset: w.offset, reset: true };
  }
  let lo = 0, hi = w.ends.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (w.ends[mid] <= offset) lo = mid + 1;
    else hi = mid;
  }
  return { records: w.recent.slice(lo), offset: w.offset, reset: false };
}

/**
 * Appends `records`, found by one read that ended at `end`, to the window. Every offset handed
 * out is the end of a read, so "after offset X" is then exact. Past `2 * keep` records the
 * window is cut back to the most recent `keep`.
 *
 * @example
 * ```ts
 * import { appendRecent } from "./tail_cache.ts";
 * const w = { recent: [] as string[], ends: [] as number[], windowStart: 0, offset: 0 };
 * appendRecent(w, ["a", "b"], 10, 100);
 * console.log(w.recent, w.ends); // ["a", "b"] [10, 10]
 * ```
 */
export function appendRecent<R>(
  w: RecentWindow<R>,
  records: readonly R[],
  end: number,
  keep: number,
): void {
  for (const r of records) {
    w.recent.push(r);
    w.ends.push(end);
  }
  if (w.recent.length > 2 * keep) {
    const drop = w.recent.length - keep;
    w.windowStart = w.ends[drop - 1];
    w.recent = w.recent.slice(drop);
    w.ends = w.ends.slice(drop);
  }
}

/**
 * A small LRU of entries keyed by run directory: `get` refreshes the entry (given the previous
 * one, if kept), concurrent calls for one run share one refresh, and past `capacity` runs the
 * least recently refreshed is dropped.
 *
 * @example
 * ```ts
 * import { RunLru } from "./tail_cache.ts";
 * const lru = new RunLru<number>(2, (_dir, previous) => Promise.resolve((previous ?? 0) + 1));
 * console.log(await lru.get("runs/a"), await lru.get("runs/a")); // 1 2
 * ```
 */
export class RunLru<E> {
  #entries = new Map<string, E>();
  #inflight = new Map<string, Promise<E>>();
  readonly #capacity: number;
  readonly #refresh: (runDir: string, previous: E | undefined) => Promise<E>;

  /** Keeps at most `capacity` entries; `refresh` extends (or replaces) a run's entry. */
  constructor(
    capacity: number,
    refresh: (runDir: string, previous: E | undefined) => Promise<E>,
  ) {
    this.#capacity = capacity;
    this.#refresh = refresh;
  }

  /** The run's entry, refreshed (one refresh at a time per run). */
  get(runDir: string): Promise<E> {
    const pending = this.#inflight.get(runDir);
    if (pending) return pending;
    const p = this.#update(runDir).finally(() => this.#inflight.delete(runDir));
    this.#inflight.set(runDir, p);
    return p;
  }

  async #update(runDir: string): Promise<E> {
    const entry = await this.#refresh(runDir, this.#entries.get(runDir));
    this.#entries.delete(runDir);
    this.#entries.set(runDir, entry);
    while (this.#entries.size > this.#capacity) {
      this.#entries.delete(this.#entries.keys().next().value!);
    }
    return entry;
  }
}
