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

/** A mosaic whose tiles carry a caption strip at the bottom (filter index, activation). */
export interface VizLabelledMosaic extends VizMosaic {
  /** Height in pixels of the caption strip inside each tile (included in `tileH`). */
  labelH: number;
  /** Whole factor the tiles were enlarged by (nearest neighbour). */
  scale: number;
}

/** One top-activating patch (see `core/viz/top_patches.ts`). */
export interface VizPatch {
  /** Index into {@link VizPatternSet.images} of the image it was cut from (-1: not stored). */
  image: number;
  /** The filter's response there. */
  activation: number;
  /** The input window `[y0, x0, h, w]` that was cut out (the receptive field). */
  window: [number, number, number, number];
}

/** Filter patterns (and top patches) of one conv layer. */
export interface VizLayerPatterns {
  /** Layer name. */
  layer: string;
  /** The layer's receptive field in input pixels (`[y, x]` pairs). */
  receptiveField: {
    size: [number, number];
    jump: [number, number];
    start: [number, number];
    global?: boolean;
  };
  /** One tile per filter, in the order of {@link VizLayerPatterns.filters}. */
  patterns: VizLabelledMosaic;
  /** Per tile: the filter index, its mean activation on the starting noise and on the pattern. */
  filters: { filter: number; start: number; activation: number }[];
  /** One row per filter, `k` patches per row, best first (absent without validation images). */
  patches?: VizLabelledMosaic & {
    /** Patches per row. */
    k: number;
    /** Per filter (row), the patches drawn. */
    items: VizPatch[][];
  };
  /** Seconds spent on this layer. */
  seconds: number;
}

/** Filter patterns of some conv layers, computed at one epoch (or from one checkpoint). */
export interface VizPatternSet {
  /** 0-based epoch of the weights, when known. */
  epoch: number | null;
  /** Who computed it: the `Visualize` callback or `deno task patterns`. */
  source: "callback" | "patterns";
  /** The checkpoint the weights came from (`deno task patterns`). */
  checkpoint?: string;
  /** ISO time. */
  createdAt: string;
  /** Gradient-ascent steps. */
  steps: number;
  /** Seed of the starting noise and the jitter. */
  seed: number;
  /** Input shape `[h, w, c]` of the patterns. */
  shape: [number, number, number];
  /** Validation images the patches were cut from (each filter's best patch's image). */
  images: VizImage[];
  /** The layers. */
  layers: VizLayerPatterns[];
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
  /** Filter patterns, oldest first (absent in indexes written before patterns existed). */
  patterns?: VizPatternSet[];
}
