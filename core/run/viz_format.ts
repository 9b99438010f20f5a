/**
 * The format of `viz/index.json`, written by the `Visualize` callback and read by the
 * dashboard: what the network learned, per epoch. All `file` paths are relative to the run
 * directory and point to PNG files.
 *
 * @module
 */

/** Format version of `viz/index.json`. */
export const VIZ_FORMAT = 1;

/** A mosaic of equally sized tiles in one PNG (row-major, `count` tiles used). */
export interface VizMosaic {
  /** PNG path relative to the run directory. */
  file: string;
  /** Tiles per row. */
  cols: number;
  /** Rows of tiles. */
  rows: number;
  /** Tile width in pixels (without the 1-pixel gap between tiles). */
  tileW: number;
  /** Tile height in pixels. */
  tileH: number;
  /** Number of tiles drawn (the last row may be partial). */
  count: number;
  /** Gap in pixels between tiles. */
  gap: number;
}

/** The filters (kernels) of one conv layer at one epoch. */
export interface VizFilters extends VizMosaic {
  /** Layer name. */
  layer: string;
  /** `rgb`: one colour tile per filter (first layer, 3 input channels); `grid`: rows are
   * output filters, columns input channels, grey-scale (blue negative, yellow positive). */
  kind: "rgb" | "grid";
  /** Kernel shape `[kh, kw, in, out]`. */
  shape: number[];
}

/** The activation maps of one conv layer for one fixed image (one tile per channel). */
export interface VizActivations extends VizMosaic {
  /** Index into {@link VizIndex.images}. */
  image: number;
  /** Layer name. */
  layer: string;
  /** Output shape `[h, w, channels]`. */
  shape: number[];
}

/** A Grad-CAM heatmap for one fixed image. */
export interface VizGradCam {
  /** Index into {@link VizIndex.images}. */
  image: number;
  /** RGBA PNG at the conv layer's resolution, meant to be scaled over the image. */
  file: string;
  /** The conv layer whose output was used. */
  layer: string;
  /** Predicted class index and its probability. */
  predicted: number;
  /** Probability of the predicted class. */
  prob: number;
  /** True class index. */
  label: number;
}

/** One fixed validation image. */
export interface VizImage {
  /** PNG of the image as the model saw it (denormalised). */
  file: string;
  /** True class index. */
  label: number;
  /** Width in pixels. */
  width: number;
  /** Height in pixels. */
  height: number;
}

/** Everything recorded at one epoch. */
export interface VizEpoch {
  /** 0-based epoch. */
  epoch: number;
  /** Global step. */
  step: number;
  /** Filters per conv layer. */
  filters: VizFilters[];
  /** Activation maps per (image, conv layer). */
  activations: VizActivations[];
  /** Grad-CAM per image. */
  gradcam: VizGradCam[];
}

/** The content of `viz/index.json`. */
export interface VizIndex {
  /** Format version. */
  format: typeof VIZ_FORMAT;
  /** Class names, when known. */
  classNames: string[];
  /** The fixed images. */
  images: VizImage[];
  /** Epochs recorded, oldest first. */
  epochs: VizEpoch[];
}
