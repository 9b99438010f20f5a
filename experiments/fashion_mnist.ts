/**
 * Fashion-MNIST (Zalando's 28x28 gray clothing images, 10 classes) with the book's convnet
 * (same padding, 1,174,250 parameters at 28x28x1), sized for 15 minutes of `deno task train`
 * on 2 idle CPU cores with the native backend (11 epochs of ~70 s); measured figures in the
 * README.
 * Reads the IDX files of Debian's `dataset-fashion-mnist` package
 * (`/usr/share/datasets/fashion-mnist`) by default, or any MNIST-style folder given with
 * `--data`: train 54,000 / val 6,000 (a seeded 10% of train) / test 10,000.
 *
 * ```sh
 * apt-get install dataset-fashion-mnist
 * deno task train --experiment fashion_mnist
 * ```
 *
 * @module
 */
import type { Experiment, TrainOptions } from "../core/experiment/experiment.ts";
import type { Dataset } from "../core/data/dataset.ts";
import { DataError } from "../core/data/data_error.ts";
import { loadIdxFolder } from "../core/data/idx.ts";
import type { AugmentOptions } from "../core/data/augment.ts";
import { bookConvnet } from "../core/models/book_convnet.ts";
import { LearningRateScheduler, type Schedule } from "../callbacks/learning_rate_scheduler.ts";
import { defaultCallbacks } from "./default_callbacks.ts";

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
 * error saying how to install it when the folder is missing. `augment` applies to the train
 * split (default none, as the recipe: within its 11 epochs, flips and shifts slowed learning
 * more than they kept it from overfitting).
 */
export async function loadFashionMnist(
  options: TrainOptions,
  augment: AugmentOptions | false = false,
): Promise<Dataset> {
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
    augment,
  });
}

/**
 * The recipe's learning-rate step, for a run of `epochs` epochs starting at `learningRate`:
 * the last `last` epochs (0-based from `epochs - last`) run at a tenth of the rate, unless
 * ReduceLROnPlateau has already divided it by then. A schedule for `LearningRateScheduler`; it
 * depends only on the epoch and the current rate, so it resumes exactly.
 *
 * @example
 * ```ts
 * import { finalEpochsStep } from "./fashion_mnist.ts";
 * const s = finalEpochsStep(11, 3, 1e-3);
 * console.log(s(7, 1e-3), s(8, 1e-3), s(8, 1e-4)); // 0.001 0.0001 0.0001
 * ```
 */
export function finalEpochsStep(epochs: number, last: number, learningRate: number): Schedule {
  const at = Math.max(0, epochs - last);
  return (epoch, lr) => (epoch === at && lr >= learningRate ? lr / 10 : lr);
}

/**
 * The Fashion-MNIST experiment: the book's convnet, Adam 1e-3, batch 64, no augmentation (as
 * the PyTorch reference run), 11 epochs (about 13.5 minutes on 2 idle cores with the native
 * backend), the last three at a tenth of the rate. The default callbacks watch validation
 * accuracy for the early stop and the best checkpoint: on this data the validation loss turns
 * up epochs before the accuracy stops rising.
 */
const experiment: Experiment = {
  name: "fashion_mnist",
  description:
    "Fashion-MNIST 28x28 gray, 10 classes, the book's convnet (Debian dataset-fashion-mnist)",
  numClasses: 10,
  channels: 1,
  defaults: {
    epochs: 11,
    batchSize: 64,
    learningRate: 1e-3,
    imageSize: 28,
    seed: 1,
    data: DEBIAN_FASHION_MNIST,
  },
  dataset: (o) => loadFashionMnist(o),
  model: (shape, classes) => bookConvnet(shape, classes),
  callbacks: (o) =>
    defaultCallbacks(o, {
      reduceLrPatience: 2,
      earlyStoppingPatience: 3,
      earlyStoppingMonitor: "val_acc",
      checkpointMonitor: "val_acc",
      visualizeEvery: 3,
      extra: [new LearningRateScheduler(finalEpochsStep(o.epochs, 3, o.learningRate))],
    }),
};

export default experiment;
