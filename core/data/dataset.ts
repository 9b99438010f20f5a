/**
 * The dataset contract between data sources (synthetic, image folders, IDX files) and the
 * trainer. Images are float32 NHWC with values already normalised for the model; labels are
 * class indices.
 *
 * @module
 */

/** A batch of examples, ready to become tensors. */
export interface Batch {
  /** `indices.length * height * width * channels` floats, NHWC, normalised. */
  x: Float32Array;
  /** Class index of each example. */
  y: Int32Array;
}

/** Options for reading a batch. */
export interface BatchOptions {
  /**
   * Seed for random augmentation. When set (training), augmentation of example `i` is a pure
   * function of (seed, i), so a resumed run sees exactly the same augmented images. When
   * absent (evaluation), no augmentation is applied.
   */
  augmentSeed?: number;
}

/** One split (train, val or test) of a dataset. */
export interface Split {
  /** Number of examples. */
  readonly size: number;
  /** Reads the examples at `indices` (in that order). */
  batch(indices: ArrayLike<number>, options?: BatchOptions): Promise<Batch>;
  /** Class index of every example (for stratified splits, per-class metrics). */
  labels(): Promise<Int32Array>;
}

/** A labelled image dataset. */
export interface Dataset {
  /** A short name, stored in run.json. */
  readonly name: string;
  /** Class names; label `i` is `classNames[i]`. */
  readonly classNames: readonly string[];
  /** `[height, width, channels]` of every image as the model sees it. */
  readonly imageShape: readonly [number, number, number];
  /** Training examples. */
  readonly train: Split;
  /** Validation examples, evaluated after every epoch. */
  readonly val?: Split;
  /** Held-out test examples. */
  readonly test?: Split;
  /**
   * Converts a normalised image (as in a `Batch`) back to 0..255 RGB(A) bytes for display,
   * so the dashboard shows the image the model saw.
   */
  denormalize?(x: Float32Array): Uint8ClampedArray;
  /** Extra facts for run.json (source folder, skipped files, cache ...). */
  readonly info?: Record<string, unknown>;
  /** Releases files, workers and caches. */
  close?(): Promise<void> | void;
}

/**
 * The options a dataset loader reads from an experiment's resolved options (`TrainOptions`
 * has them all): where the data is, the image size, the seed and strictness.
 */
export interface DataOptions {
  /** Dataset folder (image folders or IDX files), when the experiment reads one. */
  data?: string;
  /** Square input size in pixels. */
  imageSize: number;
  /** Seed for the holdout split and augmentation. */
  seed: number;
  /** Fail on any bad data file instead of skipping it. */
  strictData?: boolean;
}
