import assert from "node:assert/strict";
import { join } from "node:path";
import * as tf from "@tensorflow/tfjs-core";
import "@tensorflow/tfjs-backend-cpu";
import * as tfl from "@tensorflow/tfjs-layers";
import { decode } from "fast-png";
import { Visualize } from "../callbacks/visualize.ts";
import { finalSoftmax, gradCam } from "../core/viz/grad_cam.ts";
import { bookConvnet } from "../core/models/book_convnet.ts";
import { renderFilters } from "../core/viz/filters.ts";
import { renderActivations } from "../core/viz/activations.ts";
import type { VizIndex } from "../core/run/viz_format.ts";
import { dirLogger, fakeContext } from "./helpers/dir_logger.ts";
import type { Dataset } from "../core/data/dataset.ts";

await tf.setBackend("cpu");

function tinyModel(seed = 1) {
  return tfl.sequential({
    layers: [
      tfl.layers.conv2d({
        inputShape: [8, 8, 3],
        filters: 4,
        kernelSize: 3,
        padding: "same",
        activation: "relu",
        kernelInitializer: tfl.initializers.glorotUniform({ seed }),
      }),
      tfl.layers.maxPooling2d({ poolSize: 2 }),
      tfl.layers.conv2d({
        filters: 6,
        kernelSize: 3,
        padding: "same",
        activation: "relu",
        kernelInitializer: tfl.initializers.glorotUniform({ seed: seed + 1 }),
      }),
      tfl.layers.globalAveragePooling2d({}),
      tfl.layers.dense({
        units: 3,
        activation: "softmax",
        kernelInitializer: tfl.initializers.glorotUniform({ seed: seed + 2 }),
      }),
    ],
  });
}

function images(n = 2) {
  const x = new Float32Array(n * 8 * 8 * 3);
  for (let i = 0; i < x.length; i++) x[i] = Math.sin(i * 0.37) * 0.5 + 0.5;
  return {
    x,
    y: Int32Array.from({ length: n }, (_, i) => i % 3),
    shape: [n, 8, 8, 3] as [number, number, number, number],
  };
}

Deno.test("Visualize writes filters, activations, Grad-CAM PNGs and viz/index.json; no tensor leaks", async () => {
  const dir = await Deno.makeTempDir();
  const model = tinyModel();
  const run = dirLogger(dir);
  const viz = new Visualize({ images: images(), every: 2, classNames: ["a", "b", "c"] });
  const ctx0 = fakeContext(model, run, 0, 3);
  await viz.onTrainBegin(ctx0);
  const before = tf.memory().numTensors;
  await viz.onEpochEnd(0, {}, ctx0);
  await viz.onEpochEnd(1, {}, fakeContext(model, run, 1, 3)); // not recorded (every 2)
  await viz.onEpochEnd(2, {}, fakeContext(model, run, 2, 3)); // recorded (and last)
  assert.equal(tf.memory().numTensors, before, "no tensors left behind");
  const index: VizIndex = JSON.parse(await Deno.readTextFile(join(dir, "viz/index.json")));
  assert.deepEqual(index.epochs.map((e) => e.epoch), [0, 2]);
  assert.deepEqual(index.classNames, ["a", "b", "c"]);
  assert.equal(index.images.length, 2);
  const e = index.epochs[1];
  assert.deepEqual(e.filters.map((f) => [f.layer, f.kind, f.count]), [[
    model.layers[0].name,
    "rgb",
    4,
  ], [model.layers[2].name, "grid", 6]]);
  assert.equal(e.activations.length, 4); // 2 images x 2 conv layers
  const act = e.activations.find((a) => a.layer === model.layers[2].name && a.image === 1)!;
  assert.deepEqual(act.shape, [4, 4, 6]);
  const png = decode(await Deno.readFile(join(dir, act.file)));
  assert.equal(png.width, act.cols * act.tileW + (act.cols - 1) * act.gap);
  assert.equal(png.height, act.rows * act.tileH + (act.rows - 1) * act.gap);
  assert.equal(e.gradcam.length, 2);
  const cam = decode(await Deno.readFile(join(dir, e.gradcam[0].file)));
  assert.deepEqual([cam.width, cam.height, cam.channels], [4, 4, 4]);
  assert.ok(e.gradcam[0].prob > 0 && e.gradcam[0].prob <= 1);
  assert.equal(e.gradcam[1].label, 1);
  const img = decode(await Deno.readFile(join(dir, index.images[0].file)));
  assert.deepEqual([img.width, img.height, img.channels], [8, 8, 3]);
  assert.deepEqual(run.warnings, []);
  model.dispose();
});

