/**
 * A progress line on stderr for long jobs (the first decode of a large image folder): on a
 * terminal one line rewritten in place (at most 10 times a second); elsewhere (logs, CI) a new
 * line at every 10%.
 *
 * @module
 */

/** Where and how to print. */
export interface ProgressOptions {
  /** Writes a chunk of text (default: stderr). */
  write?: (text: string) => void;
  /** Rewrite one line in place (default: whether stderr is a terminal). */
  inPlace?: boolean;
}

function formatSeconds(s: number): string {
  if (!Number.isFinite(s)) return "?";
  if (s < 10) return `${s.toFixed(1)} s`;
  if (s < 60) return `${Math.round(s)} s`;
  return `${Math.floor(s / 60)} min ${Math.ceil(s % 60)} s`;
}

/**
 * Reports `done / total` with a rate and the time left.
 *
 * @example
 * ```ts
 * import { ProgressLine } from "./progress.ts";
 * const progress = new ProgressLine("decoding images", 1000);
 * for (let i = 1; i <= 1000; i++) progress.update(i);
 * progress.finish();
 * ```
 */
export class ProgressLine {
  private readonly start = performance.now();
  private lastDraw = 0;
  private lastDecile = 0;
  private readonly write: (text: string) => void;
  private readonly inPlace: boolean;
  private done = 0;

  /** Starts a progress line for `total` items, labelled `label`. */
  constructor(readonly label: string, readonly total: number, options: ProgressOptions = {}) {
    const encoder = new TextEncoder();
    this.write = options.write ?? ((text) => Deno.stderr.writeSync(encoder.encode(text)));
    this.inPlace = options.inPlace ?? Deno.stderr.isTerminal();
  }

  /** The text of the line for `done` items. */
  line(done: number): string {
    const elapsed = (performance.now() - this.start) / 1000;
    const rate = elapsed > 0 ? done / elapsed : 0;
    const pct = this.total > 0 ? Math.floor((done / this.total) * 100) : 100;
    const left = rate > 0 ? (this.total - done) / rate : Infinity;
    return `${this.label}: ${done}/${this.total} (${pct}%), ${rate.toFixed(0)}/s, ${
      done >= this.total ? `${formatSeconds(elapsed)} in all` : `${formatSeconds(left)} left`
    }`;
  }

  /** Records that `done` items are finished, printing when due. */
  update(done: number): void {
    this.done = done;
    if (this.inPlace) {
      const now = performance.now();
      if (now - this.lastDraw < 100 && done < this.total) return;
      this.lastDraw = now;
      this.write(`\r${this.line(done)}\x1b[K`);
    } else {
      const decile = this.total > 0 ? Math.floor((done / this.total) * 10) : 10;
      if (decile > this.lastDecile && done < this.total) {
        this.lastDecile = decile;
        this.write(`${this.line(done)}\n`);
      }
    }
  }

  /** Prints the final line. */
  finish(): void {
    this.write(
      `${this.inPlace ? "\r" : ""}${this.line(this.done)}${this.inPlace ? "\x1b[K" : ""}\n`,
    );
  }
}
