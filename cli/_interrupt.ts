/**
 * Ctrl-C and SIGTERM for the long-running commands (`train`, `sweep`, `sweep-worker`): the
 * first signal asks for a clean stop; a repeat within {@link REPEAT_WINDOW_MS} is the same
 * request (one Ctrl-C through `deno task` often arrives twice: the terminal signals the whole
 * process group and `deno task` forwards it to its child as well); only a signal after the
 * window forces the quit. Private to `cli/`.
 *
 * @example
 * ```ts ignore
 * import { onInterrupt } from "./_interrupt.ts";
 * const controller = new AbortController();
 * const stop = onInterrupt({
 *   first: () => controller.abort(),
 *   again: () => Deno.exit(130),
 * });
 * try { await work(controller.signal); } finally { stop(); }
 * ```
 *
 * @module
 */

/** Repeats of a signal within this many ms of the first are duplicates of it. */
export const REPEAT_WINDOW_MS = 1500;

/** What to do on the first signal and on a later, deliberate one. */
export interface InterruptHandlers {
  /** The first signal (`Ctrl-C` for SIGINT, `SIGTERM`). */
  first: (name: string) => void;
  /** A signal after the window: quit now. */
  again: (name: string) => void;
  /** Duplicates window (default {@link REPEAT_WINDOW_MS}). */
  windowMs?: number;
  /** The clock (tests). */
  now?: () => number;
}

/**
 * The decision rule alone: returns a function to call on every signal, which answers `first`,
 * `duplicate` or `again`.
 *
 * @example
 * ```ts
 * import { interruptRule } from "./_interrupt.ts";
 * let t = 0;
 * const next = interruptRule(1500, () => t);
 * next(); // "first"
 * t = 50;
 * next(); // "duplicate"
 * t = 2000;
 * next(); // "again"
 * ```
 */
export function interruptRule(
  windowMs = REPEAT_WINDOW_MS,
  now: () => number = () => performance.now(),
  lastTick?: () => number,
): () => "first" | "duplicate" | "again" {
  let firstAt: number | undefined;
  return () => {
    const t = now();
    if (firstAt === undefined) {
      firstAt = t;
      return "first";
    }
    if (t - firstAt < windowMs) return "duplicate";
    // A signal held up by a busy event loop (a long training step on a loaded machine) is
    // still the first request's twin: it counts as deliberate only once the loop itself has
    // run past the window since the first signal.
    if (lastTick !== undefined && lastTick() - firstAt < windowMs) return "duplicate";
    return "again";
  };
}

/**
 * Listens for SIGINT and SIGTERM with the rule of {@link interruptRule}; returns the function
 * that removes the listeners.
 *
 * @example
 * ```ts ignore
 * import { onInterrupt } from "./_interrupt.ts";
 * const ac = new AbortController();
 * const dispose = onInterrupt({ first: () => ac.abort(), again: () => Deno.exit(130) });
 * dispose();
 * ```
 */
export function onInterrupt(h: InterruptHandlers): () => void {
  const clock = h.now ?? (() => performance.now());
  // The event loop's own clock: a timer started at the first signal records when the loop
  // last ran, so a duplicate delayed by a blocked loop is told from a later Ctrl-C.
  let lastTick = -Infinity;
  let ticker: ReturnType<typeof setInterval> | undefined;
  const next = interruptRule(h.windowMs, clock, () => lastTick);
  const listener = (name: string) => () => {
    const what = next();
    if (what === "first") {
      lastTick = clock();
      const t = setInterval(() => (lastTick = clock()), 100);
      Deno.unrefTimer(t);
      ticker = t;
      h.first(name);
    } else if (what === "again") h.again(name);
  };
  const handlers: [Deno.Signal, () => void][] = [
    ["SIGINT", listener("Ctrl-C")],
    ["SIGTERM", listener("SIGTERM")],
  ];
  for (const [sig, fn] of handlers) Deno.addSignalListener(sig, fn);
  return () => {
    if (ticker !== undefined) clearInterval(ticker);
    for (const [sig, fn] of handlers) Deno.removeSignalListener(sig, fn);
  };
}
