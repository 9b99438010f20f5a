/**
 * A small convnet for the built-in default dataset: the book's design (pairs of 3x3 convs,
 * max pooling, global average pooling, softmax) at a width that trains in minutes on 2 cores.
 *
 * @module
 */
import * as tfl from "@tensorflow/tfjs-layers";
import { kerasLayerNames } from "./layer_names.ts";

/**
 * Builds a small convnet: conv16-conv16-pool-conv32-conv32-pool-conv64-GAP-dense (widths
 * configurable, optional dropout before the dense layer), `same` padding so any input of 8x8
 * or more works.
 *
 * @example
 * ```ts
 * import { smallConvnet } from "./small_convnet.ts";
 * const model = smallConvnet([32, 32, 3], 8);
 * console.log(model.outputs[0].shape); // [null, 8]
 * ```
 */
export function smallConvnet(
  inputShape: readonly [number, number, number],
  numClasses: number,
  widths: readonly [number, number, number] = [16, 32, 64],
  dropout = 0,
): tfl.Sequential {
  if (!(dropout >= 0 && dropout < 1)) {
    throw new Error(`dropout must be in [0, 1), got ${dropout}`);
  }
  const [h, w] = inputShape;
  if (Math.min(h, w) < 8) {
    throw new Error(`Image size ${h}x${w} is too small for the small convnet: use at least 8.`);
  }
  const name = kerasLayerNames();
  const conv = (filters: number, first = false) =>
    tfl.layers.conv2d({
      name: name("conv2d"),
      filters,
      kernelSize: 3,
      padding: "same",
      activation: "relu",
      ...(first ? { inputShape: [...inputShape] } : {}),
    });
  const pool = () =>
    tfl.layers.maxPooling2d({
      name: name("max_pooling2d"),
      poolSize: 2,
    });
  return tfl.sequential({
    name: "small_convnet",
    layers: [
      conv(widths[0], true),
      conv(widths[0]),
      pool(),
      conv(widths[1]),
      conv(widths[1]),
      pool(),
      conv(widths[2]),
      tfl.layers.globalAveragePooling2d({ name: "global_average_pooling2d" }),
      ...(dropout > 0 ? [tfl.layers.dropout({ name: "dropout", rate: dropout })] : []),
      tfl.layers.dense({ name: "dense", units: numClasses, activation: "softmax" }),
    ],
  });
}
