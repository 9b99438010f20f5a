/**
 * Where the tracking API puts logged images and artifacts inside a run folder
 * (`images/<name>/<step>.png`, `artifacts/<name>`), and which names it accepts.
 *
 * @example
 * ```ts
 * import { checkArtifactName, imagePath } from "./tracked_files.ts";
 * imagePath("samples", 12); // "images/samples/000000012.png"
 * checkArtifactName("confusion.csv"); // "artifacts/confusion.csv"
 * ```
 *
 * @module
 */
import { RUN_FILES } from "./format.ts";

const PLAIN = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$/;

/** Throws unless `name` is a plain image name (letters, digits, `_`, `.`, `-`). */
export function checkImageName(name: string): void {
  if (typeof name !== "string" || !PLAIN.test(name) || name.includes("..")) {
    throw new TypeError(
      `logImage(): name ${JSON.stringify(name)} must be a plain name like "samples" ` +
        `(letters, digits, _ . -)`,
    );
  }
}

/** The run-relative path of image `name` at `step`. */
export function imagePath(name: string, step: number): string {
  checkImageName(name);
  if (!Number.isInteger(step) || step < 0) {
    throw new RangeError(`logImage(): step ${step} must be a non-negative integer`);
  }
  return `${RUN_FILES.images}/${name}/${String(step).padStart(9, "0")}.png`;
}

/** Checks an artifact's file name and returns its run-relative path. */
export function checkArtifactName(name: string): string {
  if (typeof name !== "string" || !PLAIN.test(name) || name.includes("..")) {
    throw new TypeError(
      `logArtifact(): name ${JSON.stringify(name)} must be a plain file name like ` +
        `"confusion.csv" (letters, digits, _ . -)`,
    );
  }
  return `${RUN_FILES.artifacts}/${name}`;
}
