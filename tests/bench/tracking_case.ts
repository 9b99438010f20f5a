/**
 * The trainer's tracking case for `deno task bench --only tracking`: the same epoch of the
 * default experiment's model and data, once bare (a trainer with no callbacks; its epoch
 * metrics line is the only write) and once with everything convdeck tracks: the default
 * callbacks (progress bar into a sink, CSV log, best-model checkpoints, LR and early-stopping
 * monitors, overfitting detector), batch records for live curves and a resume point after the
 * epoch. `Visualize` is left out: it records every N epochs by design, not per epoch.
 *
 * @module
 */
import type { TrackingCase } from "./train_tracking.ts";
import { type Callback, CALLBACK_HOOKS } from "../../core/train/callback.ts";
import * as tf from "@tensorflow/tfjs-core";
import { syntheticShapes } from "../../core/data/synthetic.ts";
import { smallConvnet } from "../../core/models/small_convnet.ts";
import { RunWriter } from "../../core/run/writer.ts";
import { resumeCheckpointer } from "../../core/train/resume.ts";
import { Trainer } from "../../core/train/trainer.ts";
import {
  CSVLogger,
  EarlyStopping,
  ModelCheckpoint,
  OverfitDetector,
  ProgressBar,
  ReduceLROnPlateau,
  TerminateOnNaN,
} from "../../callbacks/mod.ts";

const save = resumeCheckpointer();
let runsDir = "";
let plain: Trainer | undefined, tracked: Trainer | undefined;
/** Milliseconds spent inside the tracked trainer's hooks and resume-point saves, and epochs. */
const inside = { ms: 0, epochs: 0, epochMs: 0 };

/** Wraps every hook of `cb` to add its running time to `inside.ms`. */
function timed(cb: Callback): Callback {
  const hooks = CALLBACK_HOOKS.filter((h) => h.startsWith("on"));
  const wrapped: Record<string, unknown> = { name: cb.name };
  for (const h of hooks) {
    const fn = cb[h] as ((...a: unknown[]) => unknown) | undefined;
    if (!fn) continue;
    wrapped[h] = async (...args: unknown[]) => {
      const t0 = performance.now();
      await fn.apply(cb, args);
      inside.ms += performance.now() - t0;
    };
  }
  return wrapped as unknown as Callback;
}

const trackingCase: TrackingCase = {
  name: "default experiment (small convnet 32x32, 960 images, batch 32)",
  async setup() {
    runsDir = await Deno.makeTempDir({ prefix: "convdeck-bench-tracking-" });
    const dataset = syntheticShapes({ trainSize: 960, valSize: 192, testSize: 0 });
    const model = smallConvnet(dataset.imageShape, dataset.classNames.length);
    const optimizer = tf.train.adam(1e-3);
    const common = { model, dataset, optimizer, batchSize: 32, learningRate: 1e-3, seed: 1 };
    const quiet = { warn: () => {} };
    plain = new Trainer({
      ...common,
      run: await RunWriter.create({ runsDir, experiment: "plain", config: {}, ...quiet }),
      batchMetricsIntervalMs: Infinity,
    });
    tracked = new Trainer({
      ...common,
      run: await RunWriter.create({ runsDir, experiment: "tracked", config: {}, ...quiet }),
      callbacks: ([
        new TerminateOnNaN(),
        new ReduceLROnPlateau({ patience: 1000 }),
        new OverfitDetector(),
        new EarlyStopping({ patience: 1000, restoreBestWeights: true }),
        new ModelCheckpoint({ filepath: "best", saveBestOnly: true, includeOptimizer: false }),
        new CSVLogger(),
        new ProgressBar({ stream: { isTTY: false, write: () => true } }),
      ] as Callback[]).map(timed),
      checkpointer: async (trainer, reason) => {
        const t0 = performance.now();
        await save(trainer, reason);
        inside.ms += performance.now() - t0;
      },
    });
    await plain.train({ epochs: 1 }); // warm-up (kernels, V8)
    await tracked.train({ epochs: 1 });
    Object.assign(inside, { ms: 0, epochs: 0, epochMs: 0 });
  },
  async epoch(isTracked) {
    const t0 = performance.now();
    await (isTracked ? tracked! : plain!).train({ epochs: 1 });
    if (isTracked) {
      inside.epochs++;
      inside.epochMs += performance.now() - t0;
    }
  },
  async teardown() {
    const per = inside.ms / inside.epochs;
    console.log(
      `tracking: time inside callbacks and resume-point saves: ${per.toFixed(1)} ms per epoch, ` +
        `${(100 * inside.ms / inside.epochMs).toFixed(2)}% of the tracked epoch time`,
    );
    await plain?.run.close();
    await tracked?.run.close();
    await Deno.remove(runsDir, { recursive: true });
  },
};

export default trackingCase;
