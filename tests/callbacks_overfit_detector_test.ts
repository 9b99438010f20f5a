import assert from "node:assert/strict";
import { OverfitDetector, type OverfitDetectorOptions } from "../callbacks/overfit_detector.ts";
import { drive, FakeContext } from "./helpers/fake_context.ts";

const zip = (train: number[], val: number[]) =>
  train.map((t, i) => ({ loss: t, val_loss: val[i] }));

async function run(opts: OverfitDetectorOptions, logs: Record<string, number>[]) {
  const ctx = new FakeContext();
  const cb = new OverfitDetector(opts);
  const ran = await drive([cb], logs, ctx);
  await ctx.cleanup();
  return { ctx, cb, ran };
}

const RISING = zip([1.0, 0.8, 0.6, 0.5, 0.4, 0.3, 0.2], [0.9, 0.7, 0.75, 0.8, 0.85, 0.9, 1.0]);

Deno.test("OverfitDetector: val_rising flags the onset when val worsens while train improves", async () => {
  const { ctx, cb, ran } = await run({ rules: ["val_rising"] }, RISING);
  assert.equal(ran, 7); // action "warn" never stops
  const f = cb.finding!;
  assert.equal(f.rule, "val_rising");
  assert.equal(f.epoch, 4);
  assert.equal(f.onsetEpoch, 2);
  assert.equal(f.bestEpoch, 1);
  assert.equal(f.best, 0.7);
  assert.deepEqual(f.val, [0.75, 0.8, 0.85]);
  assert.deepEqual(f.train, [0.6, 0.5, 0.4]);
  const ev = ctx.run.ofType("overfitting_detected");
  assert.equal(ev.length, 1); // once
  assert.equal(ev[0].epoch, 4);
  assert.equal(ev[0].onsetEpoch, 2);
  assert.equal(ev[0].bestEpoch, 1);
  assert.equal(ctx.run.warnings.length, 1);
  assert.match(
    ctx.run.warnings[0],
    /overfitting from epoch 3: val_loss has been worse than its best for 3 epochs while loss kept improving \(best val_loss 0\.7 at epoch 2\)/,
  );
  assert.deepEqual(ctx.stopReasons, []);
});

Deno.test("OverfitDetector: action stop stops training with the reason", async () => {
  const { ctx, ran } = await run({ action: "stop", rules: ["val_rising"] }, RISING);
  assert.equal(ran, 5);
  assert.match(ctx.stopReasons[0], /^OverfitDetector: overfitting from epoch 3/);
});

Deno.test("OverfitDetector: patience sets the window length", async () => {
  const { cb } = await run({ rules: ["val_rising"], patience: 1 }, RISING);
  assert.equal(cb.finding?.epoch, 2);
  assert.equal(cb.finding?.onsetEpoch, 2);
  const { cb: cb5 } = await run({ rules: ["val_rising"], patience: 5 }, RISING);
  assert.equal(cb5.finding?.epoch, 6);
});

Deno.test("OverfitDetector: val_rising needs train to keep improving (plateau or new best resets)", async () => {
  // Train plateaus at epoch 3: the count restarts.
  let r = await run(
    { rules: ["val_rising"] },
    zip([1, 0.8, 0.6, 0.6, 0.5, 0.4], [0.9, 0.7, 0.75, 0.8, 0.85, 0.9]),
  );
  assert.equal(r.cb.finding, undefined);
  // A new val best in the middle resets as well.
  r = await run(
    { rules: ["val_rising"] },
    zip([1, 0.8, 0.6, 0.5, 0.4, 0.3], [0.9, 0.7, 0.75, 0.6, 0.65, 0.7]),
  );
  assert.equal(r.cb.finding, undefined);
  assert.equal(r.cb.bestEpoch, 3);
  // minDelta: train must improve by more than minDelta.
  r = await run({ rules: ["val_rising"], minDelta: 0.15 }, RISING);
  assert.equal(r.cb.finding, undefined);
});

