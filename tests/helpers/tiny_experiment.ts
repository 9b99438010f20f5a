/**
 * A tiny experiment for tests: the synthetic shapes at 12x12, 4 classes, a very small convnet.
 *
 * @module
 */
import type { Callback } from "../../core/train/callback.ts";
import type { Experiment } from "../../core/experiment/experiment.ts";
import { syntheticShapes } from "../../core/data/synthetic.ts";
import { smallConvnet } from "../../core/models/small_convnet.ts";

/** A callback with state, to check that resume restores callback state. */
export class CountingCallback implements Callback {
  readonly name = "counter";
  epochsSeen = 0;
  onEpochEnd(): void {
    this.epochsSeen++;
  }
  getState(): unknown {
    return { epochsSeen: this.epochsSeen };
  }
  setState(s: unknown): void {
    this.epochsSeen = (s as { epochsSeen: number }).epochsSeen;
  }
}

/** Builds the tiny experiment; `callbacks` makes the default callback list. */
export function tinyExperiment(callbacks: () => Callback[] = () => []): Experiment {
  return {
    name: "tiny",
    description: "tiny test experiment",
    defaults: { epochs: 4, batchSize: 16, learningRate: 1e-2, imageSize: 12, seed: 3 },
    dataset: (o) =>
      Promise.resolve(
        syntheticShapes({
          imageSize: o.imageSize,
          seed: o.seed,
          trainSize: 64,
          valSize: 16,
          testSize: 8,
          numClasses: 4,
        }),
      ),
    model: (shape, classes) => smallConvnet(shape, classes, [4, 4, 4]),
    callbacks,
  };
}
