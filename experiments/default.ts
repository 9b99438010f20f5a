/**
 * The built-in default: a small convnet on procedurally generated shapes (no download).
 * `deno task train` with no arguments runs this in a few minutes on 2 cores.
 *
 * @module
 */
import type { Experiment } from "../core/experiment/experiment.ts";
import { syntheticShapes } from "../core/data/synthetic.ts";
import { smallConvnet } from "../core/models/small_convnet.ts";
import { OPTIMIZER_NAMES } from "../core/train/optimizers.ts";
import { defaultCallbacks, LR_SCHEDULES, type LrScheduleName } from "./default_callbacks.ts";

/** The built-in default experiment. */
const experiment: Experiment = {
  name: "default",
  description: "small convnet on 8 classes of generated shapes and textures (32x32, no download)",
  numClasses: 8,
  defaults: { epochs: 15, batchSize: 32, learningRate: 2e-3, imageSize: 32, seed: 1 },
  params: {
    width: {
      default: 16,
      integer: true,
      min: 1,
      max: 512,
      description: "filters of the first conv pair (then 2x and 4x)",
    },
    dropout: { default: 0, min: 0, max: 0.95, description: "dropout rate before the dense layer" },
    reduceLrPatience: {
      default: 2,
      integer: true,
      min: 1,
      description: "epochs without val_loss improvement before the learning rate / 10",
    },
    optimizer: {
      default: "adam",
      choices: OPTIMIZER_NAMES,
      description: "optimizer (momentum: SGD with momentum 0.9)",
    },
    lrSchedule: {
      default: "plateau",
      choices: LR_SCHEDULES,
      description: "plateau: /10 when val_loss stalls; cosine to 0; step: /10 at 50% and 75%",
    },
    augment: { default: true, description: "random flips and shifts of training images" },
    earlyStoppingPatience: {
      default: 5,
      integer: true,
      min: 1,
      description: "epochs without val_loss improvement before stopping",
    },
  },
  dataset: (o) => Promise.resolve(syntheticShapes({ imageSize: o.imageSize, seed: o.seed })),
  model: (shape, classes, o) => {
    const w = Number(o?.params?.width ?? 16);
    return smallConvnet(shape, classes, [w, 2 * w, 4 * w], Number(o?.params?.dropout ?? 0));
  },
  callbacks: (o) =>
    defaultCallbacks(o, {
      visualizeEvery: 3,
      reduceLrPatience: Number(o.params?.reduceLrPatience ?? 2),
      lrSchedule: (o.params?.lrSchedule ?? "plateau") as LrScheduleName,
      earlyStoppingPatience: Number(o.params?.earlyStoppingPatience ?? 5),
    }),
};

export default experiment;