Deno.test("OverfitDetector: gap_widening fires while val still improves; negative gaps ignored", async () => {
  const logs = zip([1, 0.6, 0.4, 0.25, 0.15], [0.9, 0.7, 0.62, 0.58, 0.56]);
  const { cb, ctx } = await run({}, logs);
  assert.equal(cb.finding?.rule, "gap_widening");
  assert.equal(cb.finding?.epoch, 3);
  assert.equal(cb.finding?.onsetEpoch, 1);
  assert.equal(cb.finding?.bestEpoch, 3);
  assert.match(
    ctx.run.warnings[0],
    /the gap between val_loss and loss widened for 3 epochs in a row/,
  );
  // Same shape with val below train (a negative gap shrinking): no finding.
  const early = zip([2, 1.6, 1.3, 1.1, 1.0], [0.9, 0.85, 0.8, 0.78, 0.77]);
  assert.equal((await run({}, early)).cb.finding, undefined);
  // Only val_rising requested: the gap rule is off.
  assert.equal((await run({ rules: ["val_rising"] }, logs)).cb.finding, undefined);
});

Deno.test("OverfitDetector: max-mode metrics (val_acc vs acc)", async () => {
  const acc = [0.5, 0.7, 0.8, 0.9, 0.95];
  const vacc = [0.55, 0.68, 0.66, 0.65, 0.64];
  const logs = acc.map((a, i) => ({ acc: a, val_acc: vacc[i] }));
  const { cb } = await run(
    { monitor: "val_acc", trainMonitor: "acc", rules: ["val_rising"] },
    logs,
  );
  assert.equal(cb.monitor.mode, "max");
  assert.equal(cb.finding?.epoch, 4);
  assert.equal(cb.finding?.bestEpoch, 1);
});

Deno.test("OverfitDetector: NaN epochs are skipped; missing metrics warn naming keys", async () => {
  const logs = zip([1.0, 0.8, 0.6, NaN, 0.5, 0.4], [0.9, 0.7, 0.75, 0.8, NaN, 0.85]);
  const { cb } = await run({ rules: ["val_rising"], patience: 2 }, logs);
  assert.equal(cb.monitor.best, 0.7);
  assert.equal(cb.finding?.epoch, 5); // epochs 2 and 5 (3 and 4 skipped)

  const missing = await run({}, [{ loss: 1, acc: 0.5 }, { loss: 0.5, acc: 0.6 }]);
  assert.equal(missing.ctx.run.warnings.length, 1);
  assert.match(
    missing.ctx.run.warnings[0],
    /OverfitDetector: monitored metric "val_loss" is not in the logs.*Available keys: loss, acc, lr/,
  );
  const noTrain = await run({ trainMonitor: "train_loss" }, [{ loss: 1, val_loss: 1 }]);
  assert.match(
    noTrain.ctx.run.warnings[0],
    /training metric "train_loss" is not in the logs.*Available keys: loss, val_loss, lr/,
  );
});

Deno.test("OverfitDetector: bad options are errors", () => {
  assert.throws(
    () => new OverfitDetector({ action: "explode" as "warn" }),
    /action must be "warn" or "stop"/,
  );
  assert.throws(() => new OverfitDetector({ patience: 0 }), /patience must be an integer >= 1/);
  assert.throws(
    () => new OverfitDetector({ rules: ["nope" as "val_rising"] }),
    /unknown rule "nope"/,
  );
});

Deno.test("OverfitDetector: state round-trips (resume finds the same onset, flags once)", async () => {
  const full = await run({ rules: ["val_rising"] }, RISING);
  const ctx1 = new FakeContext();
  const a = new OverfitDetector({ rules: ["val_rising"] });
  await drive([a], RISING.slice(0, 3), ctx1);
  const b = new OverfitDetector({ rules: ["val_rising"] });
  b.setState(JSON.parse(JSON.stringify(a.getState())));
  const ctx2 = new FakeContext();
  ctx2.history.push(...ctx1.history);
  await drive([b], RISING.slice(3), ctx2);
  assert.deepEqual(b.finding, full.cb.finding);
  assert.deepEqual(b.getState(), full.cb.getState());
  // After a resume past the finding, it does not flag again.
  const c = new OverfitDetector({ rules: ["val_rising"] });
  c.setState(full.cb.getState());
  const ctx3 = new FakeContext();
  await drive([c], zip([0.1, 0.05], [1.1, 1.2]), ctx3);
  assert.equal(ctx3.run.ofType("overfitting_detected").length, 0);
  for (const c of [ctx1, ctx2, ctx3]) await c.cleanup();
});
