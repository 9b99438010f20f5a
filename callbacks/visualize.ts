/**
 * `Visualize`: records what the network learned, every N epochs, into the run's `viz/` folder
 * for the dashboard: (a) conv filters (first layer as RGB tiles, deeper layers as grids),
 * (b) activation maps of every conv layer for a few fixed validation images (heatmaps over
 * the image), (c) Grad-CAM with the predicted and the true class; and, at chosen epochs (off
 * by default), (d) filter patterns by gradient ascent with each filter's top-activating
 * validation patches, so a run keeps "what layer 4 detected at epoch 5 vs epoch 30".
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs-core";
import * as tfl from "@tensorflow/tfjs-layers";
import type { Callback, TrainContext } from "../core/train/callback.ts";
import type { Logs } from "../core/train/logs.ts";
import type { Dataset } from "../core/data/dataset.ts";
import { VIZ_FORMAT, type VizEpoch, type VizImage, type VizIndex } from "../core/run/viz_format.ts";
import { readVizIndex, writeVizIndex } from "../core/run/artifacts.ts";
import { encodePng } from "../core/viz/png.ts";
import { tileLayout } from "../core/viz/mosaic.ts";
import { minMaxBytes } from "../core/viz/image_bytes.ts";
import { renderFilters } from "../core/viz/filters.ts";
import { renderActivations } from "../core/viz/activations.ts";
import { convLayers, gradCam } from "../core/viz/grad_cam.ts";
import { jet } from "../core/viz/colormap.ts";
import { computePatternSet, mergePatternSets } from "../core/viz/pattern_report.ts";

/** Filter patterns at chosen epochs (see `core/viz/patterns.ts`). */
export interface VisualizePatternOptions {
  /** 0-based epochs after which to compute them (e.g. `[4, 29]`); the last epoch with `last`. */
  epochs: readonly number[];
  /** Also after the last epoch. Default false. */
  last?: boolean;
  /** Conv layers (default every conv layer). */
  layers?: readonly string[];
  /** Filter indices of each layer (default the first 16). */
  filters?: readonly number[];
  /** Gradient-ascent steps (default 40). */
  steps?: number;
  /** Top-activating validation patches per filter (default 8; 0 = none). */
  k?: number;
  /** Validation images scanned for the patches (default 256). */
  maxImages?: number;
  /** Seed (default 1). */
  seed?: number;
}

/** Fixed images to visualise, normalised as the model sees them. */
export interface VizImages {
  /** `n * h * w * c` floats, NHWC. */
  x: Float32Array;
  /** True class of each image. */
  y: Int32Array;
  /** `[n, h, w, c]`. */
  shape: readonly [number, number, number, number];
  /** Converts one normalised image back to 0..255 RGB(A) bytes (else min-max scaling). */
  denormalize?: (x: Float32Array) => Uint8ClampedArray;
}

/** Options of {@link Visualize}. */
export interface VisualizeOptions {
  /** Record every `every` epochs (and at the first and the last epoch). Default 5. */
  every?: number;
  /** The images to visualise. Either this or `dataset`. */
  images?: VizImages;
  /** A dataset whose validation split (else training split) provides `count` fixed images. */
  dataset?: Dataset;
  /** Number of images taken from `dataset` (evenly spaced indices). Default 4. */
  count?: number;
  /** Class names (default: the dataset's). */
  classNames?: readonly string[];
  /** At most this many channels per activation mosaic. Default 32. */
  maxChannels?: number;
  /** At most this many filters per layer. Default 64. */
  maxFilters?: number;
  /** Input channels drawn per filter of deeper layers. Default 8. */
  maxInputs?: number;
  /** Skip Grad-CAM (e.g. for a model whose head is not a simple chain). */
  gradCam?: boolean;
  /** Filter patterns and top patches at chosen epochs (slow: off by default). */
  patterns?: VisualizePatternOptions;
}

/**
 * The "what the network learned" callback.
 *
 * @example
 * ```ts
 * import { Visualize } from "./visualize.ts";
 * import type { Dataset } from "../core/data/dataset.ts";
 * declare const dataset: Dataset;
 * const viz = new Visualize({ dataset, every: 5, count: 4 });
 * // pass `viz` in the trainer's callback list
 * ```
 */
export class Visualize implements Callback {
  /** Callback name. */
  readonly name = "visualize";
  readonly #opts: VisualizeOptions;
  #images: VizImages | null = null;
  #index: VizIndex | null = null;
  #dataset: Dataset | undefined;
  #lastRecorded = -1;

  /**
   * Creates the callback. Images come from `images`, else `dataset`, else the dataset the
   * trainer passes in its context.
   */
  constructor(options: VisualizeOptions = {}) {
    const every = options.every ?? 5;
    if (!Number.isInteger(every) || every < 1) {
      throw new Error(`Visualize: every must be a positive integer, got ${options.every}`);
    }
    if (options.images) checkImages(options.images);
    this.#opts = { ...options, every };
  }

