/**
 * A tiny experiment file for the `deno task patterns` tests: generated shapes at 16x16, a small
 * convnet, one epoch, the best checkpoint kept.
 *
 * @module
 */
import type { Experiment } from "../../core/experiment/experiment.ts";
import { syntheticShapes } from "../../core/data/synthetic.ts";
import { smallConvnet } from "../../core/models/small_convnet.ts";
import { ModelCheckpoint } from "../../callbacks/model_checkpoint.ts";

const experiment: Experiment = {
  name: "tinypatterns",
  description: "patterns test: generated shapes, 16x16",
  defaults: { epochs: 1, batchSize: 16, learningRate: 3e-3, imageSize: 16, seed: 1 },
  dataset: (o) =>
    Promise.resolve(
      syntheticShapes({
        imageSize: o.imageSize,
        seed: o.seed,
        trainSize: 64,
        valSize: 24,
        testSize: 8,
        numClasses: 4,
      }),
    ),
  model: (shape, classes) => smallConvnet(shape, classes, [4, 8, 8]),
  callbacks: () => [new ModelCheckpoint({ filepath: "best", saveBestOnly: false })],
};

export default experiment;
