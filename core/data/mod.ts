/**
 * Datasets: image folders (JPEG, PNG, WebP, GIF; cached decode), IDX files (MNIST format),
 * generated shapes, seeded augmentation and the one pixel normalisation (`x / 255`).
 *
 * @example
 * ```ts ignore
 * import { loadImageFolder } from "@convdeck/convdeck/data";
 * const ds = await loadImageFolder("snacks", { imageSize: 224, seed: 1 });
 * console.log(ds.classNames, ds.train.size);
 * ```
 *
 * @module
 */
export type { Batch, BatchOptions, DataOptions, Dataset, Split } from "./dataset.ts";
export {
  renderExample,
  SYNTHETIC_CLASSES,
  type SyntheticOptions,
  syntheticShapes,
} from "./synthetic.ts";
export {
  type ImageFolderDataset,
  type ImageFolderInfo,
  type ImageFolderOptions,
  loadImageFolder,
  loadImageFolderFor,
} from "./image_folder.ts";
export {
  type BadImageKind,
  decodeImage,
  type DecodeOptions,
  DEFAULT_MAX_PIXELS,
  type Fit,
  ImageDecodeError,
} from "./decode.ts";
export type { SplitName } from "./scan.ts";
export {
  type IdxArray,
  type IdxFolderOptions,
  type IdxType,
  loadIdxFolder,
  parseIdx,
  readIdxFile,
} from "./idx.ts";
export {
  applyAugment,
  augmentImage,
  type AugmentOptions,
  type AugmentParams,
  DEFAULT_AUGMENT,
  sampleAugmentParams,
} from "./augment.ts";
export { denormalizePixels, NORMALIZATION, normalizePixels, toRgba } from "./normalize.ts";
export { DataError } from "./data_error.ts";
