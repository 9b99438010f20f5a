import assert from "node:assert/strict";
import { isAbsolute, join } from "node:path";
import * as tf from "@tensorflow/tfjs-core";
import "@tensorflow/tfjs-backend-cpu";
import * as tfl from "@tensorflow/tfjs-layers";
import { decode } from "fast-png";
import { evaluateModel } from "../core/infer/evaluate.ts";
import {
  type EvaluateArgs,
  latestCheckpoint,
  parseEvaluateArgs,
  runEvaluate,
} from "../cli/evaluate.ts";
import type { EvaluationReport } from "../core/run/evaluation_format.ts";
import type { Split } from "../core/data/dataset.ts";
import { createDashboardApp } from "../dashboard/mod.ts";
import { dirLogger } from "./helpers/dir_logger.ts";
import { saveModel } from "../core/run/model_io.ts";
import { writeFakeRun } from "./helpers/fake_run.ts";

await tf.setBackend("cpu");

const N = 20;
function makeSplit(): Split {
  const x = Float32Array.from({ length: N * 8 * 8 * 3 }, (_, i) => (Math.sin(i * 1.7) + 1) / 2);
  const y = Int32Array.from({ length: N }, (_, i) => i % 3);
  return {
    size: N,
    batch(idx) {
      const ids = Array.from(idx);
      const out = new Float32Array(ids.length * 192);
      ids.forEach((id, j) => out.set(x.subarray(id * 192, (id + 1) * 192), j * 192));
      return Promise.resolve({ x: out, y: Int32Array.from(ids, (id) => y[id]) });
    },
    labels: () => Promise.resolve(y),
  };
}

function tinyModel(seed = 3) {
  return tfl.sequential({
    layers: [
      tfl.layers.conv2d({
        inputShape: [8, 8, 3],
        filters: 4,
        kernelSize: 3,
        activation: "relu",
        kernelInitializer: tfl.initializers.glorotUniform({ seed }),
      }),
      tfl.layers.globalAveragePooling2d({}),
      tfl.layers.dense({
        units: 3,
        activation: "softmax",
        kernelInitializer: tfl.initializers.glorotUniform({ seed: seed + 1 }),
        biasInitializer: tfl.initializers.constant({ value: 0.1 }),
      }),
    ],
  });
}

Deno.test("evaluateModel: accuracy, per-class, confusion and wrong images match model.predict", async () => {
  const model = tinyModel();
  const split = makeSplit();
  const dir = await Deno.makeTempDir();
  const before = tf.memory().numTensors;
  const report = await evaluateModel(model, split, ["a", "b", "c"], dirLogger(dir), {
    batchSize: 7,
    topWrong: 3,
    denormalize: (x) => Uint8ClampedArray.from(x, (v) => v * 255),
  });
  assert.equal(tf.memory().numTensors, before);
  const all = await split.batch(Array.from({ length: N }, (_, i) => i));
  const probs = tf.tidy(() => model.predict(tf.tensor4d(all.x, [N, 8, 8, 3])) as tf.Tensor);
  const p = await probs.data();
  probs.dispose();
  const confusion = [[0, 0, 0], [0, 0, 0], [0, 0, 0]];
  let correct = 0, loss = 0;
  const wrongProbs: number[] = [];
  for (let i = 0; i < N; i++) {
    const row = Array.from(p.slice(i * 3, i * 3 + 3));
    const pred = row.indexOf(Math.max(...row));
    confusion[all.y[i]][pred]++;
    loss -= Math.log(row[all.y[i]]);
    if (pred === all.y[i]) correct++;
    else wrongProbs.push(row[pred]);
  }
  assert.deepEqual(report.confusion, confusion);
  assert.equal(report.accuracy, correct / N);
  assert.ok(Math.abs(report.loss - loss / N) < 1e-5);
  assert.deepEqual(report.perClass.map((c) => c.count), [7, 7, 6]);
  assert.equal(report.perClass[1].accuracy, confusion[1][1] / 7);
  wrongProbs.sort((a, b) => b - a);
  assert.deepEqual(
    report.wrong.map((w) => w.prob),
    wrongProbs.slice(0, 3).map((v) => Math.fround(v)),
  );
  if (report.wrong.length > 0) {
    const png = decode(await Deno.readFile(join(dir, report.wrong[0].file!)));
    assert.deepEqual([png.width, png.height], [8, 8]);
  }
  const saved: EvaluationReport = JSON.parse(await Deno.readTextFile(join(dir, "evaluation.json")));
  assert.deepEqual(saved.confusion, confusion);
  await assert.rejects(
    () => evaluateModel(model, split, ["a", "b"], dirLogger(dir)),
    /outputs 3 classes, classNames has 2/,
  );
  model.dispose();
});

