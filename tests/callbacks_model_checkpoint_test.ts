import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs-core";
import { ModelCheckpoint } from "../callbacks/model_checkpoint.ts";
import { fillTemplate, formatValue } from "../callbacks/template.ts";
import { loadModel, loadWeights, readState } from "../core/run/model_io.ts";
import {
  adamStep,
  drive,
  FakeContext,
  nudgeWeights,
  predictProbe,
  tinyModel,
} from "./helpers/fake_context.ts";

const vl = (...xs: number[]) => xs.map((v) => ({ loss: 1, val_loss: v }));

async function listCkpts(ctx: FakeContext): Promise<string[]> {
  const dir = `${ctx.run.dir}/checkpoints`;
  try {
    return (await Array.fromAsync(Deno.readDir(dir))).map((e) => e.name).sort();
  } catch {
    return [];
  }
}

Deno.test("template: Python-style specs", () => {
  assert.equal(
    fillTemplate("ckpt-{epoch:02d}-{val_loss:.2f}", { epoch: 3, val_loss: 0.4567 }, "t"),
    "ckpt-03-0.46",
  );
  assert.equal(formatValue(12, "02d", "x"), "12");
  assert.equal(formatValue(-3, "03d", "x"), "-03");
  assert.equal(formatValue(0.00001234, ".2e", "x"), "1.23e-05");
  assert.equal(formatValue(NaN, ".2f", "x"), "nan");
  assert.equal(formatValue(0.5, "", "x"), "0.5");
  assert.equal(formatValue(5, "4", "x"), "   5");
  assert.equal(fillTemplate("{{literal}}-{epoch}", { epoch: 7 }, "t"), "{literal}-7");
  assert.throws(() => formatValue(1, "x>9", "a"), /unsupported format spec "\{a:x>9\}"/);
});

Deno.test("ModelCheckpoint: saves every epoch to a templated dir under <run>/checkpoints", async () => {
  const model = await tinyModel();
  const ctx = new FakeContext({ model });
  const cb = new ModelCheckpoint({ filepath: "ckpt-{epoch:02d}-{val_loss:.2f}" });
  const preds: number[][] = [];
  await drive([cb], vl(0.5, 0.25, 0.125), ctx, {
    afterEpoch: (e) => {
      preds[e] = predictProbe(model);
      nudgeWeights(model, 0.1);
    },
  });
  assert.deepEqual(await listCkpts(ctx), ["ckpt-01-0.50", "ckpt-02-0.25", "ckpt-03-0.13"]);
  const second = await loadModel(`${ctx.run.dir}/checkpoints/ckpt-02-0.25`);
  assert.deepEqual(predictProbe(second), preds[1]);
  const ev = ctx.run.ofType("checkpoint_saved");
  assert.equal(ev.length, 3);
  assert.equal(ev[1].path, `${ctx.run.dir}/checkpoints/ckpt-02-0.25`);
  assert.equal(ev[1].value, 0.25);
  assert.equal(ev[1].monitor, "val_loss");
  const state = await readState(`${ctx.run.dir}/checkpoints/ckpt-02-0.25`) as Record<
    string,
    unknown
  >;
  assert.equal(state.epoch, 1);
  assert.deepEqual(state.logs, { loss: 1, val_loss: 0.25, lr: 1e-3 });
  second.dispose();
  model.dispose();
  await ctx.cleanup();
});

Deno.test("ModelCheckpoint: a template key missing from the logs is an error naming it", async () => {
  const model = await tinyModel();
  const ctx = new FakeContext({ model });
  const cb = new ModelCheckpoint({ filepath: "ckpt-{epoch:02d}-{val_acc:.2f}" });
  await assert.rejects(
    drive([cb], vl(0.5), ctx),
    /ModelCheckpoint: the filepath template "ckpt-\{epoch:02d\}-\{val_acc:.2f\}" uses \{val_acc\}, which is not in the logs\. Available keys: loss, val_loss, lr, epoch\./,
  );
  model.dispose();
  await ctx.cleanup();
});

Deno.test("ModelCheckpoint: saveBestOnly saves improvements only (strict), NaN never", async () => {
  const model = await tinyModel();
  const ctx = new FakeContext({ model });
  const cb = new ModelCheckpoint({ filepath: "best-{epoch}", saveBestOnly: true });
  await drive([cb], vl(1, 0.8, 0.8, NaN, 0.9, 0.7), ctx);
  assert.deepEqual(await listCkpts(ctx), ["best-1", "best-2", "best-6"]);
  assert.equal(cb.monitor?.best, 0.7);
  model.dispose();
  await ctx.cleanup();
});

Deno.test("ModelCheckpoint: one 'best' dir holds the best epoch's model", async () => {
  const model = await tinyModel();
  const ctx = new FakeContext({ model });
  const cb = new ModelCheckpoint({ filepath: "best", saveBestOnly: true, monitor: "val_acc" });
  let bestPred: number[] = [];
  await drive([cb], [{ val_acc: 0.5 }, { val_acc: 0.7 }, { val_acc: 0.6 }], ctx, {
    afterEpoch: (e) => {
      if (e === 1) bestPred = predictProbe(model);
      nudgeWeights(model, 0.2);
    },
  });
  assert.equal(cb.monitor?.mode, "max");
  assert.deepEqual(await listCkpts(ctx), ["best"]);
  const loaded = await loadModel(`${ctx.run.dir}/checkpoints/best`);
  assert.deepEqual(predictProbe(loaded), bestPred);
  assert.equal(ctx.run.ofType("checkpoint_saved").length, 2);
  loaded.dispose();
  model.dispose();
  await ctx.cleanup();
});

