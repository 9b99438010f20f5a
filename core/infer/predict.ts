/**
 * Classifies new images with a trained run: loads the run's weights (`findRunWeights`: best,
 * else the newest checkpoint, else the newest resume point), preprocesses every image exactly
 * as the run's dataset did (the same sharp decoder with its pixel limit, the same size, fit and
 * channels, `x / 255`), runs the model and returns the top-k classes, optionally with a
 * Grad-CAM overlay PNG and activation maps per image.
 *
 * Inputs are file paths or bytes in memory (`{ name, bytes }`, e.g. an upload), so a server
 * route can call it without writing the image anywhere. A bad image never stops the others:
 * its result is `{ ok: false, name, error }`.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs-core";
import * as tfl from "@tensorflow/tfjs-layers";
import { resolve } from "node:path";
import { decodeImage, ImageDecodeError } from "../data/decode.ts";
import { normalizePixels } from "../data/normalize.ts";
import { prepareImage } from "./preprocess.ts";
import { type Preprocessing, resolvePreprocessing } from "./input_spec.ts";
import { loadModelExplained } from "../run/model_io.ts";
import { findRunWeights, namedRunWeights, type RunWeights } from "../run/checkpoints.ts";
import { readRunDatasetFacts } from "../run/dataset_facts.ts";
import { convLayers, gradCam } from "../viz/grad_cam.ts";
import { camOverlay, type CamOverlayOptions } from "../viz/overlay.ts";
import { renderActivations } from "../viz/activations.ts";
import { encodePng } from "../viz/png.ts";
import { readUserFile } from "../fs/confine.ts";
import { ensureBackend } from "../backend/select.ts";
import { errorCode } from "../fs/os_error.ts";

/** The most bytes an image file given by path may have (a FIFO or device is refused). */
const MAX_IMAGE_FILE_BYTES = 512 * 1024 * 1024;

/**
 * One image to classify: a file path, or a name with the file's bytes (an upload).
 *
 * @example
 * ```ts
 * import type { PredictInput } from "./predict.ts";
 * const inputs: PredictInput[] = ["photos/muffin.jpg", { name: "upload.png", bytes: new Uint8Array() }];
 * ```
 */
export type PredictInput = string | { name: string; bytes: Uint8Array };

export type { Preprocessing };

/** Options of {@link Predictor.load}. */
export interface LoadPredictorOptions {
  /** Checkpoint folder under `checkpoints/` (e.g. `epoch-03`, `resume/e0007`); default: {@link findRunWeights}. */
  checkpoint?: string;
}

/**
 * Options of {@link Predictor.predict} and {@link predict}.
 *
 * @example
 * ```ts
 * import type { PredictOptions } from "./predict.ts";
 * const options: PredictOptions = {
 *   topK: 3,
 *   gradCam: { layer: "conv2d_3", alpha: 0.5 },
 *   activations: { maxChannels: 16 },
 *   maxPixels: 40_000_000, // an upload cap
 * };
 * ```
 */
export interface PredictOptions {
  /** Classes returned per image, most probable first (default 5, at most the class count). */
  topK?: number;
  /** Images per forward pass (default 32). */
  batchSize?: number;
  /** Grad-CAM overlay per image for its top class: `true`, or the conv layer and overlay looks. */
  gradCam?: boolean | ({ layer?: string } & CamOverlayOptions);
  /** Activation maps of every conv layer (or `layers`) per image, as viridis mosaics. */
  activations?: boolean | { layers?: string[]; maxChannels?: number };
  /** Refuse images with more pixels than this (default: sharp's limit, 268 megapixels). */
  maxPixels?: number;
  /** Images decoded at the same time (default 4). */
  concurrency?: number;
  /** Reads a path input (default: regular files only, at most 512 MiB). */
  readFile?: (path: string) => Promise<Uint8Array>;
  /** Called after each batch with the images done so far. */
  onProgress?: (done: number, total: number) => void;
}