Deno.test("Grad-CAM of conv -> GAP -> dense softmax equals ReLU(sum_k w_kc A_k) / max (CAM)", async () => {
  const model = tfl.sequential({
    layers: [
      tfl.layers.conv2d({
        inputShape: [6, 6, 3],
        filters: 5,
        kernelSize: 3,
        activation: "relu",
        kernelInitializer: tfl.initializers.glorotUniform({ seed: 7 }),
      }),
      tfl.layers.globalAveragePooling2d({}),
      tfl.layers.dense({
        units: 3,
        activation: "softmax",
        kernelInitializer: tfl.initializers.glorotUniform({ seed: 8 }),
      }),
    ],
  });
  const x = tf.randomUniform([2, 6, 6, 3], 0, 1, "float32", 3);
  const cam = await gradCam(model, x);
  const a = tf.tidy(
    () => (tfl.model({
      inputs: model.inputs,
      outputs: model.layers[0].output as tfl.SymbolicTensor,
    }).predict(x) as tf.Tensor),
  );
  const [h, w, k] = a.shape.slice(1) as number[];
  const ad = await a.data();
  const wd = await model.layers[2].getWeights()[0].data(); // [k, classes]
  const probs = await (model.predict(x) as tf.Tensor).data();
  for (let i = 0; i < 2; i++) {
    const p = Array.from(probs.slice(i * 3, i * 3 + 3));
    const c = p.indexOf(Math.max(...p));
    assert.equal(cam.predicted[i], c);
    assert.ok(Math.abs(cam.probs[i] - p[c]) < 1e-5);
    const expected = new Float32Array(h * w);
    for (let q = 0; q < h * w; q++) {
      let s = 0;
      for (let ch = 0; ch < k; ch++) s += ad[(i * h * w + q) * k + ch] * wd[ch * 3 + c];
      expected[q] = Math.max(0, s);
    }
    const mx = Math.max(...expected) || 1;
    for (let q = 0; q < h * w; q++) {
      assert.ok(Math.abs(cam.heatmaps[i][q] - expected[q] / mx) < 1e-4, `pixel ${q}`);
    }
  }
  tf.dispose([x, a]);
  model.dispose();
});

Deno.test("Grad-CAM removes a separate softmax Activation as it removes a Dense softmax", async () => {
  const conv = () =>
    tfl.layers.conv2d({
      inputShape: [6, 6, 3],
      filters: 5,
      kernelSize: 3,
      activation: "relu",
    });
  const fused = tfl.sequential({
    layers: [
      conv(),
      tfl.layers.globalAveragePooling2d({}),
      tfl.layers.dense({ units: 3, activation: "softmax" }),
    ],
  });
  const separate = tfl.sequential({
    layers: [
      conv(),
      tfl.layers.globalAveragePooling2d({}),
      tfl.layers.dense({ units: 3 }),
      tfl.layers.activation({ activation: "softmax" }),
    ],
  });
  const withSoftmaxLayer = tfl.sequential({
    layers: [
      conv(),
      tfl.layers.globalAveragePooling2d({}),
      tfl.layers.dense({ units: 3 }),
      tfl.layers.softmax({}),
    ],
  });
  const w = fused.getWeights();
  separate.setWeights(w);
  withSoftmaxLayer.setWeights(w);
  assert.equal(finalSoftmax(fused.layers.at(-1)), "dense");
  assert.equal(finalSoftmax(separate.layers.at(-1)), "layer");
  assert.equal(finalSoftmax(withSoftmaxLayer.layers.at(-1)), "layer");
  assert.equal(finalSoftmax(separate.layers.at(-2)), undefined);
  const x = tf.randomUniform([3, 6, 6, 3], 0, 1, "float32", 5);
  const before = tf.memory().numTensors;
  const a = await gradCam(fused, x);
  // Asking for a class other than the predicted one makes the softmax's gradient (which mixes
  // every class's weights) differ from the logit's.
  const other = a.predicted.map((c) => (c + 1) % 3);
  const ref = await gradCam(fused, x, { classes: other });
  for (const m of [separate, withSoftmaxLayer]) {
    const b = await gradCam(m, x, { classes: other });
    assert.deepEqual(b.predicted, ref.predicted);
    b.probs.forEach((p, i) => assert.ok(Math.abs(p - ref.probs[i]) < 1e-6, "probabilities"));
    b.heatmaps.forEach((h, i) =>
      h.forEach((v, q) => assert.ok(Math.abs(v - ref.heatmaps[i][q]) < 1e-5, `image ${i} px ${q}`))
    );
  }
  assert.equal(tf.memory().numTensors, before, "no tensors left behind");
  tf.dispose(x);
  for (const m of [fused, separate, withSoftmaxLayer]) m.dispose();
});