Deno.test("ModelCheckpoint: saveBestOnly with a missing metric warns once and saves", async () => {
  const model = await tinyModel();
  const ctx = new FakeContext({ model });
  const cb = new ModelCheckpoint({ filepath: "e{epoch}", saveBestOnly: true });
  await drive([cb], [{ loss: 1 }, { loss: 2 }], ctx);
  assert.deepEqual(await listCkpts(ctx), ["e1", "e2"]);
  assert.equal(ctx.run.warnings.length, 1);
  assert.match(
    ctx.run.warnings[0],
    /ModelCheckpoint: monitored metric "val_loss" is not in the logs.*Available keys: loss, lr/,
  );
  model.dispose();
  await ctx.cleanup();
});

Deno.test("ModelCheckpoint: initialValueThreshold and mode", async () => {
  const model = await tinyModel();
  const ctx = new FakeContext({ model });
  const cb = new ModelCheckpoint({
    filepath: "e{epoch}",
    saveBestOnly: true,
    initialValueThreshold: 0.75,
  });
  await drive([cb], vl(1, 0.8, 0.7), ctx);
  assert.deepEqual(await listCkpts(ctx), ["e3"]);
  const ctx2 = new FakeContext({ model });
  const cb2 = new ModelCheckpoint({ filepath: "e{epoch}", saveBestOnly: true, mode: "max" });
  await drive([cb2], vl(1, 0.8, 1.2), ctx2);
  assert.deepEqual(await listCkpts(ctx2), ["e1", "e3"]);
  assert.throws(
    () => new ModelCheckpoint({ saveBestOnly: true, monitor: "val_thing" }),
    /cannot tell/,
  );
  model.dispose();
  await ctx.cleanup();
  await ctx2.cleanup();
});

Deno.test("ModelCheckpoint: saveWeightsOnly writes weights without topology", async () => {
  const model = await tinyModel(2);
  const ctx = new FakeContext({ model, optimizer: tf.train.adam(0.01) });
  const cb = new ModelCheckpoint({ filepath: "w", saveWeightsOnly: true });
  await drive([cb], vl(1), ctx);
  const dir = `${ctx.run.dir}/checkpoints/w`;
  const names = (await Array.fromAsync(Deno.readDir(dir))).map((e) => e.name).sort();
  assert.deepEqual(names, ["model.json", "state.json", "weights.bin"]); // no optimizer by default
  await assert.rejects(loadModel(dir), /weights only/);
  const fresh = await tinyModel(50);
  await loadWeights(fresh, dir);
  assert.deepEqual(predictProbe(fresh), predictProbe(model));
  fresh.dispose();
  model.dispose();
  ctx.optimizer?.dispose();
  await ctx.cleanup();
});

Deno.test("ModelCheckpoint: optimizer state and every callback's state go into the checkpoint", async () => {
  const model = await tinyModel();
  const opt = tf.train.adam(0.01);
  const ctx = new FakeContext({
    model,
    optimizer: opt,
    callbackStates: () => ({ EarlyStopping: { wait: 2 } }),
  });
  const cb = new ModelCheckpoint({ filepath: "c" });
  adamStep(model, opt); // so Adam has moments to save
  const before = tf.memory().numTensors;
  await drive([cb], vl(1, 0.5, 0.25), ctx);
  assert.equal(tf.memory().numTensors, before, "saving leaks no tensors");
  const dir = `${ctx.run.dir}/checkpoints/c`;
  const json = JSON.parse(await Deno.readTextFile(`${dir}/optimizer.json`));
  assert.equal(json.className, "Adam");
  const state = await readState(dir) as Record<string, unknown>;
  assert.deepEqual(state.callbacks, { EarlyStopping: { wait: 2 } });
  assert.equal(state.learningRate, 1e-3);
  assert.equal(ctx.run.ofType("checkpoint_saved")[0].optimizer, true);
  opt.dispose();
  model.dispose();
  await ctx.cleanup();
});

Deno.test("ModelCheckpoint: saveFreq N batches (Keras counting across epochs), absolute path", async () => {
  const model = await tinyModel();
  const ctx = new FakeContext({ model });
  const root = await Deno.makeTempDir();
  const cb = new ModelCheckpoint({ filepath: `${root}/b-{epoch}-{batch}-{loss:.1f}`, saveFreq: 3 });
  const batch = { loss: 0.5, acc: 0.5, size: 8 };
  await drive([cb], vl(1, 1), ctx, { batches: () => [batch, batch, batch, batch] });
  const names = (await Array.fromAsync(Deno.readDir(root))).map((e) => e.name).sort();
  assert.deepEqual(names, ["b-1-3-0.5", "b-2-2-0.5"]);
  assert.deepEqual(ctx.run.ofType("checkpoint_saved").map((e) => e.batch), [2, 1]);
  assert.deepEqual(await listCkpts(ctx), []);
  assert.throws(
    () => new ModelCheckpoint({ saveFreq: 0 }),
    /saveFreq must be "epoch" or a positive integer/,
  );
  model.dispose();
  await ctx.cleanup();
  await Deno.remove(root, { recursive: true });
});

Deno.test("ModelCheckpoint: state round-trips (best survives a resume)", async () => {
  const model = await tinyModel();
  const ctx = new FakeContext({ model });
  const a = new ModelCheckpoint({ filepath: "e{epoch}", saveBestOnly: true });
  await drive([a], vl(1, 0.5), ctx);
  const b = new ModelCheckpoint({ filepath: "e{epoch}", saveBestOnly: true });
  b.setState(JSON.parse(JSON.stringify(a.getState())));
  assert.deepEqual(b.getState(), a.getState());
  await drive([b], vl(0.7, 0.4), ctx);
  assert.deepEqual(await listCkpts(ctx), ["e1", "e2", "e4"]);
  model.dispose();
  await ctx.cleanup();
});
