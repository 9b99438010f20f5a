/**
 * A run's restarts, read from its files: the times of its `resumed` and `restarted` events,
 * and before each the time of the last record (metrics or event) of the process that died.
 * That is what `activeDurationMs` (`summary.ts`) needs to leave out the time a resumed run was
 * dead; the run index keeps it with the run's summary and reads it again only when the run's
 * files change. A run that was never resumed has none (its events are read, its metrics are
 * not); the metrics are read only when a new restart appears (`previous` spares them).
 *
 * @example
 * ```ts
 * import { readRunRestarts } from "./restarts.ts";
 * const r = await readRunRestarts("runs/default-20261201-101010");
 * console.log(r ? `${r.at.length} restarts` : "never resumed");
 * ```
 *
 * @module
 */
import {
  type LinesResult,
  READ_CHUNK_BYTES,
  readEvents,
  type ReadLinesOptions,
  readMetrics,
} from "./reader.ts";

/** When a run was restarted, and when it last recorded before. */
export interface RunRestarts {
  /** Times (ms) of its `resumed` and `restarted` events, in order. */
  at: number[];
  /**
   * For each restart that has one, the time of the last record (metrics or event) before it
   * and not before the restart ahead of it: where the dead process stopped.
   */
  lastRecords: number[];
}

/** Whether a `RunEvent`'s type starts a new process of the run. */
function isRestart(type: string): boolean {
  return type === "resumed" || type === "restarted";
}

/**
 * The restarts of the run in `dir` (`undefined`: never resumed). `previous`, the answer of an
 * earlier call for the same run: when the restarts are the same, its record times are kept
 * and the metrics are not read.
 *
 * @example
 * ```ts
 * import { readRunRestarts } from "./restarts.ts";
 * const dir = "runs/default-20261201-101010";
 * const first = await readRunRestarts(dir);
 * const again = await readRunRestarts(dir, first); // events only
 * console.log(first?.at, again?.lastRecords);
 * ```
 */
export async function readRunRestarts(
  dir: string,
  previous?: RunRestarts,
): Promise<RunRestarts | undefined> {
  const at: number[] = [];
  await eachRecord((o) => readEvents(dir, o), (e) => {
    if (isRestart(e.type)) at.push(e.time);
  });
  if (at.length === 0) return undefined;
  at.sort((a, b) => a - b);
  const unique = at.filter((t, k) => k === 0 || t !== at[k - 1]);
  at.length = 0;
  at.push(...unique);
  if (previous && previous.at.length === at.length && previous.at.every((t, k) => t === at[k])) {
    return previous;
  }
  // The last record time in [at[k-1], at[k]) for each restart k.
  const last = new Array<number>(at.length).fill(-Infinity);
  const see = (r: { time: number }) => {
    // The first restart after the record (restarts are few: a linear scan).
    let k = 0;
    while (k < at.length && at[k] <= r.time) k++;
    if (k < at.length && r.time > last[k]) last[k] = r.time; // else: after the last restart
  };
  await eachRecord((o) => readEvents(dir, o), see);
  await eachRecord((o) => readMetrics(dir, o), see);
  return { at, lastRecords: last.filter((t) => t > -Infinity) };
}

/** Bytes read per step: a huge events or metrics file is never held in memory whole. */
const STEP_BYTES = 4 * READ_CHUNK_BYTES;

/** Calls `f` with every record of a JSON-lines file, read a step at a time. */
async function eachRecord<T>(
  read: (o: ReadLinesOptions) => Promise<LinesResult<T>>,
  f: (record: T) => void,
): Promise<void> {
  let offset = 0;
  for (;;) {
    const res = await read({ sinceOffset: offset, maxBytes: STEP_BYTES });
    for (const r of res.records) f(r);
    if (!res.more || res.offset <= offset) return;
    offset = res.offset;
  }
}
