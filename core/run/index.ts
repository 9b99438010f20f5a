/**
 * The run index: the summaries of every run of a runs folder (run.json facts plus the
 * metadata sidecar), kept fresh by modification times so that listing and querying thousands
 * of runs does not reread thousands of run.json files. A run's key is its folder's
 * modification time with the size and modification time of its run.json, meta.json and (for
 * its restarts, hence its duration) events.jsonl, so a file edited in place, not replaced by
 * rename, is seen too; a run whose key did not change is not read again (see `runKey` for the
 * lookups spared). A refresh of thousands of runs yields to the event loop every
 * `YIELD_EVERY` runs, so a server answers its other requests meanwhile (and a request that
 * comes during the refresh shares it). The derived `crashed` state of `running` runs is
 * recomputed on every call (it changes with time, not with files). The summaries are saved
 * (atomically, awaited before the call returns) to `<runs>/.convdeck-index.json`, so the first
 * listing of a new process reads only what changed since.
 *
 * @example
 * ```ts
 * import { RunIndex } from "./index.ts";
 * const index = new RunIndex("runs");
 * for (const s of await index.summaries()) console.log(s.id, s.state, s.meta.tags);
 * ```
 *
 * @module
 */
import { join, resolve } from "node:path";
import { INDEX_FILE, RUN_FILES } from "./format.ts";
import { isTempName, removeTemps, writeFileAtomic } from "../fs/atomic.ts";
import { readConfinedText } from "../fs/confine.ts";
import { readRunMeta } from "./meta.ts";
import { readRunInfoChecked } from "./run_info.ts";
import { derivedStatusOf } from "./state.ts";
import { type Heartbeat, readHeartbeat } from "./lock.ts";
import { type Cell, runCells, type RunSummaryRecord, summarizeRun } from "./summary.ts";
import { runModelState } from "./checkpoints.ts";
import { readRunRestarts, type RunRestarts } from "./restarts.ts";
import { type ColumnInfo, tableColumns } from "./query.ts";

/** Bumped when the saved index's shape changes (an old one is then ignored). */
const INDEX_VERSION = 7;

/** The most bytes the saved index may have (about 1 KiB per run). */
export const MAX_INDEX_BYTES = 512 * 1024 * 1024;

/**
 * Runs stat'ed (or given their cells) between two turns of the event loop: a refresh of
 * thousands of runs never holds a server's other requests (the page's own files) for long.
 */
const YIELD_EVERY = 1000;

/** Lets timers and I/O (a server's requests) run before the refresh goes on. */
function yieldToEventLoop(): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, 0));
}

/** A temporary of the saved index older than this (ms) was left by a process that died. */
const INDEX_TEMP_STALE_MS = 60_000;

interface Entry {
  /**
   * The run's key when the summary was read: folder mtime, and size and mtime of run.json and
   * meta.json.
   */
  key: string;
  summary: RunSummaryRecord;
  /**
   * A running run's heartbeat as read with the summary (null: none). The heartbeat is replaced
   * by rename, so an unchanged folder means an unchanged heartbeat; only its age is new.
   */
  heartbeat?: Heartbeat | null;
  /** The run's restarts as read with the summary (none: never resumed). */
  restarts?: RunRestarts;
}

/** A run's summary with its table cells (computed once per read of the run). */
export interface IndexedRun {
  /** The summary (with the derived state). */
  summary: RunSummaryRecord;
  /** Its cells (see `runCells`). */
  cells: Record<string, Cell>;
}

/** Options of {@linkcode RunIndex}. */
export interface RunIndexOptions {
  /** Save the summaries to the runs folder and load them on start (default true). */
  persist?: boolean;
}

/** Counters of the last refresh (for benchmarks and tests). */
export interface RefreshStats {
  /** Runs in the folder. */
  runs: number;
  /** Runs whose files were read in this refresh. */
  read: number;
  /** Whether the saved index was loaded in this refresh. */
  loadedSaved: boolean;
}

/** Summaries of every run of a runs folder, read again only when a run's folder changed. */
export class RunIndex {
  /** The runs folder (absolute). */
  readonly runsDir: string;
  #entries = new Map<string, Entry>();
  #cells = new Map<string, { cells: Record<string, Cell>; shape: string }>();
  /** Runs per cell shape (keys and value types), with one run's cells as the sample. */
  #shapes = new Map<string, { count: number; sample: Record<string, Cell> }>();
  #inflight: Promise<IndexedRun[]> | undefined;
  #columns: ColumnInfo[] | undefined;
  #persist: boolean;
  #order: IndexedRun[] | undefined;
  /** Bumped when an entry changes outside a refresh: an order a refresh built meanwhile is stale. */
  #changes = 0;
  #loaded = false;
  #saving: Promise<void> | undefined;
  /** What the last refresh did. */
  lastRefresh: RefreshStats = { runs: 0, read: 0, loadedSaved: false };

