/**
 * Filter patterns by gradient ascent (keras.io, "Visualizing what convnets learn"): start from
 * seeded noise and follow the gradient of a filter's mean activation (the border of the map
 * left out) with respect to the input image, with the usual regularisation (Lucid/Lucent) so
 * the result is a recognisable stripe, colour, texture or shape rather than adversarial noise:
 *
 * - the gradient is normalised per image (RMS 1) so every filter moves at the same pace;
 * - each step looks at the image shifted by a small random jitter (and shifts the gradient
 *   back), so the pattern cannot rely on exact pixel positions;
 * - every few steps the image is blurred a little (a 3x3 average blended in) and decays
 *   towards grey (an L2 penalty), which removes high-frequency noise;
 * - pixels stay in the model's input range.
 *
 * The objective of a ReLU conv layer is its mean activation plus a twentieth of its mean
 * pre-activation (the ReLU alone gives no gradient to a filter that is silent on the starting
 * noise; the pre-activation alone gives a first layer only its kernel's sum, a flat image); the
 * activation reported is the layer's own output. All filters of a
 * call are optimised at once, one image per filter in a batch.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs-core";
import * as tfl from "@tensorflow/tfjs-layers";
import { mulberry32 } from "../random.ts";
import { CONV_CLASSES, convLayers } from "./grad_cam.ts";

/** Options of {@link filterPatterns}. */
export interface PatternOptions {
  /** Filter indices (default the first 16). */
  filters?: readonly number[];
  /** Gradient-ascent steps (default 40). */
  steps?: number;
  /** Step size in input units per step, RMS over the image (default 0.05). */
  learningRate?: number;
  /** Seed of the starting noise and the jitter (default 1). */
  seed?: number;
  /** Largest random shift in pixels per step (default: input side / 16, at least 1). */
  jitter?: number;
  /** Blur and decay every this many steps (default 4; 0 = never). */
  blurEvery?: number;
  /** Fraction of the 3x3 average blended in when blurring (default 0.5). */
  blur?: number;
  /** L2 decay towards the centre of the range, applied with the blur (default 0.02). */
  decay?: number;
  /** The model's input range (default [0, 1], convdeck's `byte / 255`). */
  range?: readonly [number, number];
  /**
   * Weight of the pre-activation in the objective of a ReLU conv layer (default 0.05): the
   * activation alone gives no gradient to a filter silent on the noise.
   */
  linear?: number;
  /** Filters optimised together in one batch (default 16). */
  batchSize?: number;
  /** Called after each step with (steps done, steps in all), across batches. */
  onStep?: (done: number, total: number) => void;
}

/** The pattern of one filter. */
export interface FilterPattern {
  /** Filter (channel) index. */
  filter: number;
  /** The optimised input image, `h * w * c` floats (HWC) in the model's input range. */
  image: Float32Array;
  /** Mean activation of the filter (border excluded) on the starting noise. */
  start: number;
  /** Mean activation of the filter (border excluded) on the pattern. */
  activation: number;
}

/** The patterns of one layer. */
export interface LayerPatterns {
  /** Layer name. */
  layer: string;
  /** Input shape `[h, w, c]` of each pattern image. */
  shape: [number, number, number];
  /** Steps done. */
  steps: number;
  /** One per requested filter, in the requested order. */
  patterns: FilterPattern[];
}

/** An error about the caller's choice of layer or filters (the message lists what exists). */
export class PatternInputError extends Error {
  /** Creates the error. */
  constructor(message: string) {
    super(message);
    this.name = "PatternInputError";
  }
}

/**
 * The conv layer `name` of `model`, or a {@link PatternInputError} listing the model's conv
 * layers (for a missing name or a layer that is not a convolution).
 *
 * @example
 * ```ts ignore
 * const layer = patternLayer(model, "conv2d_3");
 * ```
 */
