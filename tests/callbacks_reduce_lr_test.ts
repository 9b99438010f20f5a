import assert from "node:assert/strict";
import { ReduceLROnPlateau } from "../callbacks/reduce_lr_on_plateau.ts";
import { drive, FakeContext } from "./helpers/fake_context.ts";

const vl = (...xs: number[]) => xs.map((v) => ({ loss: 1, val_loss: v }));

Deno.test("ReduceLROnPlateau: defaults match Keras", () => {
  const cb = new ReduceLROnPlateau();
  assert.deepEqual(cb.monitor.monitor, "val_loss");
  assert.deepEqual(cb.monitor.mode, "min");
  assert.deepEqual(cb.factor, 0.1);
  assert.deepEqual(cb.patience, 10);
  assert.deepEqual(cb.monitor.minDelta, 1e-4);
  assert.deepEqual(cb.cooldown, 0);
  assert.deepEqual(cb.minLr, 0);
});

Deno.test("ReduceLROnPlateau: factor >= 1 and bad options are errors", () => {
  assert.throws(() => new ReduceLROnPlateau({ factor: 1 }), /factor must be > 0 and < 1/);
  assert.throws(() => new ReduceLROnPlateau({ factor: 1.5 }), /factor/);
  assert.throws(() => new ReduceLROnPlateau({ patience: -1 }), /patience/);
  assert.throws(() => new ReduceLROnPlateau({ monitor: "val_score" }), /cannot tell/);
});

Deno.test("ReduceLROnPlateau: reduces after patience epochs without improvement, logs event", async () => {
  const ctx = new FakeContext({ learningRate: 0.1 });
  const cb = new ReduceLROnPlateau({ patience: 2, factor: 0.5 });
  // epoch0 best=1; e1 wait1; e2 wait2 -> reduce; e3 wait1; e4 wait2 -> reduce
  await drive([cb], vl(1, 1, 1, 1, 1), ctx);
  assert.deepEqual(ctx.lrChanges, [0.05, 0.025]);
  const ev = ctx.run.ofType("lr_changed");
  assert.deepEqual(ev.length, 2);
  assert.deepEqual(ev[0].epoch, 2);
  assert.deepEqual(ev[0].oldLr, 0.1);
  assert.deepEqual(ev[0].newLr, 0.05);
  assert.deepEqual(cb.lrHistory.map((h) => h.epoch), [2, 4]);
  await ctx.cleanup();
});

Deno.test("ReduceLROnPlateau: minDelta is absolute", async () => {
  const ctx = new FakeContext({ learningRate: 1 });
  const cb = new ReduceLROnPlateau({ patience: 1, minDelta: 0.1 });
  // 1.0 -> 0.95 is not an improvement by 0.1 -> reduce at epoch 1; 0.8 is (< 1.0 - 0.1).
  await drive([cb], vl(1, 0.95, 0.8), ctx);
  assert.deepEqual(ctx.lrChanges, [0.1]);
  assert.deepEqual(cb.monitor.best, 0.8);
  await ctx.cleanup();
});

Deno.test("ReduceLROnPlateau: cooldown (Keras order: decrement, then count in same epoch)", async () => {
  const ctx = new FakeContext({ learningRate: 1 });
  const cb = new ReduceLROnPlateau({ patience: 1, cooldown: 2, factor: 0.5 });
  // e0 best; e1 wait1 -> reduce, cooldown=2; e2 cooldown->1 (no count); e3 cooldown->0, then
  // not in cooldown -> wait1 -> reduce; e4 cooldown 2->1.
  await drive([cb], vl(1, 1, 1, 1, 1), ctx);
  assert.deepEqual(cb.lrHistory.map((h) => h.epoch), [1, 3]);
  assert.deepEqual(ctx.lrChanges, [0.5, 0.25]);
  await ctx.cleanup();
});

