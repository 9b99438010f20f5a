/**
 * What an experiment file exports: the data, the model and the defaults of one training
 * recipe. `deno task train --experiment NAME|PATH` loads one.
 *
 * @module
 */
import type * as tfl from "@tensorflow/tfjs-layers";
import type { Callback } from "../train/callback.ts";
import type { Dataset } from "../data/dataset.ts";
import type { Params, ParamSpecs } from "./params.ts";
import type { Precision } from "../backend/precision.ts";

/** Hyperparameters and options after defaults and command-line flags are merged. */
export interface TrainOptions {
  /** Epochs to train in this call. */
  epochs: number;
  /** Training batch size. */
  batchSize: number;
  /** Initial learning rate. */
  learningRate: number;
  /** Square input size in pixels (images are resized to `imageSize` x `imageSize`). */
  imageSize: number;
  /** Seed for weights initialisation, shuffling and augmentation. */
  seed: number;
  /** Dataset folder (image folders or IDX files), when the experiment reads one. */
  data?: string;
  /** Fail on any bad data file instead of skipping it. */
  strictData?: boolean;
  /**
   * Compute precision (`--precision`; default `fp32`): `bf16` mixed precision on the native
   * backend, `auto` for bf16 where the CPU has it. A run stores the precision it got.
   */
  precision?: Precision;
  /** The experiment's own hyperparameters (declared in `Experiment.params`), resolved. */
  params?: Params;
}

/** A callback plugin reference: a module path plus options passed to its factory. */
export interface PluginSpec {
  /** Path or URL of a module whose default export is a `Callback` or a factory of one. */
  path: string;
  /** JSON options passed to the factory. */
  options?: unknown;
}

/**
 * A ready training recipe.
 *
 * @example
 * ```ts
 * import type { Experiment } from "./experiment.ts";
 * export default {
 *   name: "tiny",
 *   description: "a tiny example",
 *   defaults: { epochs: 2, batchSize: 32, learningRate: 1e-3, imageSize: 32, seed: 1 },
 *   dataset: async (opts) => { throw new Error("bring your own data: " + opts.imageSize); },
 *   model: (shape, classes) => { throw new Error(`${shape} ${classes}`); },
 * } satisfies Experiment;
 * ```
 */
export interface Experiment {
  /** Short name, used in run ids (letters, digits, `-`, `_`). */
  readonly name: string;
  /** One line shown by `--help` and stored in run.json. */
  readonly description: string;
  /** Default options; command-line flags override them. */
  readonly defaults: TrainOptions;
  /**
   * The experiment's own hyperparameters (`--set name=value`), each with a default, a type and
   * a description; resolved values reach `dataset`, `model` and `callbacks` as
   * `options.params`.
   */
  readonly params?: ParamSpecs;
  /** Expected class count, so `--summary` can build the model without loading data. */
  readonly numClasses?: number;
  /** Image channels the model takes (default 3), for `--summary` without data. */
  readonly channels?: number;
  /** Builds the dataset for the resolved options. */
  dataset(options: TrainOptions): Promise<Dataset>;
  /** Builds the (uncompiled) model for an input shape and class count (and the options). */
  model(
    inputShape: readonly [number, number, number],
    numClasses: number,
    options?: TrainOptions,
  ): tfl.LayersModel;
  /** The default callbacks (used unless the caller passes its own list). */
  callbacks?(options: TrainOptions): Callback[];
  /** Callback plugins loaded by path, in addition to `callbacks`. */
  readonly plugins?: readonly PluginSpec[];
}
