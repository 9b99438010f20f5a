/**
 * A plain tfjs `model.fit` tracked with `run.fitCallback()`, with convdeck's EarlyStopping and
 * ReduceLROnPlateau running inside it, and the model saved so evaluate/predict work.
 * `deno run -A examples/fit_callback.ts --runs runs`
 *
 * @module
 */
import { parseArgs } from "node:util";
import * as tf from "@tensorflow/tfjs-core";
import * as tfl from "@tensorflow/tfjs-layers";
import "@tensorflow/tfjs-backend-cpu";
import { init } from "../track/mod.ts";
import { EarlyStopping, ReduceLROnPlateau } from "../callbacks/mod.ts";

const { values } = parseArgs({
  options: { runs: { type: "string", default: "runs" }, epochs: { type: "string", default: "8" } },
});
await tf.setBackend("cpu");
const config = { hidden: 16, lr: 0.05, data: { n: 256, noise: 0.1, augment: false } };
const run = await init({
  runs: values.runs,
  name: "xor-mlp",
  tags: ["fit"],
  config,
  note: "tfjs model.fit with the tracking callback",
});

// XOR of two noisy bits: class 1 when they differ.
const [x, y] = tf.tidy(() => {
  const a = tf.round(tf.randomUniform([config.data.n, 2], 0, 1, "float32", 1));
  const labels = tf.cast(
    tf.notEqual(tf.slice(a, [0, 0], [-1, 1]), tf.slice(a, [0, 1], [-1, 1])),
    "float32",
  );
  const noisy = tf.add(a, tf.randomNormal([config.data.n, 2], 0, config.data.noise, "float32", 2));
  return [noisy, tf.concat([tf.sub(1, labels), labels], 1)];
});
const model = tfl.sequential({
  layers: [
    tfl.layers.dense({ inputShape: [2], units: config.hidden, activation: "relu" }),
    tfl.layers.dense({ units: 2, activation: "softmax" }),
  ],
});
model.compile({
  optimizer: tf.train.adam(config.lr),
  loss: "categoricalCrossentropy",
  metrics: ["accuracy"],
});
await model.fit(x, y, {
  epochs: Number(values.epochs),
  batchSize: 32,
  validationSplit: 0.25,
  verbose: 0,
  callbacks: run.fitCallback({
    model,
    batches: true,
    finish: false,
    callbacks: [
      new EarlyStopping({ monitor: "val_loss", patience: 3 }),
      new ReduceLROnPlateau({ monitor: "val_loss", patience: 2, factor: 0.5 }),
    ],
  }),
});
await run.saveModel(model, { classes: ["same", "different"] });
await run.finish();
tf.dispose([x, y]);
model.optimizer.dispose();
model.dispose();
console.log(
  `run ${run.id}: ${run.epoch} epochs, ${run.step} steps; tensors left ${tf.memory().numTensors}`,
);
