/**
 * The one writer of a run's JSON-lines files (`metrics.jsonl`, `events.jsonl`), shared by the
 * trainer's `RunWriter` and the tracking client (`track/`): records are kept in memory and
 * appended in the background at most `flushMs` (1 s) later, as whole lines only, so a caller
 * never waits on the disk and a crash (even SIGKILL) loses at most the last second and never
 * leaves a torn line. The file is opened through core/fs's confinement policy (never through
 * a symlink, never a FIFO; its folder must exist, so a run folder deleted under the writer is
 * not re-created), which runs in Deno and in Node.
 *
 * @example
 * ```ts
 * import { LineLog } from "./line_log.ts";
 * const dir = await Deno.makeTempDir();
 * const log = new LineLog(dir, "metrics.jsonl");
 * log.append({ epoch: 0, step: 1, time: Date.now(), loss: 0.5 }); // returns at once
 * await log.flush(true); // on disk and fsynced
 * await log.close();
 * ```
 *
 * @module
 */
import { join } from "node:path";
import { appendConfinedSync, type ConfinedFile, openConfinedAppend } from "../fs/confine.ts";
import { plainFsError } from "../fs/os_error.ts";
import { unrefTimer } from "./_runtime.ts";

/** Options of a {@linkcode LineLog}. */
export interface LineLogOptions {
  /** Longest time a record waits in memory before its background write (ms, default 1000). */
  flushMs?: number;
  /** Buffered bytes that start a background write at once (default 1 MiB). */
  maxBufferBytes?: number;
}

/**
 * A buffered, append-only JSON-lines file: {@linkcode LineLog.append} returns at once;
 * a background write follows within `flushMs`; {@linkcode LineLog.flush} writes (and with
 * `sync`, fsyncs) now. Each background write is one `write` of whole lines.
 */
export class LineLog {
  readonly #dir: string;
  readonly #name: string;
  readonly #flushMs: number;
  readonly #maxBuffer: number;
  #lines: string[] = [];
  #bufferedChars = 0;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #queue: Promise<void> = Promise.resolve();
  #file: ConfinedFile | undefined;
  #error: Error | undefined;
  #bytes = 0;
  #closed = false;

  /**
   * A log appending to the file `name` (a `/`-separated path) inside the existing folder
   * `dir` (created on the first write).
   */
  constructor(dir: string, name: string, options: LineLogOptions = {}) {
    this.#dir = dir;
    this.#name = name;
    this.#flushMs = options.flushMs ?? 1000;
    this.#maxBuffer = options.maxBufferBytes ?? 1 << 20;
  }

  /** The file's path. */
  get path(): string {
    return join(this.#dir, this.#name);
  }

  /** Characters handed to the file so far (written or being written; bytes for ASCII). */
  get bytesWritten(): number {
    return this.#bytes;
  }

  /**
   * Buffers `record` as one JSON line. Throws the error of an earlier background write (a
   * full disk, a removed folder), so a failing log is noticed at the next call.
   */
  append(record: unknown): void {
    this.appendLine(JSON.stringify(record));
  }

  /** Buffers one line of JSON text (without its newline; it must hold no newline). */
  appendLine(json: string): void {
    if (this.#error) throw this.#error;
    if (this.#closed) throw new Error(`${this.#name}: the log is closed`);
    this.#lines.push(json);
    this.#bufferedChars += json.length + 1;
    if (this.#bufferedChars >= this.#maxBuffer) void this.#write(false).catch(() => {});
    else if (this.#timer === undefined) {
      this.#timer = setTimeout(() => {
        this.#timer = undefined;
        void this.#write(false).catch(() => {});
      }, this.#flushMs);
      unrefTimer(this.#timer);
    }
  }

  /** Writes everything buffered now; with `sync`, also flushes the file to disk. */
  flush(sync = false): Promise<void> {
    return this.#write(sync);
  }

  #write(sync: boolean): Promise<void> {
    if (this.#timer !== undefined) {
      clearTimeout(this.#timer);
      this.#timer = undefined;
    }
    const text = this.#take();
    this.#queue = this.#queue.then(async () => {
      if (this.#error) throw this.#error;
      try {
        if (text !== "") {
          this.#file ??= await openConfinedAppend(this.#dir, this.#name);
          await this.#file.write(text);
        }
        if (sync && this.#file) await this.#file.datasync();
      } catch (err) {
        this.#error = new Error(
          `cannot append to ${this.#name}: ${(plainFsError(err) as Error).message}`,
        );
        throw this.#error;
      }
    });
    return this.#queue;
  }

  #take(): string {
    if (this.#lines.length === 0) return "";
    const text = this.#lines.join("\n") + "\n";
    this.#lines = [];
    this.#bufferedChars = 0;
    this.#bytes += text.length;
    return text;
  }

  /**
   * Writes what is buffered synchronously (for exit handlers, which cannot wait). Lines
   * already handed to a background write are that write's; this appends after them only
   * when nothing is in flight, else it waits for nothing and may reorder at most the tail.
   */
  flushSync(): void {
    if (this.#timer !== undefined) {
      clearTimeout(this.#timer);
      this.#timer = undefined;
    }
    const text = this.#take();
    if (text !== "") appendConfinedSync(this.#dir, this.#name, text);
  }

  /** Writes what is buffered, waits for it and closes the file; later appends throw. */
  async close(): Promise<void> {
    if (this.#closed) return;
    await this.#write(false).catch(() => {});
    this.#closed = true;
    await this.#queue.catch(() => {});
    const file = this.#file;
    this.#file = undefined;
    await file?.close();
  }

  /** Reopens a closed log (the trainer closes the file to rewrite it on resume). */
  reopen(): void {
    this.#closed = false;
    this.#error = undefined;
  }
}
