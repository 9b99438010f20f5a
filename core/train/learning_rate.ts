/**
 * Reading and setting a tfjs optimizer's learning rate without importing tfjs (duck-typed), so
 * the trainer and the tracking API's fit callback share it in Deno and Node.
 *
 * @example
 * ```ts
 * import { optimizerLearningRate, setOptimizerLearningRate } from "./learning_rate.ts";
 * const adamLike = { learningRate: 0.001 };
 * setOptimizerLearningRate(adamLike, 0.0005);
 * optimizerLearningRate(adamLike); // 0.0005
 * ```
 *
 * @module
 */

/** Sets the learning rate of any tfjs optimizer (SGD and Momentum cache it; Adam reads it). */
export function setOptimizerLearningRate(optimizer: object, lr: number): void {
  const o = optimizer as {
    setLearningRate?: (lr: number) => void;
    learningRate: number;
  };
  if (typeof o.setLearningRate === "function") o.setLearningRate(lr);
  else o.learningRate = lr;
}

/** A tfjs optimizer's learning rate, or `undefined` when it has none readable. */
export function optimizerLearningRate(optimizer: unknown): number | undefined {
  const lr = (optimizer as { learningRate?: unknown } | null | undefined)?.learningRate;
  return typeof lr === "number" && Number.isFinite(lr) ? lr : undefined;
}
