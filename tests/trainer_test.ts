import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs-core";
import { initBackend } from "../core/backend/select.ts";
import type { Callback } from "../core/train/callback.ts";
import { syntheticShapes } from "../core/data/synthetic.ts";
import { smallConvnet } from "../core/models/small_convnet.ts";
import { withSeededMathRandom } from "../core/random.ts";
import { RunWriter } from "../core/run/writer.ts";
import { readRunInfo } from "../core/run/reader.ts";
import { CallbackError, Trainer } from "../core/train/trainer.ts";

await initBackend("wasm", { log: () => {} });

const dataset = syntheticShapes({
  imageSize: 12,
  trainSize: 48,
  valSize: 16,
  testSize: 8,
  numClasses: 4,
});

async function setup(callbacks: Callback[] = [], extra: Record<string, unknown> = {}) {
  const runsDir = await Deno.makeTempDir();
  const run = await RunWriter.create({
    runsDir,
    experiment: "t",
    config: {},
    warn: () => {},
  });
  const model = withSeededMathRandom(3, () => smallConvnet([12, 12, 3], 4, [4, 4, 4]));
  const trainer = new Trainer({
    model,
    dataset,
    run,
    batchSize: 16,
    learningRate: 1e-2,
    seed: 5,
    callbacks,
    ...extra,
  });
  return { run, trainer, model };
}

function epochRecords(text: string) {
  return text.trim().split("\n").map((l) => JSON.parse(l)).filter((r) => r.batch === undefined);
}

Deno.test("train() continues the epoch count and history; metrics and run.json follow", async () => {
  const { run, trainer } = await setup();
  const r1 = await trainer.train({ epochs: 2 });
  assert.deepEqual(r1.status, "completed");
  const r2 = await trainer.train({ epochs: 1 });
  assert.deepEqual(r2.history.map((h) => h.epoch), [0, 1, 2]);
  assert.deepEqual(trainer.position.step, 9); // 3 epochs x 3 batches
  const recs = epochRecords(await Deno.readTextFile(`${run.dir}/metrics.jsonl`));
  assert.deepEqual(recs.map((r) => r.epoch), [0, 1, 2]);
  for (const r of recs) {
    for (const k of ["loss", "acc", "val_loss", "val_acc", "lr"]) {
      assert(Number.isFinite(r[k]), `${k} missing in ${JSON.stringify(r)}`);
    }
  }
  const info = JSON.parse(await Deno.readTextFile(`${run.dir}/run.json`));
  assert.deepEqual(info.status, "completed");
  assert.deepEqual(info.epochs, 3);
  assert(info.best.val_loss.value > 0);
  await run.close();
});

Deno.test("no tensor leaks across epochs", async () => {
  const { run, trainer } = await setup();
  await trainer.train({ epochs: 1 });
  const after1 = tf.memory().numTensors;
  await trainer.train({ epochs: 3 });
  assert.deepEqual(tf.memory().numTensors, after1);
  await run.close();
});

Deno.test("hooks run in order, async hooks are awaited, logs are frozen copies", async () => {
  const calls: string[] = [];
  const mk = (name: string): Callback => ({
    name,
    async onTrainBegin() {
      await new Promise((r) => setTimeout(r, 5));
      calls.push(`${name}:trainBegin`);
    },
    onEpochBegin: (e) => void calls.push(`${name}:epochBegin${e}`),
    onBatchEnd: (b, logs) => {
      if (b === 0) calls.push(`${name}:batchEnd0:${Object.keys(logs).sort().join(",")}`);
    },
    onEpochEnd: (e, logs) => {
      calls.push(`${name}:epochEnd${e}`);
      assert.throws(() => ((logs as Record<string, number>).loss = 1));
    },
    onTrainEnd: () => void calls.push(`${name}:trainEnd`),
  });
  const { run, trainer } = await setup([mk("a"), mk("b")]);
  await trainer.train({ epochs: 1 });
  assert.deepEqual(calls, [
    "a:trainBegin",
    "b:trainBegin",
    "a:epochBegin0",
    "b:epochBegin0",
    "a:batchEnd0:acc,batch_acc,batch_loss,loss,size",
    "b:batchEnd0:acc,batch_acc,batch_loss,loss,size",
    "a:epochEnd0",
    "b:epochEnd0",
    "a:trainEnd",
    "b:trainEnd",
  ]);
  await run.close();
});

