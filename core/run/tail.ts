/**
 * Following a live run: {@linkcode RunTail.poll} looks at the sizes and times of the run's
 * files (cheap `lstat`s) and reads only what changed: new metrics records (through a shared
 * {@linkcode MetricsCache} when given), new events, and run.json when it was rewritten.
 *
 * @example
 * ```ts
 * import { RunTail } from "./tail.ts";
 * const tail = new RunTail("runs/default-20261201-101010");
 * const changes = await tail.poll();
 * console.log(changes.metrics?.records.length ?? 0, changes.info?.status);
 * ```
 *
 * @module
 */
import { join } from "node:path";
import { type MetricsRecord, RUN_FILES, type RunEvent, type RunInfo } from "./format.ts";
import { readEvents, readMetrics, readRunInfo } from "./reader.ts";
import type { MetricsCache } from "./metrics_cache.ts";
import type { EventsCache } from "./events_cache.ts";

/** What changed since the previous poll. */
export interface RunChanges {
  /** New metrics records, when any (or when the file was replaced: `reset`). */
  metrics?: { records: MetricsRecord[]; offset: number; reset: boolean };
  /** New events, when any. */
  events?: { events: RunEvent[]; offset: number; reset: boolean };
  /** run.json, when its content changed. */
  info?: RunInfo;
}

/** Where a tail starts (offsets returned by earlier reads; 0 = from the start). */
export interface TailStart {
  /** Metrics byte offset already seen. */
  metricsOffset?: number;
  /** Events byte offset already seen. */
  eventsOffset?: number;
}

async function stamp(path: string): Promise<string> {
  try {
    const st = await Deno.lstat(path);
    return `${st.size}:${st.mtime?.getTime() ?? 0}`;
  } catch {
    return "none";
  }
}

/** Follows one run's metrics, events and status. */
export class RunTail {
  readonly #dir: string;
  readonly #cache: MetricsCache | undefined;
  readonly #events: EventsCache | undefined;
  #metricsOffset: number;
  #eventsOffset: number;
  #stamps = { metrics: "", events: "", info: "" };
  #lastInfo = "";

  /**
   * Follows the run in `runDir`; metrics come through `cache` and events through `events`
   * when given (shared by every tail of the run: one read for all of them).
   */
  constructor(runDir: string, start: TailStart = {}, cache?: MetricsCache, events?: EventsCache) {
    this.#dir = runDir;
    this.#cache = cache;
    this.#events = events;
    this.#metricsOffset = start.metricsOffset ?? 0;
    this.#eventsOffset = start.eventsOffset ?? 0;
  }

  /** Reads what changed since the last poll (nothing when no file changed). */
  async poll(): Promise<RunChanges> {
    const out: RunChanges = {};
    const [m, e, i] = await Promise.all([
      stamp(join(this.#dir, RUN_FILES.metrics)),
      stamp(join(this.#dir, RUN_FILES.events)),
      stamp(join(this.#dir, RUN_FILES.info)),
    ]);
    if (m !== this.#stamps.metrics) {
      const res = this.#cache
        ? await this.#cache.since(this.#dir, this.#metricsOffset)
        : await this.#readMetricsDirect();
      // A torn last line leaves the offset short of the size: look again next time.
      this.#stamps.metrics = m.startsWith(`${res.offset}:`) ? m : "";
      this.#metricsOffset = res.offset;
      if (res.records.length > 0 || res.reset) out.metrics = res;
    }
    if (e !== this.#stamps.events) {
      const res = this.#events
        ? await this.#events.since(this.#dir, this.#eventsOffset)
        : await readEvents(this.#dir, { sinceOffset: this.#eventsOffset });
      this.#stamps.events = e.startsWith(`${res.offset}:`) ? e : "";
      this.#eventsOffset = res.offset;
      if (res.records.length > 0 || res.reset) {
        out.events = { events: res.records, offset: res.offset, reset: res.reset };
      }
    }
    if (i !== this.#stamps.info || i === "none") {
      try {
        const info = await readRunInfo(this.#dir);
        this.#stamps.info = i;
        const text = JSON.stringify(info);
        if (text !== this.#lastInfo) {
          this.#lastInfo = text;
          out.info = info;
        }
      } catch { /* being replaced: next poll */ }
    }
    return out;
  }

  async #readMetricsDirect() {
    const res = await readMetrics(this.#dir, { sinceOffset: this.#metricsOffset });
    return { records: res.records, offset: res.offset, reset: res.reset };
  }
}
