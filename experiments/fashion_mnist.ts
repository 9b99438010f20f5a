/**
 * Fashion-MNIST (Zalando's 28x28 gray clothing images, 10 classes) with a small convnet.
 * Reads the IDX files of Debian's `dataset-fashion-mnist` package
 * (`/usr/share/datasets/fashion-mnist`) by default, or any MNIST-style folder given with
 * `--data`: train 54,000 / val 6,000 (a seeded 10% of train) / test 10,000.
 *
 * ```sh
 * apt-get install dataset-fashion-mnist
 * deno task train --experiment fashion_mnist --epochs 3
 * ```
 *
 * @module
 */
import * as tfl from "@tensorflow/tfjs-layers";
import type { Experiment, TrainOptions } from "../core/experiment.ts";
import type { Dataset } from "../core/data/dataset.ts";
import { DataError } from "../core/data/data_error.ts";
import { loadIdxFolder } from "../core/data/idx.ts";

/** Where Debian's `dataset-fashion-mnist` package puts the files. */
export const DEBIAN_FASHION_MNIST = "/usr/share/datasets/fashion-mnist";

/** Label names of Fashion-MNIST, by label index. */
export const FASHION_MNIST_CLASSES: readonly string[] = [
  "T-shirt/top",
  "Trouser",
  "Pullover",
  "Dress",
  "Coat",
  "Sandal",
  "Shirt",
  "Sneaker",
  "Bag",
  "Ankle boot",
];

/**
 * Loads Fashion-MNIST from `options.data` (default the Debian package's folder), with a clear
 * error saying how to install it when the folder is missing.
 */
export async function loadFashionMnist(options: TrainOptions): Promise<Dataset> {
  const dir = options.data ?? DEBIAN_FASHION_MNIST;
  try {
    await Deno.stat(dir);
  } catch {
    throw new DataError(
      `Fashion-MNIST not found at "${dir}": install it with \`apt-get install dataset-fashion-mnist\` ` +
        `(Debian/Ubuntu), or pass --data with a folder holding train-images-idx3-ubyte.gz, ` +
        `train-labels-idx1-ubyte.gz, t10k-images-idx3-ubyte.gz and t10k-labels-idx1-ubyte.gz`,
    );
  }
  return await loadIdxFolder(dir, {
    name: "fashion-mnist",
    imageSize: options.imageSize,
    channels: 1,
    classNames: FASHION_MNIST_CLASSES,
    valFraction: 0.1,
    seed: options.seed,
    // Clothes stay what they are when mirrored or nudged by a few pixels.
    augment: { flip: true, translate: 0.1 },
  });
}

/**
 * A small convnet for 28x28x1 inputs: Conv(32)-Pool-Conv(64)-Pool-Flatten-Dropout-Dense
 * (softmax). 34,826 parameters at 28x28x1 with 10 classes.
 */
export function fashionMnistModel(
  inputShape: readonly [number, number, number],
  numClasses: number,
): tfl.LayersModel {
  const model = tfl.sequential({ name: "fashion_mnist_convnet" });
  model.add(tfl.layers.conv2d({
    inputShape: [...inputShape],
    filters: 32,
    kernelSize: 3,
    activation: "relu",
  }));
  model.add(tfl.layers.maxPooling2d({ poolSize: 2 }));
  model.add(tfl.layers.conv2d({ filters: 64, kernelSize: 3, activation: "relu" }));
  model.add(tfl.layers.maxPooling2d({ poolSize: 2 }));
  model.add(tfl.layers.flatten());
  model.add(tfl.layers.dropout({ rate: 0.3 }));
  model.add(tfl.layers.dense({ units: numClasses, activation: "softmax" }));
  return model;
}

/** The Fashion-MNIST experiment. */
const experiment: Experiment = {
  name: "fashion_mnist",
  description: "Fashion-MNIST 28x28 gray, 10 classes, small convnet (Debian dataset-fashion-mnist)",
  numClasses: 10,
  channels: 1,
  defaults: {
    epochs: 5,
    batchSize: 64,
    learningRate: 1e-3,
    imageSize: 28,
    seed: 1,
    data: DEBIAN_FASHION_MNIST,
  },
  dataset: loadFashionMnist,
  model: fashionMnistModel,
};

export default experiment;
