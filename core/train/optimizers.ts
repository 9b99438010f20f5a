/**
 * Optimizers by name, so that an experiment parameter (`--set optimizer=sgd`) picks one:
 * `adam` (the default), `sgd`, `momentum` (SGD with momentum 0.9, Nesterov off), `rmsprop`,
 * `adagrad`. Their state (moments, accumulators) is saved with resume points by
 * `core/run/model_io.ts` like Adam's. Not `adamax`: tfjs cannot read or restore its state
 * (`getWeights()` is not implemented for Adamax), so its runs could never be resumed.
 *
 * @example
 * ```ts
 * import { createOptimizer } from "./optimizers.ts";
 * const opt = createOptimizer("sgd", 0.01);
 * console.log(opt.getClassName()); // "SGD"
 * opt.dispose();
 * ```
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs-core";

/** The optimizer names {@linkcode createOptimizer} knows. */
export const OPTIMIZER_NAMES = ["adam", "sgd", "momentum", "rmsprop", "adagrad"] as const;

/** One of {@linkcode OPTIMIZER_NAMES}. */
export type OptimizerName = typeof OPTIMIZER_NAMES[number];

/** Creates the optimizer `name` with learning rate `lr`; throws listing the names otherwise. */
export function createOptimizer(name: string, lr: number): tf.Optimizer {
  switch (name) {
    case "adam":
      return tf.train.adam(lr);
    case "sgd":
      return tf.train.sgd(lr);
    case "momentum":
      return tf.train.momentum(lr, 0.9);
    case "rmsprop":
      return tf.train.rmsprop(lr);
    case "adagrad":
      return tf.train.adagrad(lr);
  }
  throw new Error(`unknown optimizer "${name}" (${OPTIMIZER_NAMES.join(", ")})`);
}
