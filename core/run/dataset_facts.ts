/**
 * What a trained run's dataset did to its images, read back from the run directory for
 * inference (`predict`): the class names, the image shape the model saw, and how pixels were
 * made (fit, source channels, normalisation). `run.json`'s `dataset` field is the source; for
 * a run written before a fact was recorded, a sensible fallback is used and said in `notes`.
 *
 * @module
 */
import { join } from "node:path";
import { RUN_FILES } from "./format.ts";
import { readRunInfo } from "./reader.ts";
import { readEvaluation } from "./artifacts.ts";

const EVALUATION_FILE = RUN_FILES.evaluation;

/** The dataset facts of a run that inference needs. */
export interface RunDatasetFacts {
  /** Class names by label index. */
  classNames: string[];
  /** Where the class names came from: run.json's `dataset.classes`, or evaluation.json. */
  classesFrom: "run" | "evaluation";
  /** `[height, width, channels]` the model was trained on, when recorded. */
  imageShape?: [number, number, number];
  /** The dataset's format (`image-folder`, `idx`) or generator (`synthetic-shapes`), if known. */
  format?: string;
  /** How images were made square (`squash` or `cover`), when recorded. */
  fit?: string;
  /** The normalisation, as recorded (e.g. `x / 255 (RGB or gray bytes to [0, 1])`). */
  normalization?: string;
  /** `[height, width, channels]` of the stored source images (IDX), when recorded. */
  originalShape?: [number, number, number];
  /** Fallbacks used, one sentence each. */
  notes: string[];
}

function shape3(v: unknown): [number, number, number] | undefined {
  return Array.isArray(v) && v.length === 3 && v.every((d) => Number.isInteger(d) && d > 0)
    ? [v[0], v[1], v[2]]
    : undefined;
}

function stringList(v: unknown): string[] | undefined {
  return Array.isArray(v) && v.length > 0 && v.every((s) => typeof s === "string")
    ? [...v]
    : undefined;
}

async function classesFromEvaluation(runDir: string): Promise<string[] | undefined> {
  const report = await readEvaluation(runDir).catch(() => undefined);
  return stringList(report?.classNames);
}

/**
 * Reads the dataset facts of the run in `runDir` (through {@link readRunInfo}). Throws an
 * error naming the files when the class names are in neither run.json nor evaluation.json.
 *
 * @example
 * ```ts
 * import { readRunDatasetFacts } from "./dataset_facts.ts";
 * const facts = await readRunDatasetFacts("runs/snacks-20261201-101010").catch(() => undefined);
 * console.log(facts?.classNames, facts?.imageShape, facts?.fit);
 * ```
 */
export async function readRunDatasetFacts(runDir: string): Promise<RunDatasetFacts> {
  const info = await readRunInfo(runDir);
  const d = (info.dataset ?? {}) as Record<string, unknown>;
  const notes: string[] = [];
  let classNames = stringList(d.classes);
  let classesFrom: RunDatasetFacts["classesFrom"] = "run";
  const runJson = join(runDir, RUN_FILES.info);
  if (!classNames) {
    classNames = await classesFromEvaluation(runDir);
    classesFrom = "evaluation";
    if (!classNames) {
      throw new Error(
        `${runJson} records no class names (dataset.classes) and ${
          join(runDir, EVALUATION_FILE)
        } is missing or has none: the run's classes are unknown. Evaluate the run ` +
          `(deno task evaluate --run ${runDir}) to write them, or train it again`,
      );
    }
    notes.push(`class names taken from ${EVALUATION_FILE} (${runJson} has no dataset.classes)`);
  }
  const str = (v: unknown) => (typeof v === "string" && v !== "" ? v : undefined);
  return {
    classNames,
    classesFrom,
    imageShape: shape3(d.imageShape),
    format: str(d.format) ?? str(d.generator),
    fit: str(d.fit),
    normalization: str(d.normalization),
    originalShape: shape3(d.originalShape),
    notes,
  };
}