  /** An index over `runsDir` (nothing is read until the first call). */
  constructor(runsDir: string, options: RunIndexOptions = {}) {
    this.runsDir = resolve(runsDir);
    this.#persist = options.persist ?? true;
  }

  /**
   * Every run's summary, fresh: folders that changed since the last call are read again,
   * `running` runs get their derived state. Newest first (by start time, then id).
   */
  async summaries(): Promise<RunSummaryRecord[]> {
    return (await this.rows()).map((r) => r.summary);
  }

  /**
   * Like {@linkcode RunIndex.summaries}, with each run's table cells (kept between calls, so a
   * query over thousands of runs builds nothing again).
   */
  rows(): Promise<IndexedRun[]> {
    this.#inflight ??= this.#refresh().finally(() => (this.#inflight = undefined));
    return this.#inflight;
  }

  /**
   * The table's columns over every run as of the last {@linkcode RunIndex.rows} (which is
   * called first when there was none); recomputed only when a run changed.
   */
  async columns(): Promise<ColumnInfo[]> {
    if (!this.#order) await this.rows();
    // Runs of one experiment share a shape: the columns come from one sample per shape.
    this.#columns ??= tableColumns([...this.#shapes.values()].map((x) => x.sample));
    return this.#columns;
  }

  /**
   * Run `id`'s restarts (for its duration without the time it was dead), from its entry while
   * its files are unchanged (a stat of each), else read again and kept: the run page asks on
   * every open, and reading a long events.jsonl each time would cost a full scan of it.
   * Undefined when it was never resumed or is not a run.
   *
   * @example
   * ```ts
   * import { RunIndex } from "./index.ts";
   * const restarts = await new RunIndex("runs").restartsOf("default-20260101-000000");
   * console.log(restarts?.at.length ?? 0);
   * ```
   */
  async restartsOf(id: string): Promise<RunRestarts | undefined> {
    const cached = this.#entries.get(id);
    const key = runKey(join(this.runsDir, id), cached, Date.now());
    if (key === undefined) return undefined;
    if (cached && cached.key === key) return cached.restarts;
    const entry = await this.#read(id, key, cached);
    if (!entry) return undefined;
    this.#entries.set(id, entry);
    this.#forgetCells(id);
    this.#columns = undefined;
    this.#order = undefined;
    this.#changes++;
    return entry.restarts;
  }

  /** Forgets run `id` (or everything), so the next call reads it again. */
  invalidate(id?: string): void {
    if (id === undefined) this.#entries.clear();
    else this.#entries.delete(id);
  }

  #cellsOf(s: RunSummaryRecord): Record<string, Cell> {
    const known = this.#cells.get(s.id);
    if (known) return known.cells;
    const cells = runCells(s);
    // Plain concatenation (no template per key): this runs for every run on a start.
    let shape = "";
    for (const k in cells) {
      const v = cells[k];
      shape += k;
      shape += v === null
        ? "\u0001n"
        : typeof v === "object"
        ? "\u0001a"
        : typeof v === "number"
        ? "\u0001u"
        : typeof v === "string"
        ? "\u0001s"
        : "\u0001b";
    }
    this.#cells.set(s.id, { cells, shape });
    const x = this.#shapes.get(shape);
    if (x) x.count++;
    else this.#shapes.set(shape, { count: 1, sample: cells });
    return cells;
  }

