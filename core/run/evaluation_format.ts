/**
 * The format of `evaluation.json` in a run directory, written by `evaluateModel` and shown by
 * the dashboard's evaluation view.
 *
 * @module
 */

/** One of the most confidently wrong predictions. */
export interface WrongPrediction {
  /** Index of the example in the split. */
  index: number;
  /** True class index. */
  label: number;
  /** Predicted class index. */
  predicted: number;
  /** Probability given to the predicted class. */
  prob: number;
  /** PNG of the image relative to the run directory, when the dataset can denormalise. */
  file?: string;
}

/** Accuracy of one class. */
export interface ClassAccuracy {
  /** Class index. */
  class: number;
  /** Class name. */
  name: string;
  /** Examples of this class in the split. */
  count: number;
  /** Fraction of them classified correctly (NaN-free: 0 when `count` is 0). */
  accuracy: number;
}

/** The content of `evaluation.json`. */
export interface EvaluationReport {
  /** Format version. */
  format: 1;
  /** Which split was evaluated (`test`, or `val` when there is no test split). */
  split: string;
  /** The checkpoint evaluated, when known. */
  checkpoint?: string;
  /** ISO time. */
  createdAt: string;
  /** Number of examples. */
  examples: number;
  /** Overall accuracy. */
  accuracy: number;
  /** Mean cross-entropy loss. */
  loss: number;
  /** Class names. */
  classNames: string[];
  /** Accuracy per class. */
  perClass: ClassAccuracy[];
  /** `confusion[true][predicted]` counts. */
  confusion: number[][];
  /** Most confidently wrong predictions, most confident first. */
  wrong: WrongPrediction[];
}
