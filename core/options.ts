/**
 * Validation of training options: every bad value is a clear error before any work starts.
 *
 * @module
 */
import type { TrainOptions } from "./experiment.ts";

/** Merges experiment defaults with overrides and validates the result. */
export function resolveOptions(
  defaults: TrainOptions,
  overrides: Partial<TrainOptions>,
): TrainOptions {
  const o: TrainOptions = { ...defaults };
  for (const [k, v] of Object.entries(overrides)) {
    if (v !== undefined) (o as unknown as Record<string, unknown>)[k] = v;
  }
  const problems: string[] = [];
  const int = (name: string, v: number, min: number) => {
    if (!Number.isInteger(v) || v < min) {
      problems.push(`${name} must be an integer >= ${min}, got ${v}`);
    }
  };
  int("epochs (--epochs)", o.epochs, 0);
  int("batch size (--batch-size)", o.batchSize, 1);
  int("image size (--image-size)", o.imageSize, 1);
  int("seed (--seed)", o.seed, 0);
  if (!Number.isFinite(o.learningRate) || o.learningRate <= 0) {
    problems.push(`learning rate (--lr) must be a positive number, got ${o.learningRate}`);
  }
  if (problems.length > 0) throw new Error(`Invalid options: ${problems.join("; ")}.`);
  return o;
}
