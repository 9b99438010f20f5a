/**
 * Tracking overhead: the per-epoch cost of convdeck's tracking (callbacks, run-directory writes,
 * dashboard events) as a percentage of epoch time.
 *
 * HOOK for the trainer: create `tests/bench/tracking_case.ts` whose default export is a
 * {@linkcode TrackingCase}; `deno task bench --only tracking` then measures it. Until that file
 * exists the section prints a note and is skipped.
 *
 * @module
 */
import { median } from "./train_bench.ts";

/** One epoch that can run with or without tracking, on identical work otherwise. */
export interface TrackingCase {
  /** What is measured, e.g. "book convnet 32x32, 4 batches of 16, all default callbacks". */
  name: string;
  /** Runs once before measuring (model build, warm-up). */
  setup?(): Promise<void>;
  /** Runs one epoch; `tracked` switches callbacks, run-directory writes and events on. */
  epoch(tracked: boolean): Promise<void>;
  /** Frees what setup made. */
  teardown?(): Promise<void>;
}

/** Result of {@linkcode measureOverhead}. */
export interface OverheadResult {
  /** Median epoch milliseconds without tracking. */
  plainMs: number;
  /** Median epoch milliseconds with tracking. */
  trackedMs: number;
  /** 100 * (tracked - plain) / plain. */
  overheadPct: number;
}

/**
 * Runs `repeats` interleaved pairs of epochs (plain, tracked, plain, ...: so load changes on a
 * shared machine hit both alike) and compares the medians.
 */
export async function measureOverhead(
  epoch: (tracked: boolean) => Promise<void>,
  repeats = 5,
): Promise<OverheadResult> {
  const plain: number[] = [], tracked: number[] = [];
  for (let i = 0; i < repeats; i++) {
    for (const t of i % 2 ? [true, false] : [false, true]) {
      const t0 = performance.now();
      await epoch(t);
      (t ? tracked : plain).push(performance.now() - t0);
    }
  }
  const plainMs = median(plain), trackedMs = median(tracked);
  return { plainMs, trackedMs, overheadPct: (100 * (trackedMs - plainMs)) / plainMs };
}

/** Runs the trainer's tracking case if it exists; prints one line either way. */
export async function benchTracking(repeats = 5): Promise<OverheadResult | undefined> {
  let mod: { default: TrackingCase };
  try {
    const url = new URL("./tracking_case.ts", import.meta.url).href; // optional file
    mod = await import(url);
  } catch (e) {
    const missing = e instanceof Error && /Module not found|Cannot find module/.test(e.message);
    if (!missing) throw e;
    console.log(
      "tracking: skipped (tests/bench/tracking_case.ts, provided with the trainer, not found)",
    );
    return undefined;
  }
  const c = mod.default;
  await c.setup?.();
  try {
    const r = await measureOverhead((t) => c.epoch(t), repeats);
    console.log(
      `tracking: ${c.name}: epoch ${r.plainMs.toFixed(0)} ms plain, ` +
        `${r.trackedMs.toFixed(0)} ms tracked: overhead ${r.overheadPct.toFixed(2)}% ` +
        `(median of ${repeats} interleaved pairs; goal < 2%)` +
        (r.overheadPct < 0 ? "; negative: the epoch-to-epoch noise exceeds the tracking cost" : ""),
    );
    return r;
  } finally {
    await c.teardown?.();
  }
}
