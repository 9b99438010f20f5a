/**
 * The book's convnet (glorot-uniform kernels), used by the backend tests and the training
 * benchmark. 1,177,396 parameters at 20 classes.
 *
 * @module
 */
import * as tfl from "@tensorflow/tfjs-layers";

/** Smallest input size the book's model accepts with Keras's default 'valid' padding. */
export const MIN_VALID_SIZE = 76;

/** Options of {@linkcode bookConvnet}. */
export interface BookConvnetOptions {
  /** Seed of the glorot-uniform kernel initialisers (default: unseeded). */
  seed?: number;
  /** Convolution padding (default 'valid', Keras's default). */
  padding?: "valid" | "same";
  /** Input channels (default 3; 1 for Fashion-MNIST). */
  channels?: number;
  /**
   * Where the softmax is: `dense` (Dense with a softmax activation, the default) or `layer`
   * (a linear Dense followed by a separate softmax `Activation` layer, as the book prints it).
   */
  softmax?: "dense" | "layer";
}

/**
 * Builds the book's model: conv32, conv32, pool, conv64, conv64, pool, conv128, conv128, pool,
 * conv256, conv256, global average pooling, dense softmax. `padding` defaults to Keras's
 * 'valid', which needs inputs of at least {@linkcode MIN_VALID_SIZE} pixels; the benchmark
 * uses 'same' (the book's chapter) at every size.
 *
 * @example
 * ```ts
 * const model = bookConvnet(64, 20, { padding: "same" });
 * ```
 */
export function bookConvnet(
  inputSize: number,
  numClasses = 20,
  options: BookConvnetOptions = {},
): tfl.Sequential {
  const { seed, padding = "valid", channels = 3, softmax = "dense" } = options;
  if (padding === "valid" && inputSize < MIN_VALID_SIZE) {
    throw new Error(
      `bookConvnet: input ${inputSize} is too small for 'valid' padding ` +
        `(needs >= ${MIN_VALID_SIZE}); pass { padding: "same" }`,
    );
  }
  const init = (i: number) =>
    seed === undefined ? undefined : tfl.initializers.glorotUniform({ seed: seed + i });
  const model = tfl.sequential();
  const filters = [32, 32, 0, 64, 64, 0, 128, 128, 0, 256, 256];
  let first = true;
  for (const [i, f] of filters.entries()) {
    if (f === 0) {
      model.add(tfl.layers.maxPooling2d({ poolSize: 2 }));
      continue;
    }
    model.add(tfl.layers.conv2d({
      filters: f,
      kernelSize: 3,
      activation: "relu",
      padding,
      kernelInitializer: init(i),
      ...(first ? { inputShape: [inputSize, inputSize, channels] } : {}),
    }));
    first = false;
  }
  model.add(tfl.layers.globalAveragePooling2d({}));
  model.add(tfl.layers.dense({
    units: numClasses,
    activation: softmax === "dense" ? "softmax" : "linear",
    kernelInitializer: init(100),
  }));
  if (softmax === "layer") model.add(tfl.layers.activation({ activation: "softmax" }));
  return model;
}