/** A class and its probability. */
export interface ClassProbability {
  /** Class index. */
  class: number;
  /** Class name. */
  name: string;
  /** Softmax probability. */
  prob: number;
}

/** The Grad-CAM of one image for its top class. */
export interface PredictedGradCam {
  /** The conv layer used. */
  layer: string;
  /** The class explained (the top class). */
  class: number;
  /** Heatmap values 0..1, row-major, `shape[0]` x `shape[1]`. */
  heatmap: Float32Array;
  /** `[height, width]` of the heatmap (the conv layer's output). */
  shape: [number, number];
  /** The overlay (heatmap over the image the model saw) as PNG bytes. */
  png: Uint8Array;
  /** Overlay width in pixels. */
  width: number;
  /** Overlay height in pixels. */
  height: number;
}

/** The activation maps of one conv layer for one image. */
export interface PredictedActivations {
  /** Layer name. */
  layer: string;
  /** `[height, width, channels]` of the layer's output. */
  shape: [number, number, number];
  /** Mosaic PNG (one viridis tile per channel, 1 px apart). */
  png: Uint8Array;
  /** Tiles per row. */
  cols: number;
  /** Rows of tiles. */
  rows: number;
  /** Tile width. */
  tileW: number;
  /** Tile height. */
  tileH: number;
  /** Channels drawn. */
  count: number;
}

/** The prediction for one image. */
export interface ImagePrediction {
  /** Success. */
  ok: true;
  /** The path, or the name given with the bytes. */
  name: string;
  /** The `topK` most probable classes, most probable first. */
  top: ClassProbability[];
  /** Probability of every class, by class index. */
  probabilities: number[];
  /** With `gradCam`: the overlay for the top class. */
  gradCam?: PredictedGradCam;
  /** With `gradCam`, when it could not be computed for this model: why. */
  gradCamError?: string;
  /** With `activations`: one entry per conv layer. */
  activations?: PredictedActivations[];
}

/** An image that could not be classified. */
export interface PredictFailure {
  /** Failure. */
  ok: false;
  /** The path, or the name given with the bytes. */
  name: string;
  /** What is wrong (the message does not repeat the name). */
  error: string;
}

/**
 * The result for one input, in input order.
 *
 * @example
 * ```ts
 * import type { PredictResult } from "./predict.ts";
 * function show(r: PredictResult): string {
 *   return r.ok ? `${r.name}: ${r.top[0].name} ${(r.top[0].prob * 100).toFixed(1)}%` : `${r.name}: ${r.error}`;
 * }
 * ```
 */
export type PredictResult = ImagePrediction | PredictFailure;

/** What {@link predict} returns. */
export interface PredictReport {
  /** Absolute run directory. */
  run: string;
  /** The weights used (which checkpoint, and of what kind). */
  weights: RunWeights;
  /** Class names by index. */
  classNames: string[];
  /** How images were preprocessed. */
  preprocessing: Preprocessing;
  /** Fallbacks used for facts an older run did not record, one sentence each. */
  notes: string[];
  /** One result per input, in input order. */
  results: PredictResult[];
}

function inputName(input: PredictInput): string {
  return typeof input === "string" ? input : input.name;
}

function readError(err: unknown): string {
  const code = errorCode(err);
  if (code === "ENOENT") return "file not found";
  if (code === "EACCES") return "cannot read it (permission denied)";
  if (code === "EISDIR") return "is a folder, not an image file";
  return `cannot read it (${err instanceof Error ? err.message : String(err)})`;
}

async function mapLimit<T, R>(
  items: readonly T[],
  limit: number,
  fn: (item: T) => Promise<R>,
): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, worker));
  return out;
}

/** Top `k` entries of `row`, most probable first (ties: lower index first). */
function topK(row: ArrayLike<number>, k: number, classNames: readonly string[]) {
  const order = Array.from({ length: row.length }, (_, i) => i)
    .sort((a, b) => row[b] - row[a] || a - b);
  return order.slice(0, k).map((i) => ({ class: i, name: classNames[i], prob: row[i] }));
}

