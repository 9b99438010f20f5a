/**
 * Whether a metric is better when lower or higher, and what counts as an improvement: the one
 * rule used by the monitoring callbacks (`callbacks/monitor.ts`), by the run writer's `best`
 * summary and by everything that ranks runs.
 *
 * @example
 * ```ts
 * import { isImprovement, metricDirection } from "./metric_direction.ts";
 * metricDirection("val_loss"); // "min"
 * metricDirection("val_auc"); // "max"
 * metricDirection("lr"); // undefined
 * metricDirection("val_wer", { wer: "min" }); // "min"
 * isImprovement(0.4, 0.5, "min"); // true
 * ```
 *
 * @module
 */

/** Name endings of metrics that should be minimised (after stripping `val_`). */
const MIN_SUFFIXES = [
  "loss",
  "error",
  "mse",
  "mae",
  "mape",
  "msle",
  "crossentropy",
  "hinge",
  "kld",
  "kl_divergence",
  "poisson",
  "logcosh",
];

/** Name endings of metrics that should be maximised (after stripping `val_`). */
const MAX_SUFFIXES = [
  "acc",
  "accuracy",
  "auc",
  "precision",
  "recall",
  "f1",
  "f1_score",
  "fbeta_score",
  "iou",
  "r2",
  "r2_score",
];

/** Directions a run declares for its own metrics (the tracking API's `init({ metrics })`). */
export type MetricDirections = Readonly<Record<string, "min" | "max">>;

/**
 * The direction of a metric from its name: a direction the run declared in `declared` (for
 * `key`, or for it without `val_`) wins; else `val_` is stripped; `loss` and names ending in a
 * known error metric (`_loss`, `mse`, `crossentropy`, ...) are `min`; `acc`, `accuracy`,
 * `auc`, `precision`, `recall`, ... are `max`; anything else is `undefined`.
 */
export function metricDirection(
  key: string,
  declared?: MetricDirections,
): "min" | "max" | undefined {
  const name = key.startsWith("val_") ? key.slice(4) : key;
  if (declared) {
    const own = Object.hasOwn(declared, key) ? declared[key] : undefined;
    const base = Object.hasOwn(declared, name) ? declared[name] : undefined;
    if (own === "min" || own === "max") return own;
    if (base === "min" || base === "max") return base;
  }
  const endsWith = (suffix: string) => name === suffix || name.endsWith(`_${suffix}`);
  if (MIN_SUFFIXES.some(endsWith)) return "min";
  if (MAX_SUFFIXES.some(endsWith)) return "max";
  return undefined;
}

/**
 * Whether `current` improves on `reference` in `mode` by more than `|minDelta|` (Keras's
 * absolute `min_delta`). A NaN or infinite `current` is never an improvement; anything finite
 * improves on no reference or a NaN one.
 */
export function isImprovement(
  current: number,
  reference: number | undefined,
  mode: "min" | "max",
  minDelta = 0,
): boolean {
  if (!Number.isFinite(current)) return false;
  if (reference === undefined || Number.isNaN(reference)) return true;
  const d = Math.abs(minDelta);
  return mode === "min" ? current < reference - d : current > reference + d;
}
