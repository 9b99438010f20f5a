/**
 * Validation of options: every bad value is a clear error, naming what is wrong, before any
 * work starts. The one option check of the package: training options, the trainer's
 * arguments and every callback's options go through {@linkcode optionProblem}.
 *
 * @example
 * ```ts
 * import { checkOption } from "./options.ts";
 * const patience = checkOption("EarlyStopping", "patience", 3, Number.isInteger, "an integer");
 * console.log(patience); // 3
 * ```
 *
 * @module
 */
import type { TrainOptions } from "./experiment.ts";
import { type Params, type ParamSpecs, type ParamValue, resolveParams } from "./params.ts";
import { PRECISIONS } from "../backend/precision.ts";
import { STANDARD_HYPERPARAMETERS } from "../run/summary.ts";

/**
 * A bad training option or experiment parameter (from flags, `--set` or a sweep): bad input
 * rather than a failure, so the CLI exits 2 for it.
 */
export class OptionsError extends Error {
  /** Creates the error. */
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "OptionsError";
  }
}

/**
 * The options every experiment has, settable by `--set` (and sweeps) like parameters: the
 * hyperparameter columns of the runs table (one list, `STANDARD_HYPERPARAMETERS`).
 */
export const STANDARD_OPTIONS: readonly string[] = STANDARD_HYPERPARAMETERS;

/**
 * Sorts `key=value` settings into standard options (`epochs`, `batchSize`, `learningRate`,
 * `imageSize`, `seed`, `precision`) and the experiment's own parameters.
 */
export function splitSettings(
  settings: Iterable<readonly [string, ParamValue]>,
): { overrides: Partial<TrainOptions>; params: Params } {
  const overrides: Record<string, unknown> = {};
  const params: Params = {};
  for (const [k, v] of settings) {
    if (STANDARD_OPTIONS.includes(k)) overrides[k] = v;
    else params[k] = v;
  }
  return { overrides: overrides as Partial<TrainOptions>, params };
}

/**
 * `"<option> must be <expected>, got <value>"` when `value` is not a number satisfying `ok`,
 * else `undefined`.
 */
export function optionProblem(
  option: string,
  value: unknown,
  ok: (v: number) => boolean,
  expected: string,
): string | undefined {
  return typeof value === "number" && ok(value)
    ? undefined
    : `${option} must be ${expected}, got ${String(value)}`;
}

/** Checks that `value` is a number satisfying `ok`, else throws naming the owner and option. */
export function checkOption(
  owner: string,
  option: string,
  value: unknown,
  ok: (v: number) => boolean,
  expected: string,
): number {
  const problem = optionProblem(option, value, ok, expected);
  if (problem) throw new Error(`${owner}: ${problem}.`);
  return value as number;
}

/** True for an integer `>= min`. */
export const integerAtLeast = (min: number) => (v: number): boolean =>
  Number.isInteger(v) && v >= min;

/**
 * {@link checkOption} for an integer `>= 0` (a patience, a cooldown, an epoch to start from).
 *
 * @example
 * ```ts
 * import { checkCount } from "./options.ts";
 * checkCount("EarlyStopping", "patience", 3); // 3
 * // checkCount("EarlyStopping", "patience", 1.5) throws
 * // "EarlyStopping: patience must be an integer >= 0, got 1.5."
 * ```
 */
export function checkCount(owner: string, option: string, value: unknown): number {
  return checkOption(owner, option, value, integerAtLeast(0), "an integer >= 0");
}

/** True for a finite number `> 0`. */
export const positiveFinite = (v: number): boolean => Number.isFinite(v) && v > 0;

/**
 * Merges experiment defaults with overrides and validates the result; the experiment's own
 * parameters (`specs`) are resolved from `overrides.params` (see `resolveParams`). Throws
 * {@linkcode OptionsError} listing every bad value.
 */
export function resolveOptions(
  defaults: TrainOptions,
  overrides: Partial<TrainOptions>,
  specs: ParamSpecs = {},
): TrainOptions {
  const o: TrainOptions = { ...defaults };
  for (const [k, v] of Object.entries(overrides)) {
    if (v !== undefined) (o as unknown as Record<string, unknown>)[k] = v;
  }
  try {
    o.params = resolveParams(specs, { ...(defaults.params ?? {}), ...(overrides.params ?? {}) });
  } catch (err) {
    throw new OptionsError((err as Error).message, { cause: err });
  }
  const problems = [
    optionProblem("epochs (--epochs)", o.epochs, integerAtLeast(1), "an integer >= 1"),
    optionProblem("batch size (--batch-size)", o.batchSize, integerAtLeast(1), "an integer >= 1"),
    optionProblem("image size (--image-size)", o.imageSize, integerAtLeast(1), "an integer >= 1"),
    optionProblem("seed (--seed)", o.seed, integerAtLeast(0), "an integer >= 0"),
    optionProblem("learning rate (--lr)", o.learningRate, positiveFinite, "a positive number"),
    o.precision === undefined || PRECISIONS.includes(o.precision)
      ? undefined
      : `precision (--precision) must be one of ${PRECISIONS.join(", ")}, got ${
        String(o.precision)
      }`,
  ].filter((p) => p !== undefined);
  if (problems.length > 0) throw new OptionsError(`Invalid options: ${problems.join("; ")}.`);
  return o;
}
