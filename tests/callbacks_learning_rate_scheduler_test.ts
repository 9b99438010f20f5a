import assert from "node:assert/strict";
import { LearningRateScheduler, stepDecay } from "../callbacks/learning_rate_scheduler.ts";
import { drive, FakeContext } from "./helpers/fake_context.ts";

const epochs = (n: number) => Array.from({ length: n }, () => ({ loss: 1 }));

Deno.test("LearningRateScheduler: schedule(epoch, lr) at each epoch begin (0-based epoch)", async () => {
  const ctx = new FakeContext({ learningRate: 1 });
  const seen: [number, number][] = [];
  const cb = new LearningRateScheduler((epoch, lr) => {
    seen.push([epoch, lr]);
    return epoch < 2 ? lr : lr * 0.5;
  });
  await drive([cb], epochs(4), ctx);
  assert.deepEqual(seen, [[0, 1], [1, 1], [2, 1], [3, 0.5]]);
  assert.deepEqual(ctx.lrChanges, [0.5, 0.25]);
  // The epoch's logs see the new rate (the trainer records lr after the hooks).
  assert.deepEqual(ctx.history.map((h) => h.logs.lr), [1, 1, 0.5, 0.25]);
  const ev = ctx.run.ofType("lr_changed");
  assert.deepEqual(ev.map((e) => [e.epoch, e.oldLr, e.newLr]), [[2, 1, 0.5], [3, 0.5, 0.25]]);
  await ctx.cleanup();
});

Deno.test("LearningRateScheduler: steps such as divide by 10 at epoch 30", async () => {
  const ctx = new FakeContext({ learningRate: 0.1 });
  const cb = new LearningRateScheduler([{ at: 30, divideBy: 10 }, { at: 35, set: 0.5 }, {
    at: 36,
    multiplyBy: 2,
  }]);
  await drive([cb], epochs(40), ctx);
  assert.deepEqual(ctx.lrChanges, [0.01, 0.5, 1]);
  assert.equal(ctx.history[29].logs.lr, 0.1);
  assert.equal(ctx.history[30].logs.lr, 0.01);
  assert.throws(
    () => new LearningRateScheduler([{ at: 3, divideBy: 0 }]),
    /one positive divideBy, multiplyBy or set/,
  );
  assert.throws(
    () => new LearningRateScheduler([{ at: -1, divideBy: 2 }]),
    /step\.at must be an integer epoch >= 0/,
  );
  await ctx.cleanup();
});

Deno.test("stepDecay: at listed epochs or every N epochs", async () => {
  const at = stepDecay([30], 0.1);
  assert.equal(at(29, 1), 1);
  assert.equal(at(30, 1), 0.1);
  assert.equal(at(31, 0.1), 0.1);
  const every = stepDecay(2, 0.5);
  const ctx = new FakeContext({ learningRate: 1 });
  await drive([new LearningRateScheduler(every)], epochs(6), ctx);
  assert.deepEqual(ctx.lrChanges, [0.5, 0.25]); // at epochs 2 and 4
  assert.throws(() => stepDecay(0), /every must be an integer >= 1/);
  await ctx.cleanup();
});

Deno.test("LearningRateScheduler: a bad schedule value is an error naming the epoch", async () => {
  const ctx = new FakeContext();
  const cb = new LearningRateScheduler((e) => (e === 1 ? NaN : 0.1));
  await assert.rejects(
    drive([cb], epochs(3), ctx),
    /LearningRateScheduler: the schedule returned NaN for epoch 1/,
  );
  await ctx.cleanup();
});

Deno.test("LearningRateScheduler: state round-trips; an epoch is never scheduled twice", async () => {
  const ctx = new FakeContext({ learningRate: 1 });
  const a = new LearningRateScheduler(stepDecay(1, 0.5));
  await drive([a], epochs(2), ctx);
  const b = new LearningRateScheduler(stepDecay(1, 0.5));
  b.setState(JSON.parse(JSON.stringify(a.getState())));
  assert.deepEqual(b.getState(), { lastEpoch: 1 });
  await b.onEpochBegin(1, ctx); // re-entering the same epoch after a resume: no change
  assert.deepEqual(ctx.lrChanges, [0.5]);
  await ctx.cleanup();
});
