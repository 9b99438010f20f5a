/**
 * The reports a run holds besides its metrics: the visualisation index (`Visualize`) and the
 * evaluation report (`evaluateModel`). Readers validate and cap sizes; writers go through the
 * run's {@linkcode RunLogger} (write-then-rename inside the run).
 *
 * @example
 * ```ts
 * import { readEvaluation, readVizIndex } from "./artifacts.ts";
 * const viz = await readVizIndex("runs/default-20261201-101010");
 * const report = await readEvaluation("runs/default-20261201-101010");
 * console.log(viz.epochs.length, report?.accuracy);
 * ```
 *
 * @module
 */
import { RUN_FILES } from "./format.ts";
import type { RunLogger } from "./logger.ts";
import { FsError, readConfined, readConfinedText } from "../fs/confine.ts";
import { VIZ_FORMAT, type VizIndex } from "./viz_format.ts";
import type { EvaluationReport } from "./evaluation_format.ts";

/** The most bytes read of `viz/index.json` or `evaluation.json`. */
export const MAX_REPORT_BYTES = 32 << 20;

async function readJsonReport(runDir: string, rel: string): Promise<unknown | undefined> {
  let text: string;
  try {
    text = await readConfinedText(runDir, rel, MAX_REPORT_BYTES);
  } catch (err) {
    if (err instanceof FsError && err.status === 404) return undefined;
    throw err;
  }
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new FsError(rel, `${rel} is not valid JSON (${(err as Error).message})`, 400);
  }
}

const isObj = (v: unknown): v is Record<string, unknown> =>
  typeof v === "object" && v !== null && !Array.isArray(v);

/** An empty index: what a run without visualisations reads as. */
export function emptyVizIndex(): VizIndex {
  return { format: VIZ_FORMAT, classNames: [], images: [], epochs: [] };
}

/**
 * Reads `viz/index.json` of a run; a run without one reads as {@linkcode emptyVizIndex}. An
 * index that is not an object with `images` and `epochs` arrays is an error naming the file.
 */
export async function readVizIndex(runDir: string): Promise<VizIndex> {
  const raw = await readJsonReport(runDir, RUN_FILES.vizIndex);
  if (raw === undefined) return emptyVizIndex();
  if (!isObj(raw) || !Array.isArray(raw.images) || !Array.isArray(raw.epochs)) {
    throw new FsError(
      RUN_FILES.vizIndex,
      `${RUN_FILES.vizIndex} is not a visualisation index (needs images and epochs arrays)`,
      400,
    );
  }
  return raw as unknown as VizIndex;
}

/** Writes `viz/index.json` into the run. */
export async function writeVizIndex(run: RunLogger, index: VizIndex): Promise<void> {
  await run.artifact(RUN_FILES.vizIndex, JSON.stringify(index));
}

/** True when the run has a visualisation index. */
export async function hasVizIndex(runDir: string): Promise<boolean> {
  return (await readJsonReport(runDir, RUN_FILES.vizIndex).catch(() => undefined)) !== undefined;
}

/**
 * Reads `evaluation.json` of a run, or `undefined` when the run was not evaluated. A report
 * without a numeric `accuracy` is an error naming the file.
 */
export async function readEvaluation(runDir: string): Promise<EvaluationReport | undefined> {
  const raw = await readJsonReport(runDir, RUN_FILES.evaluation);
  if (raw === undefined) return undefined;
  if (!isObj(raw) || typeof raw.accuracy !== "number") {
    throw new FsError(
      RUN_FILES.evaluation,
      `${RUN_FILES.evaluation} is not an evaluation report (no numeric accuracy)`,
      400,
    );
  }
  return raw as unknown as EvaluationReport;
}

/** Writes `evaluation.json` into the run; returns its path. */
export function writeEvaluation(run: RunLogger, report: EvaluationReport): Promise<string> {
  return run.artifact(RUN_FILES.evaluation, JSON.stringify(report, null, 2));
}

/** Folders and files of a run that may be served to a browser as files. */
const SERVABLE: ReadonlySet<string> = new Set([
  RUN_FILES.viz,
  RUN_FILES.artifacts,
  RUN_FILES.images,
  RUN_FILES.summary,
  RUN_FILES.evaluation,
  RUN_FILES.trainingCsv,
]);

/**
 * Whether a run-relative path may be served as a file (under `viz/`, `artifacts/` or `images/`, or the
 * summary, evaluation or CSV log). Metrics, run.json and checkpoints are served by their own
 * readers, never as raw files.
 */
export function isServableRunFile(segments: readonly string[]): boolean {
  if (segments.length === 0 || !SERVABLE.has(segments[0])) return false;
  const isFolder = segments[0] === RUN_FILES.viz || segments[0] === RUN_FILES.artifacts ||
    segments[0] === RUN_FILES.images;
  return isFolder ? segments.length > 1 : segments.length === 1;
}

/** The default file name of `CSVLogger`'s log inside a run (Keras's `training.csv`). */
export const DEFAULT_CSV_LOG: string = RUN_FILES.trainingCsv;

/** The run-file names a user may want to open by hand, for messages (relative to the run). */
export const RUN_FILE_NAMES: Readonly<
  { info: string; metrics: string; events: string; evaluation: string }
> = Object.freeze({
  info: RUN_FILES.info,
  metrics: RUN_FILES.metrics,
  events: RUN_FILES.events,
  evaluation: RUN_FILES.evaluation,
});

/** The most bytes of one file served from a run. */
export const MAX_SERVED_BYTES = 64 << 20;

/**
 * Reads a servable file of a run (see {@linkcode isServableRunFile}) for a browser: a
 * symlink, a folder, a FIFO or anything not regular is refused, and so is a file over
 * {@linkcode MAX_SERVED_BYTES}.
 */
export async function readServableRunFile(
  runDir: string,
  segments: readonly string[],
): Promise<Uint8Array> {
  const rel = segments.join("/");
  if (!isServableRunFile(segments)) {
    throw new FsError(
      rel,
      `only viz/, artifacts/, images/, model.txt, training.csv and evaluation.json are served`,
      400,
    );
  }
  return await readConfined(runDir, rel, MAX_SERVED_BYTES);
}
