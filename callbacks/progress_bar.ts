/**
 * ProgressBar: per-batch progress, ETA and running loss/accuracy on the terminal.
 *
 * On a TTY the bar is drawn by `cli-progress` (a widely used npm progress bar that works in
 * Deno through `node:` compatibility): it redraws one line in place, at most `fps` (10) times
 * a second, and clears itself at the end of the epoch. When stdout is not a TTY (CI logs,
 * pipes, files), cli-progress only offers time-scheduled redraws, so plain lines are written
 * here instead: one at every ~10% of the epoch's batches (also throttled) and one per epoch.
 *
 * @module
 */
// @ts-types="@types/cli-progress"
import cliProgress from "cli-progress";
import process from "node:process";
import type { Callback, TrainContext } from "../core/callback.ts";
import type { Logs } from "../core/logs.ts";
import { formatDuration } from "../core/format/duration.ts";

/** Where the progress goes: anything with `write` (and `isTTY`, `columns` for terminals). */
export interface ProgressStream {
  /** Writes text. */
  write(text: string): unknown;
  /** True for a terminal. */
  isTTY?: boolean;
  /** Terminal width in characters. */
  columns?: number;
}

/** Options of {@link ProgressBar}. */
export interface ProgressBarOptions {
  /** Output stream. Default `process.stdout`. */
  stream?: ProgressStream;
  /** Force TTY (bar) or plain-line mode. Default: the stream's `isTTY`. */
  isTTY?: boolean;
  /** Maximum redraws per second. Default 10. */
  fps?: number;
  /** Fraction of the epoch between plain lines when not a TTY. Default 0.1. */
  lineEvery?: number;
  /** Clock in ms (for tests). Default `performance.now`. */
  now?: () => number;
  /** Callback name. Default `ProgressBar`. */
  name?: string;
}

/** Formats a metric value compactly (4 significant decimals, exponent for tiny values). */
export function formatMetric(v: number): string {
  if (!Number.isFinite(v)) return String(v);
  if (v !== 0 && Math.abs(v) < 1e-3) return v.toExponential(2);
  return v.toFixed(4);
}

/**
 * The batch metrics worth showing: the trainer passes Keras 3 style running means of the epoch
 * (`loss`, `acc`, ...) plus the batch's own `batch_*` values and `size`; show the means.
 */
function runningText(logs: Logs): string {
  return Object.entries(logs)
    .filter(([k, v]) =>
      k !== "size" && k !== "batch" && !k.startsWith("batch_") && typeof v === "number"
    )
    .map(([k, v]) => `${k} ${formatMetric(v)}`)
    .join("  ");
}

/**
 * A Keras-like progress display.
 *
 * @example
 * ```ts
 * import { ProgressBar } from "./progress_bar.ts";
 * const bar = new ProgressBar(); // a bar on a terminal, plain lines in CI logs
 * ```
 */
export class ProgressBar implements Callback {
  readonly name: string;
  /** True when drawing an in-place bar (terminal), false for plain lines. */
  readonly isTTY: boolean;
  readonly #stream: ProgressStream;
  readonly #fps: number;
  readonly #lineEvery: number;
  readonly #now: () => number;
  #bar: cliProgress.SingleBar | undefined;
  #epochStart = 0;
  #lastLine = -Infinity;
  #nextFraction = 0;
  #label = "";

  /** Creates the display; nothing is written before training starts. */
  constructor(options: ProgressBarOptions = {}) {
    this.name = options.name ?? "ProgressBar";
    this.#stream = options.stream ?? process.stdout;
    this.isTTY = options.isTTY ?? this.#stream.isTTY === true;
    this.#fps = options.fps ?? 10;
    this.#lineEvery = options.lineEvery ?? 0.1;
    this.#now = options.now ?? (() => performance.now());
    if (!(this.#fps > 0)) throw new Error(`${this.name}: fps must be > 0, got ${this.#fps}.`);
    if (!(this.#lineEvery > 0 && this.#lineEvery <= 1)) {
      throw new Error(`${this.name}: lineEvery must be in (0, 1], got ${this.#lineEvery}.`);
    }
  }

  /** True while a terminal bar is drawn (its redraw timer running). */
  get active(): boolean {
    return this.#bar !== undefined;
  }

  /** Starts the epoch's bar. */
  onEpochBegin(epoch: number, ctx: TrainContext): void {
    this.#stopBar();
    this.#epochStart = this.#now();
    this.#lastLine = -Infinity;
    this.#nextFraction = this.#lineEvery;
    this.#label = `Epoch ${epoch + 1}/${ctx.totalEpochs}`;
    if (this.isTTY) {
      this.#bar = new cliProgress.SingleBar({
        stream: this.#stream as unknown as NodeJS.WritableStream,
        fps: this.#fps,
        clearOnComplete: true,
        hideCursor: false,
        linewrap: false,
        barsize: 24,
        format: (_o: unknown, p: { value: number; total: number }, payload: { text?: string }) =>
          `${this.#label} ${bar(p.value, p.total, 24)} ${payload.text ?? ""}`,
      });
      this.#bar.start(Math.max(1, ctx.stepsPerEpoch), 0, { text: `0/${ctx.stepsPerEpoch}` });
    }
  }

  /** Updates progress, ETA and running means. */
  onBatchEnd(batch: number, logs: Logs, ctx: TrainContext): void {
    const done = batch + 1;
    const total = ctx.stepsPerEpoch;
    const elapsed = (this.#now() - this.#epochStart) / 1000;
    const eta = total > done ? (elapsed / done) * (total - done) : 0;
    const pct = total > 0 ? Math.min(100, Math.floor((done / total) * 100)) : 100;
    const text = `${done}/${total} [${pct}%]  eta ${formatDuration(eta * 1000, "clock")}  ${
      runningText(logs)
    }`;
    if (this.#bar) {
      this.#bar.update(done, { text }); // cli-progress throttles the redraw to fps
      return;
    }
    if (total <= 0 || done / total < this.#nextFraction - 1e-9 || done >= total) return;
    while (this.#nextFraction <= done / total + 1e-9) this.#nextFraction += this.#lineEvery;
    const t = this.#now();
    if (t - this.#lastLine < 1000 / this.#fps) return;
    this.#lastLine = t;
    this.#stream.write(`${this.#label}  ${text}\n`);
  }

  /** Ends the epoch's bar with one summary line (all epoch logs). */
  onEpochEnd(_epoch: number, logs: Logs, ctx: TrainContext): void {
    this.#stopBar();
    const secs = (this.#now() - this.#epochStart) / 1000;
    const metrics = Object.entries(logs)
      .filter(([, v]) => typeof v === "number")
      .map(([k, v]) => `${k} ${k === "lr" ? String(v) : formatMetric(v)}`)
      .join("  ");
    this.#stream.write(
      `${this.#label}  ${ctx.stepsPerEpoch}/${ctx.stepsPerEpoch}  ${
        secs.toFixed(1)
      }s  ${metrics}\n`,
    );
  }

  /** Stops a bar left open by a failure or a stop mid-epoch. */
  onTrainEnd(): void {
    this.#stopBar();
  }

  #stopBar(): void {
    this.#bar?.stop();
    this.#bar = undefined;
  }
}

/** A text bar of `width` cells. */
function bar(value: number, total: number, width: number): string {
  const filled = Math.round((Math.min(value, total) / Math.max(1, total)) * width);
  return `[${"=".repeat(Math.max(0, filled - 1))}${filled > 0 ? (filled < width ? ">" : "=") : ""}${
    ".".repeat(width - filled)
  }]`;
}
