import assert from "node:assert/strict";
import { LambdaCallback } from "../callbacks/lambda_callback.ts";
import { drive, FakeContext } from "./helpers/fake_context.ts";

Deno.test("LambdaCallback: hooks run in the trainer's order with their arguments", async () => {
  const calls: string[] = [];
  const cb = new LambdaCallback({
    name: "spy",
    onTrainBegin: () => void calls.push("trainBegin"),
    onEpochBegin: (e) => void calls.push(`epochBegin ${e}`),
    onBatchBegin: (b) => void calls.push(`batchBegin ${b}`),
    onBatchEnd: (b, logs) => void calls.push(`batchEnd ${b} ${logs.loss}`),
    onEpochEnd: async (e, logs, ctx) => {
      await Promise.resolve();
      calls.push(`epochEnd ${e} ${logs.val_loss}`);
      if (e === 1) ctx.stopTraining("lambda says stop");
    },
    onTrainEnd: (logs) => void calls.push(`trainEnd ${logs.val_loss}`),
  });
  assert.equal(cb.name, "spy");
  const ctx = new FakeContext();
  await drive([cb], [{ val_loss: 1 }, { val_loss: 2 }, { val_loss: 3 }], ctx, {
    batches: () => [{ loss: 0.5 }],
  });
  assert.deepEqual(calls, [
    "trainBegin",
    "epochBegin 0",
    "batchBegin 0",
    "batchEnd 0 0.5",
    "epochEnd 0 1",
    "epochBegin 1",
    "batchBegin 0",
    "batchEnd 0 0.5",
    "epochEnd 1 2",
    "trainEnd 2",
  ]);
  assert.deepEqual(ctx.stopReasons, ["lambda says stop"]);
  await ctx.cleanup();
});

Deno.test("LambdaCallback: only given hooks exist; typos are errors; state hooks pass through", () => {
  const cb = new LambdaCallback({
    onEpochEnd: () => {},
    getState: () => ({ n: 1 }),
    setState: () => {},
  });
  assert.equal(cb.name, "LambdaCallback");
  assert.equal(cb.onBatchEnd, undefined);
  assert.deepEqual(cb.getState?.(), { n: 1 });
  assert.throws(
    () => new LambdaCallback({ onEpochEnds: () => {} } as never),
    /LambdaCallback: unknown hook "onEpochEnds"/,
  );
  assert.throws(
    () => new LambdaCallback({ onEpochEnd: 3 } as never),
    /hook "onEpochEnd" must be a function/,
  );
});