Deno.test("ReduceLROnPlateau: improvement during cooldown updates best and resets wait", async () => {
  const ctx = new FakeContext({ learningRate: 1 });
  const cb = new ReduceLROnPlateau({ patience: 1, cooldown: 3 });
  await drive([cb], vl(1, 1, 0.5), ctx);
  assert.deepEqual(cb.monitor.best, 0.5);
  assert.deepEqual(cb.wait, 0);
  assert.deepEqual(cb.cooldownCounter, 2);
  await ctx.cleanup();
});

Deno.test("ReduceLROnPlateau: never below minLr, and stops reducing at the floor", async () => {
  const ctx = new FakeContext({ learningRate: 0.01 });
  const cb = new ReduceLROnPlateau({ patience: 1, factor: 0.1, minLr: 0.005 });
  await drive([cb], vl(1, 1, 1, 1, 1), ctx);
  assert.deepEqual(ctx.lrChanges, [0.005]);
  assert.deepEqual(ctx.learningRate, 0.005);
  await ctx.cleanup();
});

Deno.test("ReduceLROnPlateau: mode max with val_acc", async () => {
  const ctx = new FakeContext({ learningRate: 1 });
  const cb = new ReduceLROnPlateau({ monitor: "val_acc", patience: 1 });
  await drive([cb], [{ val_acc: 0.5 }, { val_acc: 0.6 }, { val_acc: 0.55 }], ctx);
  assert.deepEqual(cb.monitor.mode, "max");
  assert.deepEqual(cb.lrHistory.map((h) => h.epoch), [2]);
  await ctx.cleanup();
});

Deno.test("ReduceLROnPlateau: NaN counts as no improvement and never becomes best", async () => {
  const ctx = new FakeContext({ learningRate: 1 });
  const cb = new ReduceLROnPlateau({ patience: 2 });
  await drive([cb], vl(NaN, NaN, 0.5, NaN, NaN), ctx);
  // e0 NaN: wait1; e1 NaN: wait2 -> reduce; e2 0.5 best; e3, e4 -> reduce
  assert.deepEqual(cb.lrHistory.map((h) => h.epoch), [1, 4]);
  assert.deepEqual(cb.monitor.best, 0.5);
  await ctx.cleanup();
});

Deno.test("ReduceLROnPlateau: missing metric warns once with keys, takes no action", async () => {
  const ctx = new FakeContext({ learningRate: 1 });
  const cb = new ReduceLROnPlateau({ patience: 0 });
  await drive([cb], [{ loss: 1, acc: 0.1 }, { loss: 1, acc: 0.1 }, { loss: 1, acc: 0.1 }], ctx);
  assert.deepEqual(ctx.lrChanges, []);
  assert.deepEqual(ctx.run.warnings.length, 1);
  assert.match(
    ctx.run.warnings[0],
    /ReduceLROnPlateau: monitored metric "val_loss" is not in the logs.*Available keys: loss, acc, lr\./,
  );
  await ctx.cleanup();
});

Deno.test("ReduceLROnPlateau: state round-trips so a resumed run continues identically", async () => {
  const script = vl(1, 1, 1, 0.9, 1, 1, 1, 1);
  const full = new FakeContext({ learningRate: 1 });
  const a = new ReduceLROnPlateau({ patience: 2, cooldown: 1 });
  await drive([a], script, full);

  const first = new FakeContext({ learningRate: 1 });
  const b1 = new ReduceLROnPlateau({ patience: 2, cooldown: 1 });
  await drive([b1], script.slice(0, 4), first);
  const state = JSON.parse(JSON.stringify(b1.getState()));
  const b2 = new ReduceLROnPlateau({ patience: 2, cooldown: 1 });
  b2.setState(state);
  const second = new FakeContext({ learningRate: first.learningRate });
  second.history.push(...first.history);
  await drive([b2], script.slice(4), second);
  assert.deepEqual([...first.lrChanges, ...second.lrChanges], full.lrChanges);
  assert.deepEqual(b2.getState(), a.getState());
  for (const c of [full, first, second]) await c.cleanup();
});
