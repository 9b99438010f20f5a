/**
 * The book's convnet: Conv2D 32-32, pool, 64-64, pool, 128-128, pool, 256-256,
 * GlobalAveragePooling2D, Dense softmax. 3x3 kernels, ReLU, Keras's default `valid` padding.
 * For 224x224x3 and 20 classes it has exactly the book's 1,177,396 parameters.
 *
 * @module
 */
import * as tfl from "@tensorflow/tfjs-layers";
import { kerasLayerNames } from "./layer_names.ts";

/** Spatial size of the last conv output for a square input of `size` pixels. */
export function bookConvnetOutputSize(size: number): number {
  // Each block: two valid 3x3 convs (-4 px) then a 2x2 pool; the last block has no pool.
  let s = size;
  for (let i = 0; i < 3; i++) s = Math.floor((s - 4) / 2);
  return s - 4;
}

/** The smallest square input the book's convnet accepts (68 pixels). */
export const BOOK_CONVNET_MIN_SIZE: number = (() => {
  let s = 1;
  while (bookConvnetOutputSize(s) < 1) s++;
  return s;
})();

/**
 * Builds the book's model for `inputShape` (`[h, w, c]`) and `numClasses` outputs.
 *
 * @example
 * ```ts
 * import { bookConvnet } from "./book_convnet.ts";
 * const model = bookConvnet([224, 224, 3], 20);
 * console.log(model.countParams()); // 1177396
 * ```
 */
export function bookConvnet(
  inputShape: readonly [number, number, number],
  numClasses: number,
): tfl.Sequential {
  const [h, w] = inputShape;
  if (bookConvnetOutputSize(Math.min(h, w)) < 1) {
    throw new Error(
      `Image size ${h}x${w} is too small for the book's convnet (3 pools and 8 valid 3x3 ` +
        `convolutions): use at least ${BOOK_CONVNET_MIN_SIZE} (--image-size ${BOOK_CONVNET_MIN_SIZE}).`,
    );
  }
  const name = kerasLayerNames();
  const conv = (filters: number, first = false) =>
    tfl.layers.conv2d({
      name: name("conv2d"),
      filters,
      kernelSize: 3,
      activation: "relu",
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
      tfl.layers.globalAveragePooling2d({ name: "global_average_pooling2d" }),
      tfl.layers.dense({ name: "dense", units: numClasses, activation: "softmax" }),
    ],
  });
}
