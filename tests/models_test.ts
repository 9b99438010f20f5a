import assert from "node:assert/strict";
import { join } from "node:path";
import * as tf from "@tensorflow/tfjs-core";
import "@tensorflow/tfjs-backend-cpu";
import * as tfl from "@tensorflow/tfjs-layers";
import {
  BOOK_CONVNET_MIN_SIZE,
  bookConvnet,
  bookConvnetMinSize,
  bookConvnetOutputSize,
} from "../core/models/book_convnet.ts";
import { kerasLayerNames } from "../core/models/layer_names.ts";
import { kerasShape, modelSummary, summaryRows } from "../core/models/summary.ts";
import { loadModel, saveModel } from "../core/run/model_io.ts";
import { evaluateModel } from "../core/infer/evaluate.ts";
import type { Split } from "../core/data/dataset.ts";
import { dirLogger } from "./helpers/dir_logger.ts";

await tf.setBackend("cpu");

Deno.test("bookConvnet at 224x224x3, 20 classes: the chapter's layers, shapes and counts", () => {
  const model = bookConvnet([224, 224, 3], 20);
  const rows = summaryRows(model)!.map((r) => [r.name, r.className, kerasShape(r.outputShape)]);
  assert.deepEqual(rows, [
    ["conv2d_1", "Conv2D", "(None, 224, 224, 32)"],
    ["conv2d_2", "Conv2D", "(None, 224, 224, 32)"],
    ["max_pooling2d_1", "MaxPooling2D", "(None, 112, 112, 32)"],
    ["conv2d_3", "Conv2D", "(None, 112, 112, 64)"],
    ["conv2d_4", "Conv2D", "(None, 112, 112, 64)"],
    ["max_pooling2d_2", "MaxPooling2D", "(None, 56, 56, 64)"],
    ["conv2d_5", "Conv2D", "(None, 56, 56, 128)"],
    ["conv2d_6", "Conv2D", "(None, 56, 56, 128)"],
    ["max_pooling2d_3", "MaxPooling2D", "(None, 28, 28, 128)"],
    ["conv2d_7", "Conv2D", "(None, 28, 28, 256)"],
    ["conv2d_8", "Conv2D", "(None, 28, 28, 256)"],
    ["global_average_pooling2d_1", "GlobalAveragePooling2D", "(None, 256)"],
    ["dense_1", "Dense", "(None, 20)"],
    ["activation_1", "Activation", "(None, 20)"],
  ]);
  const dense = model.getLayer("dense_1").getConfig() as { activation: string };
  assert.equal(dense.activation, "linear", "the softmax is its own layer");
  assert.equal(model.countParams(), 1177396);
  const text = modelSummary(model);
  assert.match(text, /^conv2d_8 \(Conv2D\) +\(None, 28, 28, 256\) +590080 +68x68 \/8$/m);
  assert.match(text, /^Total params: 1,177,396$/m);
  model.dispose();
});

Deno.test("bookConvnet takes any input from 8 pixels up (same); valid padding stays an option", () => {
  assert.equal(BOOK_CONVNET_MIN_SIZE, 8);
  assert.equal(bookConvnetMinSize("same"), 8);
  assert.equal(bookConvnetMinSize("valid"), 68);
  assert.deepEqual([7, 8, 28, 224].map((s) => bookConvnetOutputSize(s)), [0, 1, 3, 28]);
  assert.deepEqual([67, 68, 224].map((s) => bookConvnetOutputSize(s, "valid")), [0, 1, 20]);
  for (
    const [shape, out] of [[[8, 8, 3], [1, 1, 256]], [[28, 28, 1], [3, 3, 256]], [[9, 20, 3], [
      1,
      2,
      256,
    ]]] as [[number, number, number], number[]][]
  ) {
    const model = bookConvnet(shape, 10);
    assert.deepEqual(model.getLayer("conv2d_8").outputShape, [null, ...out], `${shape}`);
    const y = tf.tidy(() => model.predict(tf.ones([2, ...shape])) as tf.Tensor);
    assert.deepEqual(y.shape, [2, 10]);
    const sums = tf.tidy(() => tf.sum(y, -1));
    for (const s of sums.dataSync()) assert.ok(Math.abs(s - 1) < 1e-5, "softmax rows sum to 1");
    tf.dispose([y, sums]);
    model.dispose();
  }
  assert.throws(
    () => bookConvnet([7, 7, 3], 20),
    /Image size 7x7 is too small for the book's convnet.*use at least 8 \(--image-size 8\)/,
  );
  assert.throws(() => bookConvnet([64, 7, 3], 20), /Image size 64x7 .*at least 8/);
  const valid = bookConvnet([68, 68, 3], 20, { padding: "valid" });
  assert.deepEqual(valid.getLayer("conv2d_1").outputShape, [null, 66, 66, 32]);
  assert.deepEqual(valid.getLayer("conv2d_8").outputShape, [null, 1, 1, 256]);
  assert.equal(valid.countParams(), 1177396);
  valid.dispose();
  assert.throws(
    () => bookConvnet([67, 67, 3], 20, { padding: "valid" }),
    /67x67 is too small .*valid 3x3 convolutions.*at least 68 \(--image-size 68\)/,
  );
  assert.throws(
    () => bookConvnet([32, 32, 3], 20, { padding: "full" as "same" }),
    /padding must be "same" or "valid"/,
  );
});

