/**
 * A custom tfjs training loop (`tf.variableGrads`) tracked with `log`: a linear regression,
 * one step record per batch and one epoch record per epoch.
 * `deno run -A examples/custom_loop.ts --runs runs`
 *
 * @module
 */
import { parseArgs } from "node:util";
import * as tf from "@tensorflow/tfjs-core";
import "@tensorflow/tfjs-backend-cpu";
import "@tensorflow/tfjs-layers"; // registers the gradients of every op
import { init } from "../track/mod.ts";

const { values } = parseArgs({
  options: { runs: { type: "string", default: "runs" }, epochs: { type: "string", default: "5" } },
});
await tf.setBackend("cpu");
const config = { lr: 0.1, batch: 16, model: { kind: "linear", features: 3 } };
const run = await init({ runs: values.runs, name: "linreg", config, tags: ["custom-loop"] });

const trueW = tf.tensor2d([[2], [-1], [0.5]]);
const xs = tf.randomNormal([128, 3], 0, 1, "float32", 7);
const ys = tf.tidy(() => tf.add(tf.matMul(xs, trueW), 0.3));
const w = tf.tidy(() => tf.variable(tf.zeros([3, 1])));
const b = tf.tidy(() => tf.variable(tf.scalar(0)));
const optimizer = tf.train.sgd(config.lr);
const mse = (x: tf.Tensor2D, y: tf.Tensor) =>
  tf.tidy(() => tf.mean(tf.square(tf.sub(tf.add(tf.matMul(x, w), b), y))) as tf.Scalar);

for (let epoch = run.epoch; epoch < Number(values.epochs); epoch++) {
  for (let i = 0; i < 128; i += config.batch) {
    const loss = tf.tidy(() => {
      const x = tf.slice(xs, [i, 0], [config.batch, 3]) as tf.Tensor2D;
      const y = tf.slice(ys, [i, 0], [config.batch, 1]);
      const { value, grads } = tf.variableGrads(() => mse(x, y));
      optimizer.applyGradients(grads);
      return value;
    });
    run.log({ loss: (await loss.data())[0] });
    loss.dispose();
  }
  const full = mse(xs as tf.Tensor2D, ys);
  run.log({ val_loss: (await full.data())[0], lr: config.lr }, { epoch });
  full.dispose();
}
await run.finish();
tf.dispose([trueW, xs, ys, w, b]);
optimizer.dispose();
console.log(`run ${run.id}: ${run.epoch} epochs; tensors left ${tf.memory().numTensors}`);
