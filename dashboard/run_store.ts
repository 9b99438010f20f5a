/**
 * What the dashboard's apps share: the runs folder, run-id resolution (no id leaves the
 * folder), one metrics cache for the API and the live streams, and the run index.
 *
 * @module
 */
import { resolve } from "node:path";
import { FsError, resolveInside, safeSegments } from "../core/fs/confine.ts";
import { MetricsCache } from "../core/run/metrics_cache.ts";
import { RunIndex } from "../core/run/index.ts";

/** The runs folder as the dashboard's apps see it. */
export class RunStore {
  /** The runs folder (absolute). */
  readonly runsDir: string;
  /** Parsed metrics, shared by `/metrics`, the CSV download and every live stream. */
  readonly metrics: MetricsCache;
  /** Summaries of every run, kept fresh by modification times (the list and its queries). */
  readonly index: RunIndex;

  /** Serves `runsDir`; `cacheRuns` runs' metrics are kept parsed (default 16). */
  constructor(runsDir: string, cacheRuns = 16) {
    this.runsDir = resolve(runsDir);
    this.metrics = new MetricsCache(cacheRuns);
    this.index = new RunIndex(this.runsDir);
  }

  /** `message` with the runs folder's absolute path taken out (paths relative to it). */
  relative(message: string): string {
    return message.split(this.runsDir + "/").join("").split(this.runsDir).join(".");
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
