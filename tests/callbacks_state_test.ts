import assert from "node:assert/strict";
import {
  CallbackList,
  CSVLogger,
  EarlyStopping,
  LambdaCallback,
  LearningRateScheduler,
  ModelCheckpoint,
  OverfitDetector,
  ProgressBar,
  ReduceLROnPlateau,
  stepDecay,
  TerminateOnNaN,
} from "../callbacks/mod.ts";
import type { Callback } from "../core/train/callback.ts";
import { drive, FakeContext, tinyModel } from "./helpers/fake_context.ts";

const make = (): Callback[] => [
  new ReduceLROnPlateau({ patience: 1 }),
  new EarlyStopping({ patience: 5 }),
  new ModelCheckpoint({ filepath: "best", saveBestOnly: true }),
  new OverfitDetector(),
  new TerminateOnNaN(),
  new LearningRateScheduler(stepDecay(2, 0.5)),
  new CSVLogger("t.csv"),
  new ProgressBar({ stream: { write: () => {} }, isTTY: false }),
  new LambdaCallback({ onEpochEnd: () => {} }),
];

Deno.test("callback states: every built-in's state is plain JSON and round-trips", async () => {
  const model = await tinyModel();
  const ctx = new FakeContext({ model });
  const a = make();
  ctx.callbackStates = () => new CallbackList(a).state();
  await drive(a, [{ loss: 1, val_loss: 1 }, { loss: 0.8, val_loss: 1.2 }, {
    loss: 0.6,
    val_loss: 1.3,
  }], ctx);
  const states = new CallbackList(a).state();
  assert.deepEqual(Object.keys(states), [
    "ReduceLROnPlateau",
    "EarlyStopping",
    "ModelCheckpoint",
    "OverfitDetector",
    "LearningRateScheduler",
    "CSVLogger",
  ]);
  const b = make();
  assert.deepEqual(new CallbackList(b).restore({ ...states, Gone: {} }), ["Gone"]);
  assert.deepEqual(new CallbackList(b).state(), states);
  // The checkpoint carries them too.
  const saved = JSON.parse(await Deno.readTextFile(`${ctx.run.dir}/checkpoints/best/state.json`));
  assert.deepEqual(Object.keys(saved.callbacks), Object.keys(states));
  (a[1] as EarlyStopping).dispose();
  model.dispose();
  await ctx.cleanup();
});

Deno.test("callback states: duplicate names are an error", () => {
  assert.throws(
    () => new CallbackList([new EarlyStopping(), new EarlyStopping()]).state(),
    /two callbacks are named "EarlyStopping"; give each a unique name option/,
  );
  const bad = new LambdaCallback({ getState: () => ({ n: 1n }) });
  assert.throws(
    () => new CallbackList([bad]).state(),
    /LambdaCallback\.getState\(\) did not return plain JSON/,
  );
});
