/**
 * The built-in default: a small convnet on procedurally generated shapes (no download).
 * `deno task train` with no arguments runs this in a few minutes on 2 cores.
 *
 * @module
 */
import type { Experiment } from "../core/experiment.ts";
import { syntheticShapes } from "../core/data/synthetic.ts";
import { smallConvnet } from "../core/models/small_convnet.ts";
import { defaultCallbacks } from "./default_callbacks.ts";

/** The built-in default experiment. */
const experiment: Experiment = {
  name: "default",
  description: "small convnet on 8 classes of generated shapes and textures (32x32, no download)",
  numClasses: 8,
  defaults: { epochs: 15, batchSize: 32, learningRate: 2e-3, imageSize: 32, seed: 1 },
  dataset: (o) => Promise.resolve(syntheticShapes({ imageSize: o.imageSize, seed: o.seed })),
  model: (shape, classes) => smallConvnet(shape, classes),
  callbacks: (o) =>
    defaultCallbacks(o, { visualizeEvery: 3, reduceLrPatience: 2, earlyStoppingPatience: 5 }),
};

export default experiment;