export function patternLayer(model: tfl.LayersModel, name: string): tfl.layers.Layer {
  const convs = convLayers(model).map((l) => l.name);
  const list = convs.length ? convs.join(", ") : "none";
  const layer = model.layers.find((l) => l.name === name);
  if (!layer) throw new PatternInputError(`no layer "${name}" in the model; conv layers: ${list}`);
  if (!CONV_CLASSES.has(layer.getClassName())) {
    throw new PatternInputError(
      `layer "${name}" is a ${layer.getClassName()}, not a conv layer; conv layers: ${list}`,
    );
  }
  return layer;
}

/** Checks filter indices against a layer's `channels`; throws naming the valid range. */
export function checkFilters(layer: string, filters: readonly number[], channels: number): void {
  const bad = filters.filter((f) => !Number.isInteger(f) || f < 0 || f >= channels);
  if (bad.length || filters.length === 0) {
    throw new PatternInputError(
      `${bad.length ? `filter ${bad.join(", ")} out of range` : "no filters chosen"}: ` +
        `layer "${layer}" has ${channels} filters (0-${channels - 1})`,
    );
  }
}

/** Pixels of the map's border left out of the mean (2, fewer for small maps). */
export function borderOf(size: number): number {
  return size >= 8 ? 2 : size >= 5 ? 1 : 0;
}

/** Rolls a batch `[n, h, w, c]` by `dy`, `dx` pixels (wrapping round). */
function roll(x: tf.Tensor4D, dy: number, dx: number): tf.Tensor4D {
  const [, h, w] = x.shape;
  let out = x;
  const sy = ((dy % h) + h) % h;
  if (sy) {
    out = tf.concat([tf.slice(out, [0, h - sy], [-1, sy]), tf.slice(out, [0, 0], [-1, h - sy])], 1);
  }
  const sx = ((dx % w) + w) % w;
  if (sx) {
    out = tf.concat([
      tf.slice(out, [0, 0, w - sx], [-1, -1, sx]),
      tf.slice(out, [0, 0, 0], [-1, -1, w - sx]),
    ], 2);
  }
  return out;
}

/** A function from input images to the layer's responses (objective and reported output). */
interface Probe {
  /** Pre-activation response (or the output for layers without a separable activation). */
  objective: (x: tf.Tensor4D) => tf.Tensor4D;
  /** The layer's output as the model computes it. */
  output: (x: tf.Tensor4D) => tf.Tensor4D;
  /** Releases the sub-models (their weights are the model's and stay). */
  dispose: () => void;
  /** Channels of the layer. */
  channels: number;
  /** `[h, w]` of the layer's map. */
  mapShape: [number, number];
}

function probeOf(model: tfl.LayersModel, layer: tfl.layers.Layer): Probe {
  const input = model.inputs[0];
  const outShape = layer.outputShape as number[];
  const channels = outShape[3];
  const mapShape: [number, number] = [outShape[1], outShape[2]];
  const feature = tfl.model({ inputs: model.inputs, outputs: layer.output as tfl.SymbolicTensor });
  const output = (x: tf.Tensor4D) => feature.apply(x) as tf.Tensor4D;
  const cfg = layer.getConfig() as Record<string, unknown>;
  if (layer.getClassName() !== "Conv2D" || cfg.activation !== "relu") {
    return { objective: output, output, dispose: () => {}, channels, mapShape };
  }
  // The pre-activation: the layer's convolution without its ReLU, over the layer's input.
  const layerInput = layer.input as tfl.SymbolicTensor;
  const before = layerInput === input
    ? undefined
    : tfl.model({ inputs: model.inputs, outputs: layerInput });
  const [kernel, bias] = layer.getWeights();
  const pair = (v: unknown) =>
    (Array.isArray(v) ? [v[0], v[1] ?? v[0]] : [v ?? 1, v ?? 1]) as [
      number,
      number,
    ];
  const objective = (x: tf.Tensor4D) => {
    const inp = before ? before.apply(x) as tf.Tensor4D : x;
    const y = tf.conv2d(
      inp,
      kernel as tf.Tensor4D,
      pair(cfg.strides),
      cfg.padding as "same" | "valid",
      "NHWC",
      pair(cfg.dilationRate),
    );
    return bias ? tf.add(y, bias) as tf.Tensor4D : y;
  };
  return { objective, output, dispose: () => {}, channels, mapShape };
}

