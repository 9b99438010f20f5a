/**
 * The one progress line of the package (training epochs, the first decode of an image folder,
 * predict over many files): on a terminal a cli-progress bar rewritten in place (throttled to
 * `fps`); elsewhere (logs, CI) a plain line each time another `lineEvery` of the work is done,
 * throttled to `fps` too, without control characters.
 *
 * @example
 * ```ts
 * import { ProgressLine } from "./progress.ts";
 * const progress = new ProgressLine("decoding images", 1000, { isTTY: false });
 * for (let i = 1; i <= 1000; i++) progress.update(i);
 * progress.finish();
 * ```
 *
 * @module
 */
// @ts-types="@types/cli-progress"
import cliProgress from "cli-progress";
import process from "node:process";
import { formatDuration } from "./duration.ts";

/** Where a progress line goes: a Node-style stream (`process.stdout`, `process.stderr`). */
export interface ProgressStream {
  /** Writes text. */
  write(text: string): unknown;
  /** Whether it is a terminal. */
  isTTY?: boolean;
}

/** Options of {@linkcode ProgressLine}. */
export interface ProgressLineOptions {
  /** Where to print (default: stderr). */
  stream?: ProgressStream;
  /** Draw a bar in place (default: whether the stream is a terminal). */
  isTTY?: boolean;
  /** Most redraws (terminal) or lines (elsewhere) per second. Default 10. */
  fps?: number;
  /** Fraction of the work between plain lines when not a terminal. Default 0.1. */
  lineEvery?: number;
  /** Clock in ms (for tests). Default `performance.now`. */
  now?: () => number;
}

/** A text bar of `width` cells, e.g. `[=====>....]`. */
function textBar(value: number, total: number, width: number): string {
  const filled = Math.round((Math.min(value, total) / Math.max(1, total)) * width);
  return `[${"=".repeat(Math.max(0, filled - 1))}${filled > 0 ? (filled < width ? ">" : "=") : ""}${
    ".".repeat(width - filled)
  }]`;
}

/**
 * Progress of `total` items under `label`: {@linkcode update} as items finish (with an
 * optional text after the count), {@linkcode finish} at the end.
 *
 * @example
 * ```ts
 * import { ProgressLine } from "./progress.ts";
 * const lines: string[] = [];
 * const p = new ProgressLine("Epoch 1/2", 4, { stream: { write: (s) => lines.push(s) }, isTTY: false });
 * p.update(2, "loss 0.5");
 * p.finish("Epoch 1/2  4/4  done");
 * ```
 */
export class ProgressLine {
  /** True when drawing an in-place bar (terminal), false for plain lines. */
  readonly isTTY: boolean;
  readonly #stream: ProgressStream;
  readonly #fps: number;
  readonly #lineEvery: number;
  readonly #now: () => number;
  readonly #start: number;
  #bar: cliProgress.SingleBar | undefined;
  #lastLine = -Infinity;
  #nextFraction: number;
  #done = 0;

  /** Starts the line (a terminal bar is drawn at once). */
  constructor(readonly label: string, readonly total: number, options: ProgressLineOptions = {}) {
    this.#stream = options.stream ?? process.stderr;
    this.isTTY = options.isTTY ?? this.#stream.isTTY === true;
    this.#fps = options.fps ?? 10;
    this.#lineEvery = options.lineEvery ?? 0.1;
    this.#now = options.now ?? (() => performance.now());
    if (!(this.#fps > 0)) throw new Error(`progress: fps must be > 0, got ${this.#fps}.`);
    if (!(this.#lineEvery > 0 && this.#lineEvery <= 1)) {
      throw new Error(`progress: lineEvery must be in (0, 1], got ${this.#lineEvery}.`);
    }
    this.#start = this.#now();
    this.#nextFraction = this.#lineEvery;
    if (this.isTTY) {
      this.#bar = new cliProgress.SingleBar({
        stream: this.#stream as unknown as NodeJS.WritableStream,
        fps: this.#fps,
        clearOnComplete: true,
        hideCursor: false,
        linewrap: false,
        barsize: 24,
        format: (_o: unknown, p: { value: number; total: number }, payload: { text?: string }) =>
          `${this.label} ${textBar(p.value, p.total, 24)} ${payload.text ?? ""}`,
      });
      this.#bar.start(Math.max(1, total), 0, { text: `0/${total}` });
    }
  }

  /** True while a terminal bar is drawn (its redraw timer running). */
  get active(): boolean {
    return this.#bar !== undefined;
  }

  /** `done/total [pct%]  eta m:ss` (and `text`) for `done` items. */
  text(done: number, text?: string): string {
    const elapsed = this.#now() - this.#start;
    const eta = this.total > done && done > 0 ? (elapsed / done) * (this.total - done) : 0;
    const pct = this.total > 0 ? Math.min(100, Math.floor((done / this.total) * 100)) : 100;
    const head = `${done}/${this.total} [${pct}%]  eta ${formatDuration(eta, "clock")}`;
    return text ? `${head}  ${text}` : head;
  }

  /** Records that `done` items are finished; `text` follows the count. */
  update(done: number, text?: string): void {
    this.#done = done;
    const line = this.text(done, text);
    if (this.#bar) {
      this.#bar.update(done, { text: line }); // cli-progress throttles the redraw to fps
      return;
    }
    const total = this.total;
    if (total <= 0 || done / total < this.#nextFraction - 1e-9 || done >= total) return;
    while (this.#nextFraction <= done / total + 1e-9) this.#nextFraction += this.#lineEvery;
    const t = this.#now();
    if (t - this.#lastLine < 1000 / this.#fps) return;
    this.#lastLine = t;
    this.#stream.write(`${this.label}  ${line}\n`);
  }

  /** Stops the bar and prints `line` (default: the count and the time it took). */
  finish(line?: string): void {
    this.stop();
    const took = formatDuration(this.#now() - this.#start, "clock");
    this.#stream.write(`${line ?? `${this.label}  ${this.#done}/${this.total}  ${took}`}\n`);
  }

  /** Stops the bar without printing (a failure or a stop mid-way). */
  stop(): void {
    this.#bar?.stop();
    this.#bar = undefined;
  }
}