Deno.test("Visualize records filters, activations and Grad-CAM of the book's model", async () => {
  const dir = await Deno.makeTempDir();
  const model = bookConvnet([8, 8, 3], 3);
  const run = dirLogger(dir);
  const viz = new Visualize({ images: images(), every: 1, classNames: ["a", "b", "c"] });
  const ctx = fakeContext(model, run, 0, 1);
  await viz.onTrainBegin(ctx);
  const before = tf.memory().numTensors;
  await viz.onEpochEnd(0, {}, ctx);
  assert.equal(tf.memory().numTensors, before, "no tensors left behind");
  const index: VizIndex = JSON.parse(await Deno.readTextFile(join(dir, "viz/index.json")));
  const e = index.epochs[0];
  assert.equal(e.filters.length, 8);
  assert.equal(e.gradcam.length, 2);
  assert.equal(e.gradcam[0].layer, "conv2d_8");
  const probs = tf.tidy(() => model.predict(tf.tensor4d(images().x, images().shape)) as tf.Tensor);
  const p = await probs.data();
  probs.dispose();
  for (const [i, g] of e.gradcam.entries()) {
    const row = Array.from(p.slice(i * 3, i * 3 + 3));
    assert.equal(g.predicted, row.indexOf(Math.max(...row)));
    assert.ok(Math.abs(g.prob - Math.max(...row)) < 1e-5, "the softmax probability");
  }
  assert.deepEqual(run.warnings, []);
  model.dispose();
});

Deno.test("renderFilters and renderActivations lay out tiles and check shapes", () => {
  const rgb = renderFilters(Float32Array.from({ length: 3 * 3 * 3 * 10 }, (_, i) => i), [
    3,
    3,
    3,
    10,
  ], { cols: 4 });
  assert.deepEqual([rgb.kind, rgb.cols, rgb.rows, rgb.width, rgb.height], ["rgb", 4, 3, 15, 11]);
  const grid = renderFilters(new Float32Array(3 * 3 * 16 * 2), [3, 3, 16, 2], { maxInputs: 4 });
  assert.deepEqual([grid.kind, grid.tileW, grid.count], ["grid", 15, 2]);
  assert.throws(() => renderFilters(new Float32Array(5), [3, 3, 3, 1]), /does not match/);
  const act = renderActivations(
    Float32Array.from({ length: 4 * 4 * 40 }, Math.random),
    [4, 4, 40],
    { maxChannels: 10 },
  );
  assert.equal(act.count, 10);
  assert.throws(() => renderActivations(new Float32Array(3), [4, 4, 1]), /do not match/);
});

Deno.test("Visualize reads fixed images from a Dataset's val split and validates options", async () => {
  const imgs = images(6);
  const split = {
    size: 6,
    batch(idx: ArrayLike<number>) {
      const ids = Array.from(idx);
      const x = new Float32Array(ids.length * 192);
      ids.forEach((id, j) => x.set(imgs.x.subarray(id * 192, (id + 1) * 192), j * 192));
      return Promise.resolve({ x, y: Int32Array.from(ids, (id) => imgs.y[id]) });
    },
    labels: () => Promise.resolve(imgs.y),
  };
  const dataset: Dataset = {
    name: "tiny",
    classNames: ["a", "b", "c"],
    imageShape: [8, 8, 3],
    train: split,
    val: split,
    denormalize: (x) => Uint8ClampedArray.from(x, (v) => v * 255),
  };
  const dir = await Deno.makeTempDir();
  const model = tinyModel();
  const viz = new Visualize({ dataset, count: 3 });
  const ctx = fakeContext(model, dirLogger(dir), 0, 1);
  await viz.onTrainBegin(ctx);
  await viz.onEpochEnd(0, {}, ctx);
  const index: VizIndex = JSON.parse(await Deno.readTextFile(join(dir, "viz/index.json")));
  assert.deepEqual(index.images.map((i) => i.label), [0, 2, 1]); // indices 0, 2, 4
  assert.deepEqual(index.classNames, ["a", "b", "c"]);
  await assert.rejects(
    new Visualize({}).onTrainBegin(fakeContext(model, dirLogger(dir), 0, 1)),
    /pass `images`/,
  );
  assert.throws(
    () => new Visualize({ images: images(), every: 0 }),
    /every must be a positive integer/,
  );
  assert.throws(
    () => new Visualize({ images: { ...images(), y: new Int32Array(1) } }),
    /expected n\*h\*w\*c values and n labels/,
  );
  model.dispose();
});
