/**
 * The book's convnet, as the chapter prints it: Conv2D 32-32, pool, 64-64, pool, 128-128, pool,
 * 256-256, GlobalAveragePooling2D, Dense (no activation), then a separate softmax `Activation`
 * layer. 3x3 kernels, ReLU, `same` padding (as the chapter's `padding="same"`), 2x2 max pooling.
 * For 224x224x3 and 20 classes it prints the chapter's summary layer for layer (`conv2d_1`
 * (None, 224, 224, 32) 896 ... `conv2d_8` (None, 28, 28, 256) 590080, `dense_1` (None, 20) 5140,
 * `activation_1` (None, 20)) and has exactly its 1,177,396 parameters.
 *
 * @module
 */
import * as tfl from "@tensorflow/tfjs-layers";
import { kerasLayerNames } from "./layer_names.ts";

/** Padding of the book convnet's convolutions: the chapter's `same`, or Keras's default `valid`. */
export type BookConvnetPadding = "same" | "valid";

/** Options of {@link bookConvnet}. */
export interface BookConvnetOptions {
  /**
   * Conv padding. Default `same` (the chapter's model: the maps keep their size through each
   * conv, so any input from 8 pixels up works); `valid` shrinks each map by 2 pixels per conv
   * (inputs from 68 pixels up).
   */
  padding?: BookConvnetPadding;
  /**
   * Seed of the Glorot-uniform kernel initialisers (layer k gets `seed + k`), for the same
   * starting weights in every build (benchmarks, tests). Default: unseeded, as Keras.
   */
  seed?: number;
}

/**
 * Spatial size of the last conv output for a square input of `size` pixels (the size the
 * global average pooling sees); below 1 the model cannot take the input.
 */
export function bookConvnetOutputSize(size: number, padding: BookConvnetPadding = "same"): number {
  // Each block: two 3x3 convs (-4 px with valid padding, unchanged with same) then a 2x2 pool
  // (floor); the last block has no pool.
  const shrink = padding === "valid" ? 4 : 0;
  let s = size;
  for (let i = 0; i < 3; i++) s = Math.floor((s - shrink) / 2);
  return s - shrink;
}

/** The smallest square input the book's convnet accepts with `padding` (8 same, 68 valid). */
export function bookConvnetMinSize(padding: BookConvnetPadding = "same"): number {
  let s = 1;
  while (bookConvnetOutputSize(s, padding) < 1) s++;
  return s;
}

/** The smallest square input the book's convnet accepts with its default `same` padding (8). */
export const BOOK_CONVNET_MIN_SIZE: number = bookConvnetMinSize("same");

/**
 * Builds the book's model for `inputShape` (`[h, w, c]`) and `numClasses` outputs, with the
 * book's (Keras 2) layer names `conv2d_1` ... `activation_1`. Throws a clear error naming the
 * smallest size that works when the input is too small.
 *
 * @example
 * ```ts
 * import { bookConvnet } from "./book_convnet.ts";
 * const model = bookConvnet([224, 224, 3], 20);
 * console.log(model.countParams()); // 1177396
 * console.log(bookConvnet([28, 28, 1], 10).outputs[0].shape); // [null, 10]
 * ```
 */
export function bookConvnet(
  inputShape: readonly [number, number, number],
  numClasses: number,
  options: BookConvnetOptions = {},
): tfl.Sequential {
  const padding = options.padding ?? "same";
  if (padding !== "same" && padding !== "valid") {
    throw new Error(`bookConvnet: padding must be "same" or "valid", got "${padding}"`);
  }
  const [h, w] = inputShape;
  if (bookConvnetOutputSize(Math.min(h, w), padding) < 1) {
    const min = bookConvnetMinSize(padding);
    const why = padding === "valid"
      ? "3 2x2 pools and 8 valid 3x3 convolutions"
      : "3 2x2 pools with same padding";
    throw new Error(
      `Image size ${h}x${w} is too small for the book's convnet (${why}): ` +
        `use at least ${min} (--image-size ${min}).`,
    );
  }
  const name = kerasLayerNames({ numberFirst: true });
  let seeded = 0;
  const init = () =>
    options.seed === undefined
      ? {}
      : { kernelInitializer: tfl.initializers.glorotUniform({ seed: options.seed + seeded++ }) };
  const conv = (filters: number, first = false) =>
    tfl.layers.conv2d({
      name: name("conv2d"),
      filters,
      kernelSize: 3,
      padding,
      activation: "relu",
      ...init(),
      ...(first ? { inputShape: [...inputShape] } : {}),
    });
  const pool = () =>
    tfl.layers.maxPooling2d({
      name: name("max_pooling2d"),
      poolSize: 2,
    });
  return tfl.sequential({
    name: "book_convnet",
    layers: [
      conv(32, true),
      conv(32),
      pool(),
      conv(64),
      conv(64),
      pool(),
      conv(128),
      conv(128),
      pool(),
      conv(256),
      conv(256),
      tfl.layers.globalAveragePooling2d({ name: name("global_average_pooling2d") }),
      tfl.layers.dense({ name: name("dense"), units: numClasses, ...init() }),
      tfl.layers.activation({ name: name("activation"), activation: "softmax" }),
    ],
  });
}