/**
 * A run's model loaded once for many predictions (a server keeps one per run). Call
 * {@link Predictor.dispose} when done.
 *
 * @example
 * ```ts ignore
 * import { Predictor } from "./predict.ts";
 * const predictor = await Predictor.load("runs/snacks-20261201-101010");
 * const [r] = await predictor.predict([{ name: "upload.jpg", bytes: uploadBytes }], {
 *   gradCam: true,
 * });
 * if (r.ok) console.log(r.top[0].name, r.top[0].prob, r.gradCam?.png.length);
 * predictor.dispose();
 * ```
 */
export class Predictor {
  #multi?: tfl.LayersModel;
  #disposed = false;

  private constructor(
    /** Absolute run directory. */
    readonly runDir: string,
    /** The loaded model. */
    readonly model: tfl.LayersModel,
    /** The weights used. */
    readonly weights: RunWeights,
    /** Class names by index. */
    readonly classNames: string[],
    /** How images are preprocessed. */
    readonly preprocessing: Preprocessing,
    /** Fallbacks used, one sentence each. */
    readonly notes: string[],
  ) {}

  /**
   * Loads the run in `runDir`: its dataset facts (class names, image shape, fit ...) and its
   * weights. Throws an error naming the file or folder when the run has no run.json, no class
   * names, no weights, or weights that do not fit its dataset. A program that set no tfjs
   * backend gets `initBackend("auto")` (once); one it set (`initBackend`, `tf.setBackend`) is
   * kept.
   */
  static async load(runDir: string, options: LoadPredictorOptions = {}): Promise<Predictor> {
    const dir = resolve(runDir);
    await ensureBackend(); // a program that set none gets initBackend("auto")
    const facts = await readRunDatasetFacts(dir);
    const weights = options.checkpoint
      ? await namedRunWeights(dir, options.checkpoint)
      : await findRunWeights(dir);
    const model = await loadModelExplained(
      weights.dir,
      (message) =>
        message.includes(weights.dir) ? message : `cannot load ${weights.dir}: ${message}`,
    );
    try {
      const notes = [...facts.notes];
      const pre = resolvePreprocessing(dir, model.inputs[0].shape, facts, notes);
      const outputs = model.outputs[0].shape[1];
      if (outputs !== facts.classNames.length) {
        throw new Error(
          `${weights.dir}: the model outputs ${outputs} classes but the run has ` +
            `${facts.classNames.length} class names (${facts.classNames.join(", ")})`,
        );
      }
      return new Predictor(dir, model, weights, facts.classNames, pre, notes);
    } catch (err) {
      model.dispose();
      throw err;
    }
  }

  /** Names of the model's conv layers, in order (the choices for Grad-CAM's `layer`). */
  get convLayers(): string[] {
    return convLayers(this.model).map((l) => l.name);
  }

  /**
   * Decodes one image to the bytes the model sees (`height * width * channels`, before
   * `x / 255`). Throws `ImageDecodeError` for a file that is not a usable image.
   */
  async prepare(bytes: Uint8Array, maxPixels?: number): Promise<Uint8Array> {
    const p = this.preprocessing;
    // sharp decodes, fits and resizes as the training data was decoded; the shared module
    // (core/infer/preprocess.ts) does the rest, as on the exported page.
    const px = await decodeImage(bytes, {
      size: p.decodeSize,
      fit: p.fit,
      channels: p.decodeChannels,
      maxPixels,
    });
    return prepareImage(
      { data: px, width: p.decodeSize, height: p.decodeSize, channels: p.decodeChannels },
      p,
    );
  }