Deno.test("a callback's learning-rate change applies from the next batch and is logged", async () => {
  const seenLr: number[] = [];
  const cb: Callback = {
    name: "lr",
    onBatchBegin: (_b, ctx) => void seenLr.push(ctx.learningRate),
    onBatchEnd: (b, _l, ctx) => {
      if (b === 0 && ctx.epoch === 0) ctx.learningRate = 1e-3;
    },
  };
  const { run, trainer } = await setup([cb]);
  const res = await trainer.train({ epochs: 1 });
  assert.deepEqual(seenLr, [1e-2, 1e-3, 1e-3]);
  assert.deepEqual((trainer.optimizer as unknown as { learningRate: number }).learningRate, 1e-3);
  assert.deepEqual(res.logs.lr, 1e-3);
  await run.close();
});

Deno.test("stopTraining ends after the current epoch with the reason in run.json", async () => {
  const cb: Callback = { name: "stopper", onEpochEnd: (_e, _l, ctx) => ctx.stopTraining("enough") };
  const { run, trainer } = await setup([cb]);
  const res = await trainer.train({ epochs: 5 });
  assert.deepEqual(res.status, "stopped");
  assert.deepEqual(res.history.length, 1);
  const info = JSON.parse(await Deno.readTextFile(`${run.dir}/run.json`));
  assert.deepEqual([info.status, info.stopReason], ["stopped", "enough"]);
  await run.close();
});

Deno.test("stopTraining with status pruned ends the run pruned, with the reason, readable", async () => {
  const cb: Callback = {
    name: "pruner",
    onEpochEnd: (e, _l, ctx) => {
      if (e === 1) ctx.stopTraining("worse than the median", { status: "pruned" });
    },
  };
  const { run, trainer } = await setup([cb]);
  const res = await trainer.train({ epochs: 5 });
  assert.deepEqual([res.status, res.stopReason, res.history.length], [
    "pruned",
    "worse than the median",
    2,
  ]);
  await run.close();
  const info = await readRunInfo(run.dir);
  assert.deepEqual([info.status, info.stopReason], ["pruned", "worse than the median"]);
});

Deno.test("stopTraining immediate ends the epoch after the current batch", async () => {
  const cb: Callback = {
    name: "nan",
    onBatchEnd: (_b, _l, ctx) => ctx.stopTraining("nan", { immediate: true }),
  };
  const { run, trainer } = await setup([cb]);
  const res = await trainer.train({ epochs: 3 });
  assert.deepEqual(res.history.length, 1);
  assert.deepEqual(trainer.position.step, 1);
  assert.deepEqual(res.logs.val_loss, undefined);
  await run.close();
});

Deno.test("a throwing hook fails the run naming the callback; onTrainEnd still runs", async () => {
  let ended = false;
  const bad: Callback = {
    name: "bad-plugin",
    onEpochEnd: () => {
      throw new Error("boom");
    },
  };
  const watcher: Callback = { name: "w", onTrainEnd: () => void (ended = true) };
  const { run, trainer } = await setup([bad, watcher]);
  await assert.rejects(trainer.train({ epochs: 2 }), (err) => {
    assert(err instanceof CallbackError);
    assert(err.message.includes(`"bad-plugin"`) && err.message.includes("boom"), err.message);
    return true;
  });
  assert(ended, "onTrainEnd was not called after the failure");
  const info = JSON.parse(await Deno.readTextFile(`${run.dir}/run.json`));
  assert.deepEqual(info.status, "failed");
  assert(info.error.includes("bad-plugin"));
  await run.close();
});

Deno.test("an aborted signal stops after the current batch and keeps the position", async () => {
  const controller = new AbortController();
  const cb: Callback = { name: "c", onBatchEnd: (b) => b === 1 ? controller.abort() : undefined };
  const { run, trainer } = await setup([cb], { signal: controller.signal });
  const res = await trainer.train({ epochs: 2 });
  assert.deepEqual([res.status, res.stopReason], ["stopped", "interrupted"]);
  assert.deepEqual([trainer.position.epoch, trainer.position.batch], [0, 2]);
  assert.deepEqual(res.history.length, 0);
  await run.close();
});

Deno.test("invalid trainer options are clear errors", async () => {
  const { run } = await setup();
  const model = smallConvnet([12, 12, 3], 4, [4, 4, 4]);
  assert.throws(
    () => new Trainer({ model, dataset, run, batchSize: 0, learningRate: 1, seed: 1 }),
    /batchSize/,
  );
  assert.throws(
    () => new Trainer({ model, dataset, run, batchSize: 2, learningRate: NaN, seed: 1 }),
    /learningRate/,
  );
  assert.throws(
    () =>
      new Trainer({
        model,
        dataset,
        run,
        batchSize: 2,
        learningRate: 1,
        seed: 1,
        callbacks: [{ name: "x" }, { name: "x" }],
      }),
    /unique/,
  );
  await run.close();
});