async function saveCheckpoint(model: tfl.LayersModel, dir: string) {
  await Deno.mkdir(dir, { recursive: true });
  await model.save(tf.io.withSaveHandler(async (a) => {
    await Deno.writeFile(join(dir, "weights.bin"), new Uint8Array(a.weightData as ArrayBuffer));
    await Deno.writeTextFile(
      join(dir, "model.json"),
      JSON.stringify({
        modelTopology: a.modelTopology,
        format: "layers-model",
        generatedBy: "test",
        convertedBy: null,
        weightsManifest: [{ paths: ["weights.bin"], weights: a.weightSpecs }],
      }),
    );
    return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: "JSON" } };
  }));
}

function evalArgs(argv: string[]): EvaluateArgs {
  return parseEvaluateArgs(argv);
}

Deno.test("deno task evaluate: latest checkpoint + experiment dataset -> evaluation.json served by the API", async () => {
  const root = await Deno.makeTempDir();
  const runDir = await writeFakeRun(root, { id: "tiny-1", experiment: "tiny" });
  const model = tinyModel();
  const other = tinyModel(11);
  await saveCheckpoint(other, join(runDir, "checkpoints", "epoch-01"));
  other.dispose();
  await new Promise((ok) => setTimeout(ok, 20));
  await saveCheckpoint(model, join(runDir, "checkpoints", "best"));
  assert.equal(await latestCheckpoint(runDir), "best");
  const expFile = join(root, "tiny_experiment.js");
  await Deno.writeTextFile(
    expFile,
    `
    const N = 20;
    const x = Float32Array.from({ length: N * 192 }, (_, i) => (Math.sin(i * 1.7) + 1) / 2);
    const y = Int32Array.from({ length: N }, (_, i) => i % 3);
    const split = {
      size: N,
      batch(idx) {
        const ids = Array.from(idx);
        const out = new Float32Array(ids.length * 192);
        ids.forEach((id, j) => out.set(x.subarray(id * 192, (id + 1) * 192), j * 192));
        return Promise.resolve({ x: out, y: Int32Array.from(ids, (id) => y[id]) });
      },
      labels: () => Promise.resolve(y),
    };
    export default {
      name: "tiny", description: "test", defaults: { epochs: 1, batchSize: 4, learningRate: 0.001, imageSize: 8, seed: 1 },
      dataset: async (opts) => ({ name: "tiny-" + opts.imageSize, classNames: ["a", "b", "c"], imageShape: [8, 8, 3],
        train: split, test: split, denormalize: (v) => Uint8ClampedArray.from(v, (t) => t * 255) }),
      model() { throw new Error("not used"); },
    };`,
  );
  const file = await runEvaluate(evalArgs(["--run", runDir, "--experiment", expFile]));
  const report: EvaluationReport = JSON.parse(await Deno.readTextFile(file));
  assert.equal(report.checkpoint, "best");
  assert.equal(report.split, "test");
  const direct = await evaluateModel(
    model,
    makeSplit(),
    ["a", "b", "c"],
    dirLogger(await Deno.makeTempDir()),
  );
  assert.deepEqual(
    report.confusion,
    direct.confusion,
    "the loaded checkpoint has the saved weights",
  );
  assert.ok(Math.abs(report.loss - direct.loss) < 1e-6);
  const older = JSON.parse(
    await Deno.readTextFile(
      await runEvaluate(
        evalArgs(["--run", runDir, "--experiment", expFile, "--checkpoint", "epoch-01"]),
      ),
    ),
  );
  assert.ok(Math.abs(older.loss - direct.loss) > 1e-4, "--checkpoint picks another checkpoint");
  const app = createDashboardApp({ runsDir: root });
  const api = await (await app.request("/api/runs/tiny-1/evaluation")).json();
  assert.equal(api.accuracy, report.accuracy);
  if (report.wrong[0]?.file) {
    assert.equal((await app.request(`/api/runs/tiny-1/files/${report.wrong[0].file}`)).status, 200);
  }
  await assert.rejects(
    () => runEvaluate(evalArgs(["--run", runDir, "--experiment", "nope"])),
    /Unknown experiment "nope"/,
  );
  await assert.rejects(
    () => runEvaluate(evalArgs(["--run", runDir, "--experiment", expFile, "--checkpoint", "nope"])),
    /checkpoint "nope" not found: .*nope has no model\.json/,
  );
  assert.throws(() => parseEvaluateArgs([]), /--run RUN is required/);
  // A bare run id is looked up in --runs; the report's path is shown relative, never absolute.
  const byId = await runEvaluate(
    evalArgs(["--run", "tiny-1", "--runs", root, "--experiment", expFile]),
  );
  assert.ok(!isAbsolute(byId), byId);
  assert.equal(JSON.parse(await Deno.readTextFile(byId)).checkpoint, "best");
  await assert.rejects(
    () => runEvaluate(evalArgs(["--run", "tiny-2", "--runs", root, "--experiment", expFile])),
    (err: Error) =>
      /--run tiny-2: no run tiny-2 in /.test(err.message) && !err.message.includes(` ${root}`),
  );
  assert.throws(
    () => parseEvaluateArgs(["--run", "x", "--split", "train"]),
    /--split must be one of test, val/,
  );
  await assert.rejects(() => latestCheckpoint(root), /has no checkpoint/);
  model.dispose();
});