  /**
   * Classifies `inputs` in batches; one result per input, in order. Bad images give
   * `{ ok: false }` results and do not stop the others. Leaves no tensors behind.
   */
  async predict(
    inputs: readonly PredictInput[],
    options: PredictOptions = {},
  ): Promise<PredictResult[]> {
    if (this.#disposed) throw new Error("Predictor.predict: the predictor was disposed");
    const batchSize = options.batchSize ?? 32;
    if (!Number.isInteger(batchSize) || batchSize < 1) {
      throw new RangeError(`batchSize must be a positive integer, got ${batchSize}`);
    }
    const k = Math.min(options.topK ?? 5, this.classNames.length);
    if (!Number.isInteger(k) || k < 1) {
      throw new RangeError(`topK must be a positive integer, got ${options.topK}`);
    }
    const convs = this.convLayers;
    const cam = options.gradCam ? (options.gradCam === true ? {} : options.gradCam) : undefined;
    if (cam?.layer !== undefined && !convs.includes(cam.layer)) {
      throw new Error(
        `no conv layer "${cam.layer}" in the model; its conv layers: ${convs.join(", ")}`,
      );
    }
    const act = options.activations
      ? (options.activations === true ? {} : options.activations)
      : undefined;
    const actLayers = act?.layers ?? convs;
    for (const l of actLayers) {
      if (!convs.includes(l)) {
        throw new Error(`no conv layer "${l}" in the model; its conv layers: ${convs.join(", ")}`);
      }
    }
    const readFile = options.readFile ??
      ((path: string) => readUserFile(path, MAX_IMAGE_FILE_BYTES));
    const { height: h, width: w, channels: c } = this.preprocessing;
    const results = new Array<PredictResult>(inputs.length);
    for (let start = 0; start < inputs.length; start += batchSize) {
      const chunk = inputs.slice(start, start + batchSize);
      const prepared = await mapLimit(chunk, options.concurrency ?? 4, async (input) => {
        const name = inputName(input);
        let bytes: Uint8Array;
        if (typeof input === "string") {
          try {
            bytes = await readFile(input);
          } catch (err) {
            return { ok: false as const, name, error: readError(err) };
          }
        } else bytes = input.bytes;
        try {
          return { ok: true as const, name, pixels: await this.prepare(bytes, options.maxPixels) };
        } catch (err) {
          const error = err instanceof ImageDecodeError
            ? err.message
            : `cannot decode it (${(err as Error).message})`;
          return { ok: false as const, name, error };
        }
      });
      const good = prepared.flatMap((p, i) => (p.ok ? [{ ...p, at: start + i }] : []));
      prepared.forEach((p, i) => {
        if (!p.ok) results[start + i] = p;
      });
      if (good.length > 0) {
        const n = good.length;
        const data = new Float32Array(n * h * w * c);
        good.forEach((g, i) => normalizePixels(g.pixels, data, i * h * w * c));
        const x = tf.tensor4d(data, [n, h, w, c]);
        try {
          const probsT = tf.tidy(() => this.model.predict(x) as tf.Tensor);
          const probs = await probsT.data() as Float32Array;
          probsT.dispose();
          const m = this.classNames.length;
          const preds: ImagePrediction[] = good.map((g, i) => {
            const row = Array.from(probs.subarray(i * m, (i + 1) * m));
            return {
              ok: true,
              name: g.name,
              top: topK(row, k, this.classNames),
              probabilities: row,
            };
          });
          if (cam) await this.#gradCams(x, preds, good.map((g) => g.pixels), cam);
          if (act) await this.#activations(x, preds, actLayers, act.maxChannels);
          preds.forEach((p, i) => (results[good[i].at] = p));
        } finally {
          x.dispose();
        }
      }
      options.onProgress?.(Math.min(start + batchSize, inputs.length), inputs.length);
    }
    return results;
  }

  async #gradCams(
    x: tf.Tensor4D,
    preds: ImagePrediction[],
    pixels: Uint8Array[],
    options: { layer?: string } & CamOverlayOptions,
  ): Promise<void> {
    let result;
    try {
      result = await gradCam(this.model, x, {
        layerName: options.layer,
        classes: preds.map((p) => p.top[0].class),
      });
    } catch (err) {
      for (const p of preds) p.gradCamError = (err as Error).message;
      return;
    }
    const { height: h, width: w, channels: c } = this.preprocessing;
    const [ch, cw] = result.shape;
    preds.forEach((p, i) => {
      const img = camOverlay(pixels[i], w, h, c, result.heatmaps[i], cw, ch, options);
      p.gradCam = {
        layer: result.layer,
        class: p.top[0].class,
        heatmap: result.heatmaps[i],
        shape: [ch, cw],
        png: encodePng(img.data, img.width, img.height, 3),
        width: img.width,
        height: img.height,
      };
    });
  }

