import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs-core";
import { EarlyStopping, type EarlyStoppingOptions } from "../callbacks/early_stopping.ts";
import type { Callback } from "../core/train/callback.ts";
import {
  drive,
  FakeContext,
  nudgeWeights,
  predictProbe,
  tinyModel,
} from "./helpers/fake_context.ts";

const vl = (...xs: number[]) => xs.map((v) => ({ loss: 1, val_loss: v }));

/** Runs EarlyStopping over scripted val_loss values; returns epochs run and the context. */
async function run(opts: EarlyStoppingOptions, values: number[]) {
  const ctx = new FakeContext();
  const cb = new EarlyStopping(opts);
  const ran = await drive([cb], vl(...values), ctx);
  await ctx.cleanup();
  return { ran, ctx, cb };
}

Deno.test("EarlyStopping: defaults match Keras", () => {
  const cb = new EarlyStopping();
  assert.equal(cb.monitor.monitor, "val_loss");
  assert.equal(cb.monitor.minDelta, 0);
  assert.equal(cb.patience, 0);
  assert.equal(cb.monitor.mode, "min");
  assert.equal(cb.baseline, undefined);
  assert.equal(cb.restoreBestWeights, false);
  assert.equal(cb.startFromEpoch, 0);
});

Deno.test("EarlyStopping: patience 0 stops at the first non-improvement, never at epoch 0", async () => {
  assert.equal((await run({}, [1, 1.1, 0.5])).ran, 2);
  // A NaN first value makes wait 1 >= 0 but epoch 0 never stops.
  const r = await run({}, [NaN, 1, 0.9, 0.95]);
  assert.equal(r.ran, 4);
  assert.equal(r.cb.stoppedEpoch, 3);
});

Deno.test("EarlyStopping: patience counts epochs without improvement", async () => {
  const r = await run({ patience: 2 }, [1, 0.9, 0.95, 0.96, 0.5]);
  assert.equal(r.ran, 4);
  assert.equal(r.cb.stoppedEpoch, 3);
  assert.equal(r.cb.bestEpoch, 1);
  assert.equal(r.cb.monitor.best, 0.9);
  const ev = r.ctx.run.ofType("early_stopped");
  assert.equal(ev.length, 1);
  assert.equal(ev[0].epoch, 3);
  assert.equal(ev[0].bestEpoch, 1);
  assert.equal(ev[0].best, 0.9);
  assert.deepEqual(r.ctx.stopReasons, [
    "EarlyStopping: val_loss did not improve for 2 epochs (best 0.9 at epoch 2)",
  ]);
});

Deno.test("EarlyStopping: minDelta is absolute", async () => {
  const r = await run({ patience: 1, minDelta: 0.1 }, [1, 0.95, 0.5]);
  assert.equal(r.ran, 2);
  const r2 = await run({ patience: 1, minDelta: 0.1 }, [1, 0.85, 0.7, 0.7]);
  assert.equal(r2.ran, 4);
});

Deno.test("EarlyStopping: mode max and auto for val_acc", async () => {
  const ctx = new FakeContext();
  const cb = new EarlyStopping({ monitor: "val_acc", patience: 1 });
  const ran = await drive([cb], [{ val_acc: 0.5 }, { val_acc: 0.6 }, { val_acc: 0.55 }], ctx);
  assert.equal(cb.monitor.mode, "max");
  assert.equal(ran, 3);
  assert.equal(cb.stoppedEpoch, 2);
  const forcedMin = new EarlyStopping({ monitor: "val_acc", mode: "min", patience: 0 });
  const ctx2 = new FakeContext();
  assert.equal(await drive([forcedMin], [{ val_acc: 0.5 }, { val_acc: 0.6 }], ctx2), 2);
  assert.equal(forcedMin.stoppedEpoch, 1);
  await ctx.cleanup();
  await ctx2.cleanup();
});

Deno.test("EarlyStopping: baseline (Keras: improvements not beating it keep wait growing)", async () => {
  // Improving but never below 0.5: wait is not reset, yet an improving epoch never stops.
  let r = await run({ patience: 2, baseline: 0.5 }, [1, 0.9, 0.8, 0.8, 0.1]);
  assert.equal(r.ran, 4);
  assert.match(r.ctx.stopReasons[0], /did not beat the baseline 0\.5 in 4 epochs/);
  // Beating the baseline resets wait as usual.
  r = await run({ patience: 1, baseline: 0.5 }, [0.4, 0.3, 0.35, 0.1]);
  assert.equal(r.ran, 3);
  // tfjs uses baseline as the initial best; Keras does not: 0.6 is still the first best.
  r = await run({ patience: 5, baseline: 0.5 }, [0.6]);
  assert.equal(r.cb.monitor.best, 0.6);
});

Deno.test("EarlyStopping: startFromEpoch ignores warm-up epochs", async () => {
  const r = await run({ startFromEpoch: 2 }, [5, 6, 7, 7, 1]);
  assert.equal(r.ran, 4);
  assert.equal(r.cb.bestEpoch, 2);
});

