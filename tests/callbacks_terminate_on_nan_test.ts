import assert from "node:assert/strict";
import { TerminateOnNaN } from "../callbacks/terminate_on_nan.ts";
import { drive, FakeContext } from "./helpers/fake_context.ts";

const batches = (losses: number[]) => losses.map((loss) => ({ loss, acc: 0.5, size: 4 }));

Deno.test("TerminateOnNaN: a NaN batch loss stops training with a reason and a nan_loss event", async () => {
  const ctx = new FakeContext();
  const cb = new TerminateOnNaN();
  const ran = await drive([cb], [{ loss: 1 }, { loss: 1 }, { loss: 1 }], ctx, {
    batches: (e) => batches(e === 1 ? [0.5, NaN, NaN] : [0.5, 0.4, 0.3]),
  });
  assert.equal(ran, 2); // stops after the epoch in which the NaN appeared
  assert.deepEqual(ctx.stopReasons, [
    "TerminateOnNaN: batch 2 of epoch 2 had loss NaN; training diverged (try a lower learning rate).",
  ]);
  const ev = ctx.run.ofType("nan_loss");
  assert.equal(ev.length, 1); // only the first bad batch
  assert.equal(ev[0].epoch, 1);
  assert.equal(ev[0].batch, 1);
  assert.equal(ev[0].value, "NaN");
  assert.deepEqual(cb.found, { epoch: 1, batch: 1, value: NaN });
  await ctx.cleanup();
});

Deno.test("TerminateOnNaN: +/-Infinity also stops; finite losses never do", async () => {
  for (const bad of [Infinity, -Infinity]) {
    const ctx = new FakeContext();
    await drive([new TerminateOnNaN()], [{ loss: 1 }], ctx, { batches: () => batches([1, bad]) });
    assert.equal(ctx.run.ofType("nan_loss")[0].value, String(bad));
    assert.equal(ctx.stopReasons.length, 1);
    await ctx.cleanup();
  }
  const ctx = new FakeContext();
  const ran = await drive([new TerminateOnNaN()], [{ loss: 1 }, { loss: 1 }], ctx, {
    batches: () => batches([1e30, 0, -1]),
  });
  assert.equal(ran, 2);
  assert.equal(ctx.stopReasons.length, 0);
  await ctx.cleanup();
});

Deno.test("TerminateOnNaN: monitor option and batches without the key", async () => {
  const ctx = new FakeContext();
  const cb = new TerminateOnNaN({ monitor: "aux_loss" });
  await drive([cb], [{ loss: 1 }], ctx, {
    batches: (): Record<string, number>[] => [{ loss: NaN }, { aux_loss: NaN }],
  });
  assert.equal(ctx.run.ofType("nan_loss")[0].batch, 1);
  await ctx.cleanup();
});
