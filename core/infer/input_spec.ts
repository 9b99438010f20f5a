/**
 * Which preprocessing a run's model needs, worked out once from the run's recorded dataset
 * facts and the model's input shape: used by `predict`, by `deno task export` (metadata.json)
 * and so by the exported page. The pixel work itself is `preprocess.ts`.
 *
 * @module
 */
import type { Fit } from "../data/decode.ts";
import { NORMALIZATION } from "../data/normalize.ts";
import type { RunDatasetFacts } from "../run/dataset_facts.ts";
import type { PreprocessSpec } from "./preprocess.ts";

/** How images are turned into model input, as the run's dataset did it. */
export interface Preprocessing extends PreprocessSpec {
  /** Model input height and width in pixels. */
  height: number;
  /** Model input width in pixels. */
  width: number;
  /** Channels the model takes: 1 (gray) or 3 (RGB). */
  channels: 1 | 3;
  /** Channels images are decoded to: 1 for runs trained on gray sources (IDX), else `channels`. */
  decodeChannels: 1 | 3;
  /** Square size sharp resizes to (the IDX source size when the run resized IDX images). */
  decodeSize: number;
  /** How non-square images become square. */
  fit: Fit;
  /** The normalisation (always convdeck's `x / 255`). */
  normalization: string;
  /** One line for people, e.g. `sharp squash to 32x32, RGB, x / 255`. */
  description: string;
}

/**
 * Works out the preprocessing from the run's recorded dataset facts and the model's input
 * shape (`[batch, height, width, channels]`, as `model.inputs[0].shape`); throws when the
 * run's images cannot be reproduced. Fallbacks used are pushed onto `notes`.
 *
 * @example
 * ```ts
 * import { resolvePreprocessing } from "./input_spec.ts";
 * import type { RunDatasetFacts } from "../run/dataset_facts.ts";
 * const facts: RunDatasetFacts = {
 *   classNames: ["a", "b"],
 *   classesFrom: "run",
 *   format: "idx",
 *   originalShape: [28, 28, 1],
 *   notes: [],
 * };
 * const p = resolvePreprocessing("runs/x", [null, 32, 32, 1], facts, []);
 * console.log(p.description); // sharp squash to 28x28, bilinear to 32x32 (as the IDX dataset), gray, x / 255
 * ```
 */
export function resolvePreprocessing(
  runDir: string,
  inputShape: readonly (number | null)[],
  facts: RunDatasetFacts,
  notes: string[],
): Preprocessing {
  const shape = inputShape.slice(1);
  if (shape.length !== 3 || shape.some((d) => !(typeof d === "number" && d > 0))) {
    throw new Error(`the model of ${runDir} takes input [${shape}], not an image [h, w, c]`);
  }
  const [height, width, c] = shape as number[];
  if (facts.imageShape && facts.imageShape.join("x") !== shape.join("x")) {
    throw new Error(
      `${runDir}: the run's dataset had images of ${facts.imageShape.join("x")} but the ` +
        `checkpoint's model takes ${shape.join("x")}; the checkpoint does not belong to this run`,
    );
  }
  if (!facts.imageShape) {
    notes.push(`the run records no image shape: using the model's input, ${shape.join("x")}`);
  }
  if (c !== 1 && c !== 3) {
    throw new Error(
      `the model of ${runDir} takes ${c}-channel images; predict can give it gray (1) or RGB (3)`,
    );
  }
  if (height !== width) {
    throw new Error(
      `the model of ${runDir} takes ${height}x${width} images; predict (like the image-folder ` +
        `datasets) makes square images only`,
    );
  }
  if (facts.normalization !== undefined && facts.normalization !== NORMALIZATION) {
    throw new Error(
      `${runDir}: the run normalised pixels as "${facts.normalization}"; predict only knows ` +
        `"${NORMALIZATION}"`,
    );
  }
  if (facts.normalization === undefined) {
    notes.push(
      `the run records no normalisation: assuming ${NORMALIZATION} (as every convdeck dataset)`,
    );
  }
  let fit: Fit = "squash";
  if (facts.fit === "squash" || facts.fit === "cover") fit = facts.fit;
  else if (facts.fit !== undefined) {
    throw new Error(`${runDir}: unknown fit "${facts.fit}" in the run's dataset facts`);
  } else if (facts.format === undefined) {
    // Generated (synthetic) and IDX data have no framing to copy; an unknown dataset might.
    notes.push(`the run records no fit mode: using squash (the image-folder default)`);
  }
  const channels = c as 1 | 3;
  // IDX images are gray at their source size, resized bilinearly by the dataset.
  const idx = facts.format === "idx";
  const decodeChannels: 1 | 3 = idx ? 1 : channels;
  const src = facts.originalShape;
  const decodeSize = idx && src && src[0] === src[1] ? src[0] : height;
  const parts = [
    `sharp ${fit} to ${decodeSize}x${decodeSize}`,
    ...(decodeSize !== height ? [`bilinear to ${height}x${width} (as the IDX dataset)`] : []),
    decodeChannels === 1 ? "gray" : "RGB",
    ...(decodeChannels !== channels ? ["gray copied to RGB"] : []),
    "x / 255",
  ];
  return {
    height,
    width,
    channels,
    decodeChannels,
    decodeSize,
    fit,
    normalization: NORMALIZATION,
    description: parts.join(", "),
  };
}