Deno.test("EarlyStopping: NaN never becomes best", async () => {
  const r = await run({ patience: 2 }, [NaN, 0.9, NaN, NaN, 0.1]);
  assert.equal(r.cb.monitor.best, 0.9);
  assert.equal(r.ran, 4);
});

Deno.test("EarlyStopping: missing metric warns with keys and never stops", async () => {
  const ctx = new FakeContext();
  const cb = new EarlyStopping({ monitor: "val_accuracy" });
  const ran = await drive([cb], [{ loss: 1, val_acc: 0.5 }, { loss: 1, val_acc: 0.4 }], ctx);
  assert.equal(ran, 2);
  assert.equal(ctx.run.warnings.length, 1);
  assert.match(
    ctx.run.warnings[0],
    /EarlyStopping: monitored metric "val_accuracy" is not in the logs.*Available keys: loss, val_acc, lr/,
  );
  await ctx.cleanup();
});

Deno.test("EarlyStopping: restoreBestWeights restores the best epoch's weights, no leaks", async () => {
  const model = await tinyModel();
  const ctx = new FakeContext({ model });
  const cb = new EarlyStopping({ patience: 2, restoreBestWeights: true });
  const preds: number[][] = [];
  const before = tf.memory().numTensors;
  const ran = await drive([cb], vl(1, 0.5, 0.4, 0.7, 0.8, 0.1), ctx, {
    afterEpoch: (epoch) => {
      preds[epoch] = predictProbe(model);
      nudgeWeights(model, 0.05 * (epoch + 1));
    },
  });
  assert.equal(ran, 5);
  assert.equal(cb.bestEpoch, 2);
  assert.deepEqual(predictProbe(model), preds[2]);
  assert.notDeepEqual(preds[2], preds[4]);
  assert.equal(ctx.run.ofType("best_weights_restored").length, 1);
  // Snapshots of old bests were disposed: one live snapshot of 4 weight tensors at most.
  assert.ok(tf.memory().numTensors - before <= 4, `${tf.memory().numTensors - before} tensors`);
  cb.dispose();
  assert.ok(tf.memory().numTensors - before <= 0);
  model.dispose();
  await ctx.cleanup();
});

Deno.test("EarlyStopping: restoreBestWeights also after a failure and when not stopped", async () => {
  const model = await tinyModel();
  const ctx = new FakeContext({ model });
  const cb = new EarlyStopping({ patience: 10, restoreBestWeights: true });
  let bestPred: number[] = [];
  const boom: Callback = {
    name: "boom",
    onEpochEnd(epoch) {
      if (epoch === 3) throw new Error("boom");
    },
  };
  await assert.rejects(
    drive([cb, boom], vl(1, 0.2, 0.5, 0.6), ctx, {
      afterEpoch: (e) => {
        if (e === 1) bestPred = predictProbe(model);
        nudgeWeights(model, 0.1);
      },
    }),
    /boom/,
  );
  assert.deepEqual(predictProbe(model), bestPred);
  cb.dispose();
  model.dispose();
  await ctx.cleanup();
});

Deno.test("EarlyStopping: a new train() after a stop gets a fresh patience window", async () => {
  const ctx = new FakeContext();
  const cb = new EarlyStopping({ patience: 1 });
  assert.equal(await drive([cb], vl(1, 2, 3), ctx), 2);
  // best (1) is kept across calls; wait restarts so training continues for patience epochs.
  assert.equal(await drive([cb], vl(2, 2, 2), ctx), 1);
  assert.equal(cb.monitor.best, 1);
  assert.equal(ctx.history.length, 3);
  await ctx.cleanup();
});

Deno.test("EarlyStopping: state round-trips (resume continues identically)", async () => {
  const values = [1, 0.8, 0.9, 0.85, 0.95, 0.99, 1];
  const script = vl(...values);
  const full = await run({ patience: 3 }, values);

  const ctx1 = new FakeContext();
  const a = new EarlyStopping({ patience: 3 });
  await drive([a], script.slice(0, 3), ctx1);
  const b = new EarlyStopping({ patience: 3 });
  b.setState(JSON.parse(JSON.stringify(a.getState())));
  const ctx2 = new FakeContext();
  ctx2.history.push(...ctx1.history);
  const ran = await drive([b], script.slice(3), ctx2);
  assert.equal(3 + ran, full.ran);
  assert.deepEqual(b.getState(), full.cb.getState());
  await ctx1.cleanup();
  await ctx2.cleanup();
});

Deno.test("EarlyStopping: restoreBestWeights after a resume without snapshot warns", async () => {
  const model = await tinyModel();
  const a = new EarlyStopping({ restoreBestWeights: true, patience: 5 });
  const ctx1 = new FakeContext({ model });
  await drive([a], vl(1, 0.5), ctx1);
  const b = new EarlyStopping({ restoreBestWeights: true, patience: 5 });
  b.setState(a.getState());
  const ctx2 = new FakeContext({ model });
  ctx2.history.push(...ctx1.history);
  await drive([b], vl(0.9), ctx2);
  assert.match(ctx2.run.warnings[0], /best weights \(epoch 2\) were not kept across the resume/);
  a.dispose();
  b.dispose();
  model.dispose();
  await ctx1.cleanup();
  await ctx2.cleanup();
});
