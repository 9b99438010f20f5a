/**
 * Evaluation of a trained model on a held-out split: accuracy, per-class accuracy, confusion
 * matrix and the most confidently wrong images, written to `evaluation.json` (+ PNGs under
 * `viz/wrong/`) in the run directory for the dashboard's evaluation view.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs-core";
import type * as tfl from "@tensorflow/tfjs-layers";
import type { Split } from "../data/dataset.ts";
import type { RunLogger } from "../run/logger.ts";
import type { EvaluationReport, WrongPrediction } from "../run/evaluation_format.ts";
import { writeEvaluation } from "../run/artifacts.ts";
import { encodePng } from "../viz/png.ts";

/** Options of {@link evaluateModel}. */
export interface EvaluateOptions {
  /** Examples per forward pass. Default 32. */
  batchSize?: number;
  /** How many confidently wrong images to keep. Default 12. */
  topWrong?: number;
  /** Converts a normalised image back to 0..255 RGB(A) bytes (as `Dataset.denormalize`). */
  denormalize?: (x: Float32Array) => Uint8ClampedArray;
  /** Name of the split, stored in the report. Default `test`. */
  splitName?: string;
  /** The checkpoint evaluated, stored in the report. */
  checkpoint?: string;
}

/**
 * Evaluates `model` on every example of `split` and writes `evaluation.json` into the run
 * directory through `run.artifact` (nothing when `run` is `null`: an exported model evaluated
 * against its run's data). Returns the report. Leaves no tensors behind.
 *
 * @example
 * ```ts
 * import { evaluateModel } from "./evaluate.ts";
 * import type { Dataset } from "../data/dataset.ts";
 * import type { RunLogger } from "../run/logger.ts";
 * import type * as tfl from "@tensorflow/tfjs-layers";
 * declare const model: tfl.LayersModel, dataset: Dataset, run: RunLogger;
 * const report = await evaluateModel(model, dataset.test!, dataset.classNames, run, {
 *   denormalize: dataset.denormalize?.bind(dataset),
 * });
 * console.log(`test accuracy ${(report.accuracy * 100).toFixed(2)}%`);
 * ```
 */
export async function evaluateModel(
  model: tfl.LayersModel,
  split: Split,
  classNames: readonly string[],
  run: RunLogger | null,
  options: EvaluateOptions = {},
): Promise<EvaluationReport> {
  const inputShape = model.inputs[0].shape.slice(1) as number[];
  if (inputShape.length !== 3 || inputShape.some((d) => !(d > 0))) {
    throw new Error(`evaluateModel: the model's input shape [${inputShape}] is not [h, w, c]`);
  }
  const [h, w, c] = inputShape;
  const k = classNames.length;
  const batchSize = options.batchSize ?? 32;
  const topWrong = options.topWrong ?? 12;
  const confusion = Array.from({ length: k }, () => new Array<number>(k).fill(0));
  let lossSum = 0;
  let correct = 0;
  let wrong: WrongPrediction[] = [];
  for (let start = 0; start < split.size; start += batchSize) {
    const indices = Array.from(
      { length: Math.min(batchSize, split.size - start) },
      (_, i) => start + i,
    );
    const batch = await split.batch(indices);
    const n = indices.length;
    if (batch.x.length !== n * h * w * c) {
      throw new Error(
        `evaluateModel: split returned ${batch.x.length} values for ${n} images of ` +
          `${h}x${w}x${c} (the model's input); check the dataset's image size`,
      );
    }
    const probsT = tf.tidy(() => model.predict(tf.tensor4d(batch.x, [n, h, w, c])) as tf.Tensor);
    const probs = await probsT.data() as Float32Array;
    probsT.dispose();
    if (probs.length !== n * k) {
      throw new Error(
        `evaluateModel: the model outputs ${probs.length / n} classes, classNames has ${k}`,
      );
    }
    for (let i = 0; i < n; i++) {
      const row = probs.subarray(i * k, (i + 1) * k);
      let pred = 0;
      for (let j = 1; j < k; j++) if (row[j] > row[pred]) pred = j;
      const label = batch.y[i];
      if (!(label >= 0 && label < k)) {
        throw new Error(
          `evaluateModel: label ${label} of example ${indices[i]} is not in 0..${k - 1}`,
        );
      }
      confusion[label][pred]++;
      lossSum += -Math.log(Math.min(1 - 1e-7, Math.max(1e-7, row[label])));
      if (pred === label) correct++;
      else wrong.push({ index: indices[i], label, predicted: pred, prob: row[pred] });
    }
    if (wrong.length > 4 * topWrong) wrong = topByProb(wrong, topWrong);
  }
  wrong = topByProb(wrong, topWrong);
  for (const [rank, item] of wrong.entries()) {
    if (!options.denormalize || !run) break;
    const one = await split.batch([item.index]);
    const bytes = options.denormalize(one.x);
    const ch = bytes.length / (h * w);
    if (ch === 1 || ch === 3 || ch === 4) {
      item.file = `viz/wrong/${rank}.png`;
      await run.artifact(item.file, encodePng(bytes, w, h, ch));
    }
  }
  const perClass = classNames.map((name, i) => {
    const count = confusion[i].reduce((a, b) => a + b, 0);
    return { class: i, name, count, accuracy: count ? confusion[i][i] / count : 0 };
  });
  const report: EvaluationReport = {
    format: 1,
    split: options.splitName ?? "test",
    checkpoint: options.checkpoint,
    createdAt: new Date().toISOString(),
    examples: split.size,
    accuracy: split.size ? correct / split.size : 0,
    loss: split.size ? lossSum / split.size : 0,
    classNames: [...classNames],
    perClass,
    confusion,
    wrong,
  };
  if (run) await writeEvaluation(run, report);
  return report;
}

function topByProb(items: WrongPrediction[], n: number): WrongPrediction[] {
  return items.sort((a, b) => b.prob - a.prob || a.index - b.index).slice(0, n);
}
