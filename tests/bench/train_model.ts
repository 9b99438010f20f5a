/**
 * The book's convnet (Keras defaults: 'valid' padding, glorot-uniform kernels), used by the
 * backend tests and the training benchmark. 1,177,396 parameters at 20 classes.
 *
 * @module
 */
import * as tfl from "@tensorflow/tfjs-layers";

/** Smallest input size the book's model accepts with Keras's default 'valid' padding. */
export const MIN_VALID_SIZE = 76;

/**
 * Builds the book's model: conv32, conv32, pool, conv64, conv64, pool, conv128, conv128, pool,
 * conv256, conv256, global average pooling, dense softmax. `padding` defaults to Keras's
 * 'valid', which needs inputs of at least {@linkcode MIN_VALID_SIZE} pixels; smaller benchmark
 * sizes (32, 64) use 'same'.
 *
 * @example
 * ```ts
 * const model = bookConvnet(64, 20);
 * ```
 */
export function bookConvnet(
  inputSize: number,
  numClasses = 20,
  options: { seed?: number; padding?: "valid" | "same" } = {},
): tfl.Sequential {
  const { seed, padding = "valid" } = options;
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
      ...(first ? { inputShape: [inputSize, inputSize, 3] } : {}),
    }));
    first = false;
  }
  model.add(tfl.layers.globalAveragePooling2d({}));
  model.add(tfl.layers.dense({
    units: numClasses,
    activation: "softmax",
    kernelInitializer: init(100),
  }));
  return model;
}