/** Mean over the map's interior of each image's own filter: `[n]`. */
function filterMeans(maps: tf.Tensor4D, mask: tf.Tensor2D, border: [number, number]): tf.Tensor1D {
  const [, h, w] = maps.shape;
  const inner = tf.slice(maps, [0, border[0], border[1], 0], [
    -1,
    h - 2 * border[0],
    w - 2 * border[1],
    -1,
  ]);
  const perChannel = tf.mean(inner, [1, 2]) as tf.Tensor2D; // [n, c]
  return tf.sum(tf.mul(perChannel, mask), 1) as tf.Tensor1D;
}

/**
 * Gradient ascent on the input for each of `options.filters` of conv layer `layerName`; see the
 * module documentation for the regularisation. Seeded: the same seed, model and backend give
 * the same patterns. Leaves no tensors behind. Throws a {@link PatternInputError} for a layer
 * that is not a conv layer or filters out of range.
 *
 * @example
 * ```ts
 * import "@tensorflow/tfjs-backend-cpu";
 * import * as tfl from "@tensorflow/tfjs-layers";
 * import { filterPatterns } from "./patterns.ts";
 * const model = tfl.sequential({ layers: [
 *   tfl.layers.conv2d({ inputShape: [16, 16, 3], filters: 4, kernelSize: 3, activation: "relu",
 *     name: "c1" }),
 * ] });
 * const p = await filterPatterns(model, "c1", { filters: [0, 1], steps: 5 });
 * console.log(p.patterns.map((f) => f.activation > f.start)); // [true, true]
 * ```
 */