  /** Loads the images and any index left by an earlier (resumed) run. */
  async onTrainBegin(ctx: TrainContext): Promise<void> {
    const dataset = this.#opts.dataset ?? ctx.dataset;
    if (!this.#opts.images && !dataset) {
      throw new Error(
        "Visualize: pass `images` ({x, y, shape}) or a `dataset` with a val split (the trainer " +
          "gave none in its context)",
      );
    }
    this.#dataset = dataset;
    this.#images = this.#opts.images ?? (await imagesFromDataset(dataset!, this.#opts.count ?? 4));
    const classNames = [...(this.#opts.classNames ?? dataset?.classNames ?? [])];
    const previous = await readVizIndex(ctx.run.dir).catch(() => null);
    const images = await this.#writeImages(ctx);
    this.#index = {
      format: VIZ_FORMAT,
      classNames,
      images,
      epochs: (previous?.epochs ?? []).filter((e) => e.epoch < ctx.epoch),
      // Patterns from `deno task patterns` stay; the callback's own from a resumed run's future go.
      patterns: (previous?.patterns ?? []).filter((p) =>
        p.source !== "callback" || (p.epoch ?? -1) < ctx.epoch
      ),
    };
  }

  /** Records at epoch 0, every `every` epochs, and at the last epoch. */
  async onEpochEnd(epoch: number, _logs: Logs, ctx: TrainContext): Promise<void> {
    const last = epoch === ctx.totalEpochs - 1;
    if (epoch % this.#opts.every! === 0 || last) await this.record(epoch, ctx);
    const p = this.#opts.patterns;
    if (p && (p.epochs.includes(epoch) || (last && p.last))) await this.recordPatterns(epoch, ctx);
  }

  /** Computes filter patterns and top patches for `epoch` now (see {@link VisualizePatternOptions}). */
  async recordPatterns(epoch: number, ctx: TrainContext): Promise<void> {
    if (!this.#index || !this.#images) await this.onTrainBegin(ctx);
    const p = this.#opts.patterns ?? { epochs: [] };
    const dataset = this.#dataset;
    const start = performance.now();
    const set = await computePatternSet(ctx.model, ctx.run, {
      dir: `viz/epoch-${epoch}/patterns`,
      layers: p.layers,
      filters: p.filters,
      steps: p.steps,
      seed: p.seed,
      k: p.k,
      maxImages: p.maxImages,
      split: dataset?.val ?? dataset?.train,
      denormalize: dataset?.denormalize?.bind(dataset),
      epoch,
      source: "callback",
    });
    const index = this.#index!;
    index.patterns = mergePatternSets(index.patterns ?? [], set);
    await writeVizIndex(ctx.run, index);
    await ctx.run.event("patterns_recorded", {
      layers: set.layers.length,
      seconds: Math.round((performance.now() - start) / 100) / 10,
    });
  }

  /** Records the last epoch if training stopped early before it was recorded. */
  async onTrainEnd(_logs: Logs, ctx: TrainContext): Promise<void> {
    const lastEpoch = ctx.history.length > 0 ? ctx.history[ctx.history.length - 1].epoch : -1;
    if (lastEpoch >= 0 && lastEpoch !== this.#lastRecorded && this.#index) {
      await this.record(lastEpoch, ctx);
    }
  }

  /** Records filters, activations and Grad-CAM for `epoch` now. */
  async record(epoch: number, ctx: TrainContext): Promise<void> {
    if (!this.#index || !this.#images) await this.onTrainBegin(ctx);
    const images = this.#images!;
    const index = this.#index!;
    const model = ctx.model;
    const convs = convLayers(model);
    if (convs.length === 0) {
      await ctx.run.warn("Visualize: the model has no Conv2D layer; nothing to record");
      return;
    }
    const dir = `viz/epoch-${epoch}`;
    const entry: VizEpoch = { epoch, step: ctx.step, filters: [], activations: [], gradcam: [] };

    // (a) filters
    for (const layer of convs) {
      const kernel = layer.getWeights()[0];
      if (!kernel || kernel.rank !== 4) continue;
      const m = renderFilters(await kernel.data() as Float32Array, kernel.shape, {
        maxFilters: this.#opts.maxFilters,
        maxInputs: this.#opts.maxInputs,
      });
      const file = `${dir}/filters-${safeName(layer.name)}.png`;
      await ctx.run.artifact(file, encodePng(m.data, m.width, m.height, 3));
      entry.filters.push({
        layer: layer.name,
        kind: m.kind,
        shape: kernel.shape,
        file,
        ...tileLayout(m),
        gap: m.kind === "rgb" ? 1 : 2,
      });
    }

    // (b) activations of every conv layer
    const [n, h, w, c] = images.shape;
    const x = tf.tensor4d(images.x, [n, h, w, c]);
    try {
      const multi = tfl.model({
        inputs: model.inputs,
        outputs: convs.map((l) => l.output as tfl.SymbolicTensor),
      });
      const outs = tf.tidy(() => {
        const o = multi.predict(x);
        return Array.isArray(o) ? o : [o];
      });
      try {
        for (let li = 0; li < convs.length; li++) {
          const t = outs[li];
          const [, oh, ow, oc] = t.shape as number[];
          const data = await t.data() as Float32Array;
          for (let i = 0; i < n; i++) {
            const one = data.subarray(i * oh * ow * oc, (i + 1) * oh * ow * oc);
            const m = renderActivations(one, [oh, ow, oc], { maxChannels: this.#opts.maxChannels });
            const file = `${dir}/act-${i}-${safeName(convs[li].name)}.png`;
            await ctx.run.artifact(file, encodePng(m.data, m.width, m.height, 3));
            entry.activations.push({
              image: i,
              layer: convs[li].name,
              shape: [oh, ow, oc],
              file,
              ...tileLayout(m),
              gap: 1,
            });
          }
        }
      } finally {
        tf.dispose(outs);
      }

      // (c) Grad-CAM
      if (this.#opts.gradCam !== false) {
        try {
          const cam = await gradCam(model, x);
          const [ch, cw] = cam.shape;
          for (let i = 0; i < n; i++) {
            const rgba = new Uint8Array(ch * cw * 4);
            cam.heatmaps[i].forEach((v, p) => {
              const [r, g, b] = jet(v);
              rgba[p * 4] = r;
              rgba[p * 4 + 1] = g;
              rgba[p * 4 + 2] = b;
              rgba[p * 4 + 3] = 102; // 0.4 opacity, as in keras.io's Grad-CAM overlay
            });
            const file = `${dir}/gradcam-${i}.png`;
            await ctx.run.artifact(file, encodePng(rgba, cw, ch, 4));
            entry.gradcam.push({
              image: i,
              file,
              layer: cam.layer,
              predicted: cam.predicted[i],
              prob: cam.probs[i],
              label: images.y[i],
            });
          }
        } catch (err) {
          this.#opts.gradCam = false;
          await ctx.run.warn(`Visualize: Grad-CAM disabled: ${(err as Error).message}`);
        }
      }
    } finally {
      x.dispose();
    }

    index.epochs = index.epochs.filter((e) => e.epoch !== epoch).concat(entry);
    await writeVizIndex(ctx.run, index);
    this.#lastRecorded = epoch;
  }

  async #writeImages(ctx: TrainContext): Promise<VizImage[]> {
    const { x, y, shape, denormalize } = this.#images!;
    const [n, h, w, c] = shape;
    const out: VizImage[] = [];
    for (let i = 0; i < n; i++) {
      const one = x.subarray(i * h * w * c, (i + 1) * h * w * c);
      const bytes = denormalize ? denormalize(one) : minMaxBytes(one);
      const ch = bytes.length / (h * w);
      if (ch !== 1 && ch !== 3 && ch !== 4) {
        throw new Error(
          `Visualize: denormalize returned ${bytes.length} bytes for a ${h}x${w} image ` +
            "(expected 1, 3 or 4 channels)",
        );
      }
      const file = `viz/images/${i}.png`;
      await ctx.run.artifact(file, encodePng(bytes, w, h, ch as 1 | 3 | 4));
      out.push({ file, label: y[i], width: w, height: h });
    }
    return out;
  }
}

function checkImages(images: VizImages) {
  const [n, h, w, c] = images.shape;
  if (images.shape.length !== 4 || images.x.length !== n * h * w * c || images.y.length !== n) {
    throw new Error(
      `Visualize: images.x has ${images.x.length} values and images.y ${images.y.length} ` +
        `labels for shape [${images.shape}]; expected n*h*w*c values and n labels`,
    );
  }
}

function safeName(name: string): string {
  return name.replace(/[^A-Za-z0-9_.-]/g, "_");
}

/** Takes `count` evenly spaced examples of the dataset's val split (else train split). */
export async function imagesFromDataset(dataset: Dataset, count: number): Promise<VizImages> {
  const split = dataset.val ?? dataset.train;
  const n = Math.min(count, split.size);
  if (n === 0) throw new Error(`Visualize: dataset ${dataset.name} has no examples to show`);
  const indices = Array.from({ length: n }, (_, i) => Math.floor((i * split.size) / n));
  const batch = await split.batch(indices);
  const [h, w, c] = dataset.imageShape;
  return {
    x: batch.x,
    y: batch.y,
    shape: [n, h, w, c],
    denormalize: dataset.denormalize?.bind(dataset),
  };
}
