import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs-core";
import * as tfl from "@tensorflow/tfjs-layers";
import {
  loadModel,
  loadOptimizer,
  loadWeights,
  readState,
  saveModel,
  saveOptimizer,
  sha256Hex,
} from "../core/run/model_io.ts";
import { adamStep, predictProbe, tinyModel } from "./helpers/fake_context.ts";

async function tmp(): Promise<string> {
  return await Deno.makeTempDir({ prefix: "convdeck-io-" });
}

Deno.test("saveModel/loadModel: round trip predicts identically, standard files, no leaks", async () => {
  const root = await tmp();
  const model = await tinyModel(3);
  const before = tf.memory().numTensors;
  const saved = await saveModel(model, `${root}/a/b/ckpt`, { state: { epoch: 4 } });
  assert.equal(tf.memory().numTensors, before);
  assert.deepEqual((await Array.fromAsync(Deno.readDir(`${root}/a/b`))).map((e) => e.name), [
    "ckpt",
  ]);
  const names = (await Array.fromAsync(Deno.readDir(saved.dir))).map((e) => e.name).sort();
  assert.deepEqual(names, ["model.json", "state.json", "weights.bin"]);
  const json = JSON.parse(await Deno.readTextFile(`${saved.dir}/model.json`));
  assert.equal(json.format, "layers-model");
  assert.deepEqual(json.weightsManifest[0].paths, ["weights.bin"]);
  assert.equal(
    json.userDefinedMetadata.convdeck.weightsSha256,
    await sha256Hex(await Deno.readFile(`${saved.dir}/weights.bin`)),
  );
  assert.equal(saved.weightsBytes, (4 * 5 + 5 + 5 * 3 + 3) * 4);

  const loaded = await loadModel(saved.dir);
  assert.deepEqual(predictProbe(loaded), predictProbe(model));
  assert.deepEqual(await readState(saved.dir), { epoch: 4 });
  loaded.dispose();
  model.dispose();
  await Deno.remove(root, { recursive: true });
});

Deno.test("saveModel: tfjs's own http loader (tf.loadLayersModel) reads the checkpoint", async () => {
  const root = await tmp();
  const model = await tinyModel(5);
  const { dir } = await saveModel(model, `${root}/ckpt`);
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (req) => {
    const name = new URL(req.url).pathname.slice(1);
    return new Response(await Deno.readFile(`${dir}/${name}`));
  });
  try {
    const loaded = await tfl.loadLayersModel(`http://127.0.0.1:${server.addr.port}/model.json`);
    assert.deepEqual(predictProbe(loaded), predictProbe(model));
    loaded.dispose();
  } finally {
    await server.shutdown();
  }
  model.dispose();
  await Deno.remove(root, { recursive: true });
});

Deno.test("loadModel: checksum mismatch is a clear error", async () => {
  const root = await tmp();
  const model = await tinyModel();
  const { dir } = await saveModel(model, `${root}/ckpt`);
  const bytes = await Deno.readFile(`${dir}/weights.bin`);
  bytes[7] ^= 0xff;
  await Deno.writeFile(`${dir}/weights.bin`, bytes);
  await assert.rejects(
    loadModel(dir),
    /checksum mismatch for .*weights\.bin: expected sha256 [0-9a-f]{64}, got [0-9a-f]{64}\. The checkpoint is corrupt/,
  );
  await assert.rejects(loadWeights(model, dir), /checksum mismatch/);
  await assert.rejects(
    loadModel(`${root}/nope`),
    /model\.json not found: .*nope is not a checkpoint directory/,
  );
  model.dispose();
  await Deno.remove(root, { recursive: true });
});

Deno.test("saveModel weightsOnly: loadWeights into the same architecture; loadModel explains", async () => {
  const root = await tmp();
  const model = await tinyModel(7);
  const { dir } = await saveModel(model, `${root}/w`, { weightsOnly: true });
  const json = JSON.parse(await Deno.readTextFile(`${dir}/model.json`));
  assert.equal(json.modelTopology, undefined);
  await assert.rejects(
    loadModel(dir),
    /holds weights only \(saveWeightsOnly\); build the model in code and call loadWeights/,
  );
  const fresh = await tinyModel(99);
  assert.notDeepEqual(predictProbe(fresh), predictProbe(model));
  await loadWeights(fresh, dir);
  assert.deepEqual(predictProbe(fresh), predictProbe(model));
  const other = tfl.sequential({ layers: [tfl.layers.dense({ units: 2, inputShape: [4] })] });
  await assert.rejects(loadWeights(other, dir), /holds 4 weight tensors but the model has 2/);
  for (const m of [model, fresh, other]) m.dispose();
  await Deno.remove(root, { recursive: true });
});

Deno.test("saveModel: overwriting replaces the directory whole, leaves no temp dirs", async () => {
  const root = await tmp();
  const a = await tinyModel(1);
  const b = await tinyModel(2);
  await saveModel(a, `${root}/best`, { state: { v: 1 } });
  await saveModel(b, `${root}/best`);
  assert.deepEqual((await Array.fromAsync(Deno.readDir(root))).map((e) => e.name), ["best"]);
  assert.equal(await readState(`${root}/best`), undefined); // old state.json is gone
  const loaded = await loadModel(`${root}/best`);
  assert.deepEqual(predictProbe(loaded), predictProbe(b));
  for (const m of [a, b, loaded]) m.dispose();
  await Deno.remove(root, { recursive: true });
});

Deno.test("optimizer state round trip: resumed Adam takes the identical next step", async () => {
  const root = await tmp();
  const model = await tinyModel(4);
  const opt = tf.train.adam(0.05);
  adamStep(model, opt);
  adamStep(model, opt);
  const { dir } = await saveModel(model, `${root}/ckpt`, { optimizer: opt });
  const json = JSON.parse(await Deno.readTextFile(`${dir}/optimizer.json`));
  assert.equal(json.className, "Adam");
  assert.equal(json.weightsManifest[0].weights.length, 1 + 2 * 4); // iterations + m, v per weight

  const resumed = await loadModel(dir);
  const opt2 = tf.train.adam(0.05);
  await loadOptimizer(opt2, dir);
  const naive = await loadModel(dir);
  const opt3 = tf.train.adam(0.05);

  adamStep(model, opt);
  adamStep(resumed, opt2);
  adamStep(naive, opt3);
  const want = predictProbe(model);
  const got = predictProbe(resumed);
  got.forEach((v, i) => assert.ok(Math.abs(v - want[i]) < 1e-6, `${v} vs ${want[i]}`));
  const naivePred = predictProbe(naive);
  assert.ok(naivePred.some((v, i) => Math.abs(v - want[i]) > 1e-4), "optimizer state must matter");

  await assert.rejects(
    loadOptimizer(tf.train.sgd(0.1), dir),
    /holds Adam state but the optimizer is SGD/,
  );
  // saveOptimizer alone, and corruption detection.
  await saveOptimizer(opt, `${root}/opt-only`);
  const bin = await Deno.readFile(`${root}/opt-only/optimizer.bin`);
  bin[0] ^= 1;
  await Deno.writeFile(`${root}/opt-only/optimizer.bin`, bin);
  await assert.rejects(
    loadOptimizer(tf.train.adam(0.05), `${root}/opt-only`),
    /checksum mismatch for .*optimizer\.bin/,
  );
  for (const m of [model, resumed, naive]) m.dispose();
  for (const o of [opt, opt2, opt3]) o.dispose();
  await Deno.remove(root, { recursive: true });
});
