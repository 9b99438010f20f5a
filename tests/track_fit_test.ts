import assert from "node:assert/strict";
import { join } from "node:path";
import * as tf from "@tensorflow/tfjs-core";
import * as tfl from "@tensorflow/tfjs-layers";
import "@tensorflow/tfjs-backend-cpu";
import { init } from "../track/mod.ts";
import { CSVLogger, EarlyStopping, ModelCheckpoint, ReduceLROnPlateau } from "../callbacks/mod.ts";
import { readEvents, readMetrics, readRunInfo } from "../core/run/reader.ts";
import { loadModel } from "../core/run/model_io.ts";
import { encode } from "fast-png";

Deno.test("convdeck callbacks run inside a plain tfjs model.fit through fitCallback; no tensor leaks", async () => {
  await tf.setBackend("cpu");
  const before = tf.memory().numTensors;
  const runs = await Deno.makeTempDir();
  const run = await init({ runs, name: "fit", config: { units: 4 }, handleExit: false });
  const x = tf.randomNormal([64, 3], 0, 1, "float32", 3);
  const y = tf.tidy(() => tf.oneHot(tf.cast(tf.greater(tf.sum(x, 1), 0), "int32"), 2));
  const model = tfl.sequential({
    layers: [
      tfl.layers.dense({ inputShape: [3], units: 4, activation: "relu" }),
      tfl.layers.dense({ units: 2, activation: "softmax" }),
    ],
  });
  model.compile({
    optimizer: tf.train.adam(0.01),
    loss: "categoricalCrossentropy",
    metrics: ["accuracy"],
  });
  const history = await model.fit(x, y, {
    epochs: 20,
    batchSize: 16,
    validationSplit: 0.25,
    verbose: 0,
    callbacks: run.fitCallback({
      model,
      batches: true,
      callbacks: [
        // minDelta 10: nothing ever improves, so the LR halves each epoch and training stops.
        new ReduceLROnPlateau({ monitor: "val_loss", patience: 1, factor: 0.5, minDelta: 10 }),
        new EarlyStopping({ monitor: "val_loss", patience: 3, minDelta: 10 }),
        new ModelCheckpoint({ filepath: "last" }),
        new CSVLogger(),
      ],
    }),
  });
  assert.ok(
    history.epoch.length < 20,
    `EarlyStopping did not stop the fit (${history.epoch.length} epochs)`,
  );
  const info = await readRunInfo(run.dir);
  assert.equal(info.status, "stopped");
  assert.match(info.stopReason ?? "", /EarlyStopping/);
  const epochs = (await readMetrics(run.dir)).records.filter((r) => r.batch === undefined);
  assert.equal(epochs.length, history.epoch.length);
  assert.equal(info.steps, history.epoch.length * 3); // 48 training examples / 16
  const lrs = epochs.map((r) => r.lr!);
  assert.ok(lrs.at(-1)! < lrs[0], `lr never went down: ${lrs}`);
  for (const k of ["rss_mb", "cpu_percent", "images_per_s"]) {
    assert.equal(typeof epochs[0][k], "number", k);
  }
  const types = (await readEvents(run.dir)).records.map((e) => e.type);
  for (const t of ["train_begin", "lr_changed", "early_stopped", "checkpoint_saved", "train_end"]) {
    assert.ok(types.includes(t), `no ${t} event (${types})`);
  }
  const csv = await Deno.readTextFile(join(run.dir, "training.csv"));
  assert.equal(csv.trim().split("\n").length, history.epoch.length + 1);
  const saved = await loadModel(join(run.dir, "checkpoints", "last"));
  assert.equal(saved.layers.length, 2);
  saved.dispose();
  tf.dispose([x, y]);
  model.optimizer.dispose();
  model.dispose();
  assert.equal(tf.memory().numTensors, before, "tensors leaked");
});

Deno.test("fitCallback works in model.fitDataset: epochs continue after a resume, no tensor leaks", async () => {
  await tf.setBackend("cpu");
  const before = tf.memory().numTensors;
  const runs = await Deno.makeTempDir();
  const model = tfl.sequential({ layers: [tfl.layers.dense({ inputShape: [2], units: 1 })] });
  model.compile({ optimizer: tf.train.sgd(0.1), loss: "meanSquaredError" });
  // A minimal tf.data-style dataset: 2 batches per epoch of fresh tensors (fitDataset disposes them).
  const dataset = {
    iterator: () => {
      let i = 0;
      return Promise.resolve({
        next: () =>
          Promise.resolve(
            i++ < 2
              ? { done: false, value: { xs: tf.ones([4, 2]), ys: tf.zeros([4, 1]) } }
              : { done: true, value: null },
          ),
      });
    },
  };
  const first = await init({ runs, config: {}, handleExit: false });
  await model.fitDataset(dataset as never, {
    epochs: 2,
    verbose: 0,
    callbacks: first.fitCallback({ model }),
  });
  assert.equal(first.finished, true);
  const again = await init({ runs, resume: first.id, handleExit: false });
  await model.fitDataset(dataset as never, {
    epochs: 1,
    verbose: 0,
    callbacks: again.fitCallback({ model }),
  });
  const epochs = (await readMetrics(first.dir)).records.filter((r) => r.batch === undefined);
  assert.deepEqual(epochs.map((r) => [r.epoch, r.step]), [[0, 2], [1, 4], [2, 6]]);
  assert.equal((await readRunInfo(first.dir)).status, "completed");
  model.optimizer.dispose();
  model.dispose();
  assert.equal(tf.memory().numTensors, before, "tensors leaked");
});

Deno.test("run.saveModel writes a checkpoint that deno task predict uses", async () => {
  await tf.setBackend("cpu");
  const before = tf.memory().numTensors;
  const runs = await Deno.makeTempDir();
  const run = await init({ runs, name: "tiny-conv", config: {}, handleExit: false });
  const model = tfl.sequential({
    layers: [
      tfl.layers.conv2d({ inputShape: [8, 8, 3], filters: 2, kernelSize: 3, activation: "relu" }),
      tfl.layers.flatten(),
      tfl.layers.dense({ units: 2, activation: "softmax" }),
    ],
  });
  await run.saveModel(model, { classes: ["cat", "dog"], input: [8, 8, 3] });
  await run.finish();
  model.dispose();
  assert.equal(tf.memory().numTensors, before, "tensors leaked");
  const img = join(runs, "x.png");
  await Deno.writeFile(
    img,
    encode({ width: 8, height: 8, data: new Uint8Array(192).fill(90), channels: 3, depth: 8 }),
  );
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["task", "-q", "predict", "--run", run.dir, img, "--json"],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr);
  assert.equal(out.code, 0, text);
  assert.match(text, /"(cat|dog)"/);
});
