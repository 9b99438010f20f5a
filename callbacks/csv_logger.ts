/**
 * CSVLogger: one CSV row per epoch, Keras-compatible columns.
 *
 * @module
 */
import { dirname, isAbsolute, join, relative, sep as pathSep } from "node:path";
import type { Callback, TrainContext } from "../core/train/callback.ts";
import type { Logs } from "../core/train/logs.ts";
import { stateObject } from "./monitor.ts";
import { DEFAULT_CSV_LOG } from "../core/run/artifacts.ts";
import { FsError, readConfinedText } from "../core/fs/confine.ts";

/** The most bytes of an existing CSV log read back to continue it. */
const MAX_CSV_BYTES = 64 * 1024 * 1024;
import { csvRow, parseCsvRow } from "../core/format/csv.ts";

/** Options of {@link CSVLogger}. */
export interface CSVLoggerOptions {
  /** Field separator. Default `,`. */
  separator?: string;
  /** Append to an existing file instead of overwriting it. Default false. */
  append?: boolean;
  /** Callback name. Default `CSVLogger`. */
  name?: string;
}

/** The plain-JSON state of {@link CSVLogger} (see `getState`). */
export interface CSVLoggerState {
  /** The columns after `epoch`, once fixed. */
  keys: string[] | null;
  /** Whether the file was already started. */
  started: boolean;
}

/**
 * Writes `epoch` (0-based, as Keras) and the epoch's logs to a CSV file. Columns are fixed at
 * the first epoch: `epoch`, then the sorted log keys (plus `val_`-prefixed copies when the
 * first epoch had no validation keys, as Keras does); keys absent later are written `NA`,
 * keys that appear later are ignored. Each row is appended and flushed as it is written.
 * A relative `filename` resolves in the run directory.
 *
 * Differences from Keras: the file is overwritten only by the first `train()` call of this
 * callback (later calls and resumes continue it, since training continues); with `append`,
 * the columns of an existing file's header are reused.
 *
 * @example
 * ```ts
 * import { CSVLogger } from "./csv_logger.ts";
 * const csv = new CSVLogger("training.csv", { separator: ",", append: false });
 * ```
 */
export class CSVLogger implements Callback {
  readonly name: string;
  /** The CSV file name (relative to the run dir unless absolute). */
  readonly filename: string;
  /** Field separator. */
  readonly separator: string;
  /** Append to an existing file. */
  readonly append: boolean;
  /** Absolute path, known once training starts. */
  path: string | undefined;
  /** The columns after `epoch`, fixed at the first epoch. */
  keys: string[] | undefined;
  #started = false;
  #writeHeader = true;
  /** The path relative to the run folder when the file is inside it (written by the run). */
  #rel: string | undefined;
  /** The file's whole text (inside the run: rewritten through the run logger each epoch). */
  #text = "";

  /** Creates the logger. */
  constructor(filename: string = DEFAULT_CSV_LOG, options: CSVLoggerOptions = {}) {
    this.name = options.name ?? "CSVLogger";
    if (!filename) throw new Error(`${this.name}: filename must not be empty.`);
    this.filename = filename;
    this.separator = options.separator ?? ",";
    if (!this.separator || /["\r\n]/.test(this.separator)) {
      throw new Error(
        `${this.name}: separator must be a non-empty string without quotes or newlines.`,
      );
    }
    this.append = Boolean(options.append);
  }

  /** Opens (creates, truncates or continues) the file. */
  async onTrainBegin(ctx: TrainContext): Promise<void> {
    this.path = isAbsolute(this.filename) ? this.filename : join(ctx.run.dir, this.filename);
    const rel = relative(ctx.run.dir, this.path);
    // Inside the run, the run logger writes the file (it checks that this process still owns
    // the run, and never re-creates a deleted run folder); a path the user chose outside the
    // run is written there directly.
    this.#rel = rel !== "" && !rel.startsWith("..") && !isAbsolute(rel)
      ? rel.split(pathSep).join("/")
      : undefined;
    let existing: string;
    if (this.#rel !== undefined) {
      existing = await readConfinedText(ctx.run.dir, this.#rel, MAX_CSV_BYTES).catch((e) => {
        if (e instanceof FsError && e.status === 404) return "";
        throw e;
      });
    } else {
      await Deno.mkdir(dirname(this.path), { recursive: true });
      existing = await Deno.readTextFile(this.path).catch((e) => {
        if (e instanceof Deno.errors.NotFound) return "";
        throw e;
      });
    }
    if (this.append || this.#started) {
      this.#text = existing;
      const header = existing.split(/\r?\n/, 1)[0];
      this.#writeHeader = header.length === 0;
      if (!this.#writeHeader && this.keys === undefined) {
        const cols = parseCsvRow(header, this.separator);
        if (cols[0] === "epoch") this.keys = cols.slice(1);
      }
    } else {
      this.#text = "";
      if (this.#rel !== undefined) await ctx.run.artifact(this.#rel, "");
      else await Deno.writeTextFile(this.path, "");
      this.#writeHeader = true;
      this.keys = undefined;
    }
    this.#started = true;
  }

  /** Appends the epoch's row (and the header before the first row). */
  async onEpochEnd(epoch: number, logs: Logs, ctx: TrainContext): Promise<void> {
    if (!this.path) await this.onTrainBegin(ctx);
    if (this.keys === undefined) {
      const keys = Object.keys(logs).sort();
      if (keys.length && !keys.some((k) => k.startsWith("val_"))) {
        keys.push(...keys.map((k) => `val_${k}`));
      }
      this.keys = keys;
    }
    const sep = this.separator;
    let text = "";
    if (this.#writeHeader) {
      text += csvRow(["epoch", ...this.keys], sep) + "\n";
      this.#writeHeader = false;
    }
    text += csvRow([epoch, ...this.keys.map((k) => logs[k] ?? "NA")], sep) + "\n";
    this.#text += text;
    if (this.#rel !== undefined) await ctx.run.artifact(this.#rel, this.#text);
    else await Deno.writeTextFile(this.path!, text, { append: true });
  }

  /** Plain-JSON state (the columns), so a resumed run keeps the same columns. */
  getState(): CSVLoggerState {
    return { keys: this.keys ? [...this.keys] : null, started: this.#started };
  }

  /** Restores {@link getState}'s result. */
  setState(state: unknown): void {
    const s = stateObject(this.name, state) as unknown as CSVLoggerState;
    this.keys = Array.isArray(s.keys) ? s.keys.map(String) : undefined;
    this.#started = Boolean(s.started);
  }
}
