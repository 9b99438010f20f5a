/**
 * ProgressBar: per-batch progress, ETA and running loss/accuracy on the terminal.
 *
 * Drawn by the package's one progress line (`core/format/progress.ts`): on a TTY a
 * `cli-progress` bar redrawn in place, at most `fps` (10) times a second, cleared at the end
 * of the epoch; when stdout is not a TTY (CI logs, pipes, files), a plain line at every ~10%
 * of the epoch's batches (also throttled). One summary line per epoch.
 *
 * @module
 */
import process from "node:process";
import type { Callback, TrainContext } from "../core/train/callback.ts";
import type { Logs } from "../core/train/logs.ts";
import {
  ProgressLine,
  type ProgressLineOptions,
  type ProgressStream,
} from "../core/format/progress.ts";

export type { ProgressStream };

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
  readonly #options: ProgressLineOptions;
  readonly #now: () => number;
  #line: ProgressLine | undefined;
  #epochStart = 0;
  #label = "";

  /** Creates the display; nothing is written before training starts. */
  constructor(options: ProgressBarOptions = {}) {
    this.name = options.name ?? "ProgressBar";
    const stream = options.stream ?? process.stdout;
    this.isTTY = options.isTTY ?? stream.isTTY === true;
    this.#now = options.now ?? (() => performance.now());
    this.#options = {
      stream,
      isTTY: this.isTTY,
      fps: options.fps,
      lineEvery: options.lineEvery,
      now: this.#now,
    };
    const fps = options.fps ?? 10, lineEvery = options.lineEvery ?? 0.1;
    if (!(fps > 0)) throw new Error(`${this.name}: fps must be > 0, got ${fps}.`);
    if (!(lineEvery > 0 && lineEvery <= 1)) {
      throw new Error(`${this.name}: lineEvery must be in (0, 1], got ${lineEvery}.`);
    }
  }

  /** True while a terminal bar is drawn (its redraw timer running). */
  get active(): boolean {
    return this.#line?.active ?? false;
  }

  /** Starts the epoch's line. */
  onEpochBegin(epoch: number, ctx: TrainContext): void {
    this.#line?.stop();
    this.#epochStart = this.#now();
    this.#label = `Epoch ${epoch + 1}/${ctx.totalEpochs}`;
    this.#line = new ProgressLine(this.#label, ctx.stepsPerEpoch, this.#options);
  }

  /** Updates progress, ETA and running means. */
  onBatchEnd(batch: number, logs: Logs): void {
    this.#line?.update(batch + 1, runningText(logs));
  }

  /** Ends the epoch's line with one summary line (all epoch logs). */
  onEpochEnd(_epoch: number, logs: Logs, ctx: TrainContext): void {
    const secs = (this.#now() - this.#epochStart) / 1000;
    const metrics = Object.entries(logs)
      .filter(([, v]) => typeof v === "number")
      .map(([k, v]) => `${k} ${k === "lr" ? String(v) : formatMetric(v)}`)
      .join("  ");
    const summary = `${this.#label}  ${ctx.stepsPerEpoch}/${ctx.stepsPerEpoch}  ${
      secs.toFixed(1)
    }s  ${metrics}`;
    if (this.#line) this.#line.finish(summary);
    else this.#options.stream!.write(`${summary}\n`);
    this.#line = undefined;
  }

  /** Stops a line left open by a failure or a stop mid-epoch. */
  onTrainEnd(): void {
    this.#line?.stop();
    this.#line = undefined;
  }
}