Deno.test("kerasLayerNames: Keras 3 numbering by default, the book's Keras 2 numbering on request", () => {
  const k3 = kerasLayerNames();
  assert.deepEqual([k3("conv2d"), k3("conv2d"), k3("dense")], ["conv2d", "conv2d_1", "dense"]);
  const k2 = kerasLayerNames({ numberFirst: true });
  assert.deepEqual([k2("conv2d"), k2("conv2d"), k2("dense")], ["conv2d_1", "conv2d_2", "dense_1"]);
});

Deno.test("modelSummary: tfjs's table for a model that is not a chain", () => {
  const input = tfl.input({ shape: [4] });
  const a = tfl.layers.dense({ units: 3, name: "a" }).apply(input) as tfl.SymbolicTensor;
  const b = tfl.layers.dense({ units: 3, name: "b" }).apply(input) as tfl.SymbolicTensor;
  const sum = tfl.layers.add({ name: "sum" }).apply([a, b]) as tfl.SymbolicTensor;
  const model = tfl.model({ inputs: input, outputs: sum });
  assert.equal(summaryRows(model), undefined);
  const text = modelSummary(model);
  assert.match(text, /^sum \(Add\) .* a\[0\]\[0\]$/m);
  assert.match(text, /Total params: 30/);
  model.dispose();
});

Deno.test("the book's model (separate softmax Activation) saves, loads and evaluates like predict", async () => {
  const model = bookConvnet([8, 8, 1], 3);
  const dir = await Deno.makeTempDir();
  await saveModel(model, join(dir, "ckpt"));
  const again = await loadModel(join(dir, "ckpt"));
  assert.deepEqual(again.layers.map((l) => l.name), model.layers.map((l) => l.name));
  assert.equal(again.layers.at(-1)!.getClassName(), "Activation");
  const n = 10;
  const xs = Float32Array.from({ length: n * 64 }, (_, i) => (Math.sin(i * 1.7) + 1) / 2);
  const ys = Int32Array.from({ length: n }, (_, i) => i % 3);
  const split: Split = {
    size: n,
    batch(idx) {
      const ids = Array.from(idx);
      const x = new Float32Array(ids.length * 64);
      ids.forEach((id, j) => x.set(xs.subarray(id * 64, (id + 1) * 64), j * 64));
      return Promise.resolve({ x, y: Int32Array.from(ids, (id) => ys[id]) });
    },
    labels: () => Promise.resolve(ys),
  };
  const before = tf.memory().numTensors;
  const report = await evaluateModel(again, split, ["a", "b", "c"], dirLogger(dir), {
    batchSize: 4,
  });
  assert.equal(tf.memory().numTensors, before);
  const p = tf.tidy(() => model.predict(tf.tensor4d(xs, [n, 8, 8, 1])) as tf.Tensor);
  const probs = await p.data();
  p.dispose();
  let correct = 0, loss = 0;
  for (let i = 0; i < n; i++) {
    const row = Array.from(probs.slice(i * 3, i * 3 + 3));
    if (row.indexOf(Math.max(...row)) === ys[i]) correct++;
    loss -= Math.log(row[ys[i]]);
  }
  assert.equal(report.accuracy, correct / n);
  assert.ok(Math.abs(report.loss - loss / n) < 1e-5, `${report.loss} vs ${loss / n}`);
  model.dispose();
  again.dispose();
});