Deno.test("deno task evaluate: a weights-only checkpoint loads into the experiment's model", async () => {
  const root = await Deno.makeTempDir();
  const runDir = await writeFakeRun(root, { id: "tiny-2", experiment: "tiny" });
  const model = tinyModel(5);
  await saveModel(model, join(runDir, "checkpoints", "weights"), { weightsOnly: true });
  const expFile = join(root, "tiny_weights_experiment.ts");
  await Deno.writeTextFile(
    expFile,
    `import * as tfl from "@tensorflow/tfjs-layers";
    const N = 20;
    const x = Float32Array.from({ length: N * 192 }, (_, i) => (Math.sin(i * 1.7) + 1) / 2);
    const y = Int32Array.from({ length: N }, (_, i) => i % 3);
    const split = {
      size: N,
      batch(idx: ArrayLike<number>) {
        const ids = Array.from(idx);
        const out = new Float32Array(ids.length * 192);
        ids.forEach((id, j) => out.set(x.subarray(id * 192, (id + 1) * 192), j * 192));
        return Promise.resolve({ x: out, y: Int32Array.from(ids, (id) => y[id]) });
      },
      labels: () => Promise.resolve(y),
    };
    export default {
      name: "tiny", description: "test", defaults: { epochs: 1, batchSize: 4, learningRate: 0.001, imageSize: 8, seed: 1 },
      dataset: async () => ({ name: "tiny", classNames: ["a", "b", "c"], imageShape: [8, 8, 3], train: split, test: split }),
      model: (shape: [number, number, number], classes: number) => tfl.sequential({ layers: [
        tfl.layers.conv2d({ inputShape: shape, filters: 4, kernelSize: 3, activation: "relu" }),
        tfl.layers.globalAveragePooling2d({}),
        tfl.layers.dense({ units: classes, activation: "softmax" }),
      ] }),
    };`,
  );
  // The weights-only folder is the only checkpoint: it is also what evaluate picks by default.
  assert.equal(await latestCheckpoint(runDir), "weights");
  const file = await runEvaluate(evalArgs(["--run", runDir, "--experiment", expFile]));
  const report: EvaluationReport = JSON.parse(await Deno.readTextFile(file));
  const direct = await evaluateModel(
    model,
    makeSplit(),
    ["a", "b", "c"],
    dirLogger(await Deno.makeTempDir()),
  );
  assert.equal(report.checkpoint, "weights");
  assert.deepEqual(report.confusion, direct.confusion);
  assert.ok(Math.abs(report.loss - direct.loss) < 1e-6, `${report.loss} vs ${direct.loss}`);
  model.dispose();
});
