/**
 * What the dashboard's apps share: the runs folder, run-id resolution (no id leaves the
 * folder), one metrics cache for the API and the live streams, one events cache for the
 * streams, and the run index.
 *
 * @module
 */
import { resolve } from "node:path";
import { FsError, resolveInside, safeSegments } from "../core/fs/confine.ts";
import { MetricsCache } from "../core/run/metrics_cache.ts";
import { EventsCache } from "../core/run/events_cache.ts";
import { RunIndex } from "../core/run/index.ts";

/** The runs folder as the dashboard's apps see it. */
export class RunStore {
  /** The runs folder (absolute). */
  readonly runsDir: string;
  /** Parsed metrics, shared by `/metrics`, the CSV download and every live stream. */
  readonly metrics: MetricsCache;
  /** Recent events per run, shared by every live stream (one read of a run's events). */
  readonly events: EventsCache;
  /** Summaries of every run, kept fresh by modification times (the list and its queries). */
  readonly index: RunIndex;

  /** Serves `runsDir`; `cacheRuns` runs' metrics are kept parsed (default 16). */
  constructor(runsDir: string, cacheRuns = 16) {
    this.runsDir = resolve(runsDir);
    this.metrics = new MetricsCache(cacheRuns);
    this.events = new EventsCache(2 * cacheRuns);
    this.index = new RunIndex(this.runsDir);
  }

  /** `message` with the runs folder's absolute path taken out (paths relative to it). */
  relative(message: string): string {
    return message.split(this.runsDir + "/").join("").split(this.runsDir).join(".");
  }

  /**
   * `value` with the runs folder's absolute path taken out of every string in it (run files
   * may record absolute paths, e.g. a checkpoint event's `path`): what the API sends never
   * names where the runs folder is on this machine.
   */
  relativeDeep<T>(value: T): T {
    if (typeof value === "string") return this.relative(value) as T;
    if (Array.isArray(value)) return value.map((v) => this.relativeDeep(v)) as T;
    if (value !== null && typeof value === "object") {
      const out: Record<string, unknown> = {};
      for (const [k, v] of Object.entries(value)) out[k] = this.relativeDeep(v);
      return out as T;
    }
    return value;
  }

  /**
   * The folder of run `id` (one path segment, no `..`, no `%`, not a symlink leaving the
   * runs folder); throws {@linkcode FsError} (400 or 404) otherwise.
   */
  dir(id: string): Promise<string> {
    if (safeSegments(id).length !== 1) {
      throw new FsError(id, `bad run id ${JSON.stringify(id)}`, 400);
    }
    return resolveInside(this.runsDir, id);
  }
}