  async #activations(
    x: tf.Tensor4D,
    preds: ImagePrediction[],
    layers: string[],
    maxChannels?: number,
  ): Promise<void> {
    if (layers.length === 0) return;
    // One multi-output model over all conv layers, built once (it shares the weights).
    this.#multi ??= tfl.model({
      inputs: this.model.inputs,
      outputs: convLayers(this.model).map((l) => l.output as tfl.SymbolicTensor),
    });
    const all = this.convLayers;
    const outs = tf.tidy(() => {
      const o = this.#multi!.predict(x);
      return Array.isArray(o) ? o : [o];
    });
    try {
      for (const p of preds) p.activations = [];
      for (const layer of layers) {
        const t = outs[all.indexOf(layer)];
        const [, oh, ow, oc] = t.shape as number[];
        const data = await t.data() as Float32Array;
        preds.forEach((p, i) => {
          const one = data.subarray(i * oh * ow * oc, (i + 1) * oh * ow * oc);
          const m = renderActivations(one, [oh, ow, oc], { maxChannels });
          p.activations!.push({
            layer,
            shape: [oh, ow, oc],
            png: encodePng(m.data, m.width, m.height, 3),
            cols: m.cols,
            rows: m.rows,
            tileW: m.tileW,
            tileH: m.tileH,
            count: m.count,
          });
        });
      }
    } finally {
      tf.dispose(outs);
    }
  }

  /** Releases the model's weights. The predictor cannot be used afterwards. */
  dispose(): void {
    if (this.#disposed) return;
    this.#disposed = true;
    this.model.dispose();
  }
}

/**
 * Classifies images with the trained run in `runDir`: loads its weights, preprocesses each
 * input as the run's dataset did, and returns the top-k classes per image (plus, on request,
 * a Grad-CAM overlay PNG and activation maps). Bad images give `{ ok: false, error }` results;
 * a run that cannot be used (no weights, no class names) throws. Leaves no tensors behind.
 * Starts a backend when the program has none, as {@link Predictor.load} does.
 *
 * @example
 * ```ts ignore
 * import { predict } from "./predict.ts";
 * const report = await predict("runs/snacks-20261201-101010", [
 *   "photos/muffin.jpg",
 *   { name: "upload.png", bytes: await Deno.readFile("upload.png") },
 * ], { topK: 3, gradCam: true });
 * console.log(`weights: checkpoints/${report.weights.name}`);
 * for (const r of report.results) {
 *   if (r.ok) console.log(r.name, r.top.map((t) => `${t.name} ${(t.prob * 100).toFixed(1)}%`));
 *   else console.error(`${r.name}: ${r.error}`);
 * }
 * ```
 */
export async function predict(
  runDir: string,
  inputs: readonly PredictInput[],
  options: PredictOptions & LoadPredictorOptions = {},
): Promise<PredictReport> {
  const predictor = await Predictor.load(runDir, options);
  try {
    const results = await predictor.predict(inputs, options);
    return {
      run: predictor.runDir,
      weights: predictor.weights,
      classNames: predictor.classNames,
      preprocessing: predictor.preprocessing,
      notes: predictor.notes,
      results,
    };
  } finally {
    predictor.dispose();
  }
}