  #forgetCells(id: string): void {
    const known = this.#cells.get(id);
    if (!known) return;
    this.#cells.delete(id);
    const x = this.#shapes.get(known.shape)!;
    if (--x.count === 0) this.#shapes.delete(known.shape);
    else if (x.sample === known.cells) {
      // Another run of the shape becomes the sample.
      for (const c of this.#cells.values()) {
        if (c.shape === known.shape) {
          x.sample = c.cells;
          break;
        }
      }
    }
  }

  /** Loads the saved index; `temps`: the runs folder holds temporaries of it. */
  async #loadSaved(temps: boolean): Promise<boolean> {
    try {
      // What interrupted saves left (the index is saved by rename, never in place); looked
      // for only when the folder's listing shows one (listing 10,000 runs twice costs).
      if (temps) {
        await removeTemps(this.runsDir, {
          prefix: INDEX_FILE,
          olderThanMs: INDEX_TEMP_STALE_MS,
        }).catch(() => 0);
      }
      // Never a FIFO, a device or a symlink, and capped: a bad index is ignored, not waited on.
      const saved = JSON.parse(
        await readConfinedText(this.runsDir, INDEX_FILE, MAX_INDEX_BYTES, {
          scope: "the runs folder",
        }),
      );
      if (saved?.version !== INDEX_VERSION || !Array.isArray(saved.entries)) return false;
      for (const e of saved.entries as Entry[]) {
        if (typeof e?.key === "string" && typeof e.summary?.id === "string") {
          e.summary.dir = join(this.runsDir, e.summary.id);
          this.#entries.set(e.summary.id, e);
        }
      }
      return true;
    } catch {
      return false;
    }
  }

  async #refresh(): Promise<IndexedRun[]> {
    const names: string[] = [];
    let temps = false;
    try {
      for (const e of Deno.readDirSync(this.runsDir)) {
        if (e.isDirectory && !e.name.startsWith(".")) names.push(e.name);
        else if (e.name.startsWith(INDEX_FILE) && isTempName(e.name)) temps = true;
      }
    } catch (err) {
      if (!(err instanceof Deno.errors.NotFound)) throw err;
    }
    let loadedSaved = false;
    if (!this.#loaded) {
      this.#loaded = true;
      if (this.#persist) loadedSaved = await this.#loadSaved(temps);
    }
    const seen = new Set<string>();
    const stale: [string, string][] = [];
    const now = Date.now();
    for (let i = 0; i < names.length; i++) {
      if (i > 0 && i % YIELD_EVERY === 0) await yieldToEventLoop();
      const name = names[i];
      seen.add(name);
      const cached = this.#entries.get(name);
      const key = runKey(`${this.runsDir}/${name}`, cached, now);
      if (key === undefined) continue;
      if (!cached || cached.key !== key) stale.push([name, key]);
    }
    let changed = stale.length > 0;
    for (const id of [...this.#entries.keys()]) {
      if (!seen.has(id)) {
        this.#entries.delete(id);
        this.#forgetCells(id);
        changed = true;
      }
    }
    const limit = 16;
    let read = 0;
    for (let i = 0; i < stale.length; i += limit) {
      const got = await Promise.all(
        stale.slice(i, i + limit).map(([id, m]) => this.#read(id, m, this.#entries.get(id))),
      );
      for (const e of got) {
        if (e) {
          this.#entries.set(e.summary.id, e);
          this.#forgetCells(e.summary.id);
          read++;
        } else changed = true;
      }
    }
    if (changed) {
      this.#columns = undefined;
      this.#order = undefined;
    }
    // Newest first, with cells; kept until a run changes.
    let order = this.#order;
    if (!order) {
      const changes = this.#changes;
      const sorted = [...this.#entries.values()].map((e) => e.summary).sort((a, b) => {
        const x = a.createdAt ?? "", y = b.createdAt ?? "";
        return x < y ? 1 : x > y ? -1 : a.id < b.id ? 1 : -1;
      });
      order = new Array(sorted.length);
      for (let i = 0; i < sorted.length; i++) {
        if (i > 0 && i % YIELD_EVERY === 0) await yieldToEventLoop();
        order[i] = { summary: sorted[i], cells: this.#cellsOf(sorted[i]) };
      }
      // Kept unless an entry changed while it was built (restartsOf): the next call builds it.
      if (changes === this.#changes) this.#order = order;
    }
    const out = order.slice();
    const at = Date.now();
    for (let i = 0; i < out.length; i++) {
      const s = out[i].summary;
      if (s.status !== "running" || !s.updatedAt) continue;
      const entry = this.#entries.get(s.id);
      // Forgotten (`invalidate`) while this refresh yielded: the next refresh reads it again.
      if (!entry) continue;
      const hb = entry.heartbeat ?? undefined;
      const st = derivedStatusOf({ status: "running", updatedAt: s.updatedAt }, hb, at);
      if (st.status === s.state) continue;
      out[i] = {
        summary: {
          ...s,
          state: st.status,
          ...(st.crashReason ? { crashReason: st.crashReason } : {}),
        },
        cells: { ...out[i].cells, status: st.status },
      };
    }
    this.lastRefresh = { runs: out.length, read, loadedSaved };
    if (changed && this.#persist) await this.#save();
    return out;
  }

  /**
   * Reads one run's summary; `undefined` when the folder is not a run (no run.json).
   * `previous`: the run's entry before (its restarts spare reading the metrics again).
   */
  async #read(id: string, key: string, previous?: Entry): Promise<Entry | undefined> {
    const dir = join(this.runsDir, id);
    const { meta, problem } = await readRunMeta(dir);
    const metaExtra = { meta, ...(problem ? { metaProblem: problem } : {}) };
    try {
      const { info, problems } = await readRunInfoChecked(dir);
      const model = await runModelState(dir);
      // No events.jsonl in the key: no restarts, and nothing to open.
      const restarts = key.endsWith(":-")
        ? undefined
        : await readRunRestarts(dir, previous?.restarts);
      const summary = summarizeRun(id, dir, info, { problems, model, restarts, ...metaExtra });
      const entry: Entry = { key, summary, ...(restarts ? { restarts } : {}) };
      if (info.status !== "running") return entry;
      return { ...entry, heartbeat: (await readHeartbeat(dir)) ?? null };
    } catch (err) {
      const message = (err as Error).message;
      if (/does not exist/.test(message)) return undefined; // not a run folder
      return { key, summary: summarizeRun(id, dir, null, { error: message, ...metaExtra }) };
    }
  }

  /**
   * Saves the summaries (write-then-rename); awaited by the refresh that changed them, so a
   * short-lived process (the CLI) never exits before its index is written. A read-only runs
   * folder keeps the index in memory only.
   */
  #save(): Promise<void> {
    if (this.#saving) return this.#saving;
    const entries = [...this.#entries.values()];
    const body = JSON.stringify({ version: INDEX_VERSION, entries });
    this.#saving = writeFileAtomic(join(this.runsDir, INDEX_FILE), body, {
      sync: false,
      root: this.runsDir,
    })
      .catch(() => {/* a read-only runs folder: the index lives in memory only */})
      .finally(() => (this.#saving = undefined));
    return this.#saving;
  }

  /** Waits until the saved index is written (tests and benchmarks). */
  async flush(): Promise<void> {
    await this.#saving;
  }
}

/**
 * How long (ms) after its last change a folder's mtime is trusted to say that no file appeared
 * in it: longer than the coarsest mtime resolution of common file systems (FAT: 2 s).
 */
const SETTLED_MS = 3_000;

/** The files whose size and mtime are part of a run's key (events.jsonl last). */
const KEY_FILES = [RUN_FILES.info, RUN_FILES.meta, RUN_FILES.events];

/**
 * The key that says whether a run must be read again: its folder's mtime, and the size and
 * mtime of run.json, meta.json and events.jsonl (`lstat`: a FIFO or symlink is never opened
 * here). `undefined` when the folder is gone. Two lookups are spared, the answer unchanged:
 *
 * - A file missing from the `cached` key is not looked up again while the folder keeps that
 *   key's mtime (settled for {@linkcode SETTLED_MS}): a file cannot appear in a folder
 *   without changing its mtime, and a failed `lstat` costs several times a successful one
 *   (most runs have no meta.json). A file that exists is looked at (an in-place edit changes
 *   only the file).
 * - events.jsonl counts for the run's restarts (its duration) only. A resume rewrites run.json
 *   and sets its status `running` (the trainer after the `resumed` event, the tracking API
 *   before it: a run whose run.json says `running` has its events.jsonl looked at on every
 *   refresh). So while run.json is as cached and the run was not running, no restart came
 *   and the cached part stands (a finished run's events.jsonl is not looked up).
 */
function runKey(dir: string, cached: Entry | undefined, now: number): string | undefined {
  let folder: number;
  try {
    folder = Deno.lstatSync(dir).mtime?.getTime() ?? 0;
  } catch {
    return undefined;
  }
  let key = String(folder);
  const parts = cached?.key.split(":");
  const settled = parts?.[0] === key && now - folder > SETTLED_MS;
  const last = KEY_FILES.length - 1;
  let info = "";
  for (let i = 0; i <= last; i++) {
    const was = parts?.[i + 1];
    let part: string;
    if (
      (settled && was === "-") ||
      (i === last && was !== undefined && parts![1] === info &&
        cached!.summary.status !== "running")
    ) {
      part = was!;
    } else {
      try {
        const st = Deno.lstatSync(`${dir}/${KEY_FILES[i]}`);
        part = `${st.size}@${st.mtime?.getTime() ?? 0}`;
      } catch {
        part = "-";
      }
    }
    if (i === 0) info = part;
    key += `:${part}`;
  }
  return key;
}
