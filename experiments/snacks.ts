/**
 * The book's experiment: its convnet (1,177,396 parameters at 224x224x3, 20 classes) trained
 * with Adam 1e-3 on an image folder `train/ val/ test/` with one sub-folder per class.
 *
 * `deno task train --experiment snacks --data path/to/snacks`
 *
 * @module
 */
import type { Experiment } from "../core/experiment/experiment.ts";
import { bookConvnet } from "../core/models/book_convnet.ts";
import { loadImageFolderFor } from "../core/data/image_folder.ts";
import { defaultCallbacks } from "./default_callbacks.ts";

/** The snacks experiment. */
const experiment: Experiment = {
  name: "snacks",
  description: "the book's convnet on a snack-photo folder (train/ val/ test/, 20 classes)",
  numClasses: 20,
  defaults: { epochs: 30, batchSize: 32, learningRate: 1e-3, imageSize: 224, seed: 1 },
  dataset: (o) => loadImageFolderFor(o),
  model: (shape, classes) => bookConvnet(shape, classes),
  callbacks: (o) => defaultCallbacks(o, { reduceLrPatience: 5, earlyStoppingPatience: 10 }),
};

export default experiment;