export async function filterPatterns(
  model: tfl.LayersModel,
  layerName: string,
  options: PatternOptions = {},
): Promise<LayerPatterns> {
  const layer = patternLayer(model, layerName);
  const inShape = model.inputs[0].shape;
  const [h, w, c] = [inShape[1], inShape[2], inShape[3]];
  if (![h, w, c].every((d) => typeof d === "number" && d > 0)) {
    throw new PatternInputError(
      `the model's input shape [${inShape}] has free dimensions: patterns need a fixed size`,
    );
  }
  const probe = probeOf(model, layer);
  const filters = options.filters ??
    Array.from({ length: Math.min(16, probe.channels) }, (_, i) => i);
  checkFilters(layerName, filters, probe.channels);
  const steps = options.steps ?? 40;
  if (!Number.isInteger(steps) || steps < 0) {
    throw new PatternInputError(`steps must be a non-negative integer, got ${steps}`);
  }
  const lr = options.learningRate ?? 0.05;
  const [lo, hi] = options.range ?? [0, 1];
  const linear = options.linear ?? 0.05;
  const mid = (lo + hi) / 2;
  const jitter = options.jitter ?? Math.max(1, Math.round(Math.min(h!, w!) / 16));
  const blurEvery = options.blurEvery ?? 4;
  const blur = options.blur ?? 0.5;
  const decay = options.decay ?? 0.02;
  const seed = options.seed ?? 1;
  const batchSize = Math.max(1, options.batchSize ?? 16);
  const border: [number, number] = [borderOf(probe.mapShape[0]), borderOf(probe.mapShape[1])];
  const rand = mulberry32(seed);
  const patterns: FilterPattern[] = [];
  const total = steps * Math.ceil(filters.length / batchSize);
  let done = 0;
  try {
    for (let b0 = 0; b0 < filters.length; b0 += batchSize) {
      const chunk = filters.slice(b0, b0 + batchSize);
      const n = chunk.length;
      const mask = tf.tidy(() =>
        tf.cast(tf.oneHot(tf.tensor1d(chunk, "int32"), probe.channels), "float32") as tf.Tensor2D
      );
      let img = tf.tidy(() =>
        tf.add(
          tf.randomUniform(
            [n, h!, w!, c!],
            -0.1 * (hi - lo),
            0.1 * (hi - lo),
            "float32",
            seed + b0,
          ),
          mid,
        ) as tf.Tensor4D
      );
      try {
        const score = (x: tf.Tensor4D) => tf.tidy(() => filterMeans(probe.output(x), mask, border));
        const startT = score(img);
        const start = await startT.data();
        startT.dispose();
        const objective = (x: tf.Tensor4D) => {
          const z = probe.objective(x);
          if (probe.objective === probe.output) return tf.sum(filterMeans(z, mask, border));
          // The activation, plus a little of the pre-activation so a silent filter still moves.
          const act = filterMeans(tf.relu(z), mask, border);
          return tf.sum(tf.add(act, tf.mul(filterMeans(z, mask, border), linear)));
        };
        const grad = tf.grad((x: tf.Tensor) => objective(x as tf.Tensor4D));
        for (let s = 0; s < steps; s++) {
          const dy = Math.round((rand() * 2 - 1) * jitter);
          const dx = Math.round((rand() * 2 - 1) * jitter);
          const next = tf.tidy(() => {
            const g = roll(grad(roll(img, dy, dx)) as tf.Tensor4D, -dy, -dx);
            const rms = tf.sqrt(tf.add(tf.mean(tf.square(g), [1, 2, 3], true), 1e-12));
            let x = tf.add(img, tf.mul(tf.div(g, rms), lr)) as tf.Tensor4D;
            if (blurEvery > 0 && (s + 1) % blurEvery === 0 && s < steps - 1) {
              const avg = tf.avgPool(x, 3, 1, "same");
              x = tf.add(tf.mul(x, 1 - blur), tf.mul(avg, blur));
              x = tf.add(tf.mul(tf.sub(x, mid), 1 - decay), mid);
            }
            return tf.clipByValue(x, lo, hi) as tf.Tensor4D;
          });
          img.dispose();
          img = next;
          options.onStep?.(++done, total);
          // Let timers (progress, heartbeats) run between steps.
          if (s % 8 === 7) await new Promise((r) => setTimeout(r, 0));
        }
        const endT = score(img);
        const [end, pixels] = await Promise.all([endT.data(), img.data()]);
        endT.dispose();
        const size = h! * w! * c!;
        chunk.forEach((filter, i) => {
          patterns.push({
            filter,
            image: Float32Array.from((pixels as Float32Array).subarray(i * size, (i + 1) * size)),
            start: start[i],
            activation: end[i],
          });
        });
      } finally {
        tf.dispose([img, mask]);
      }
    }
  } finally {
    probe.dispose();
  }
  return { layer: layerName, shape: [h!, w!, c!], steps, patterns };
}

/**
 * A pattern image as bytes for display, as keras.io deprocesses it: centred, scaled to a
 * standard deviation of 0.15 of the range around mid-grey, clipped (HWC, same channels).
 *
 * @example
 * ```ts
 * import { patternBytes } from "./patterns.ts";
 * console.log(patternBytes(new Float32Array([0.1, 0.2, 0.3])).length); // 3
 * ```
 */
export function patternBytes(image: Float32Array): Uint8ClampedArray {
  let sum = 0, sq = 0;
  for (const v of image) {
    sum += v;
    sq += v * v;
  }
  const mean = sum / image.length;
  const std = Math.sqrt(Math.max(0, sq / image.length - mean * mean)) + 1e-5;
  return Uint8ClampedArray.from(image, (v) => ((v - mean) / std * 0.15 + 0.5) * 255);
}
