import assert from "node:assert/strict";
import { BUILTIN_EXPERIMENTS, loadExperiment } from "../experiments/registry.ts";
import {
  EarlyStopping,
  LearningRateScheduler,
  ModelCheckpoint,
  ReduceLROnPlateau,
} from "../callbacks/mod.ts";
import { finalEpochsStep } from "../experiments/fashion_mnist.ts";

Deno.test("every built-in experiment uses the default callbacks", async () => {
  const names = Object.keys(BUILTIN_EXPERIMENTS);
  assert.ok(names.includes("fashion_mnist"));
  for (const name of names) {
    const e = await loadExperiment(name);
    assert.ok(e.callbacks, `${name} declares no callbacks`);
    const cbs = e.callbacks(e.defaults);
    for (const kind of [ReduceLROnPlateau, EarlyStopping, ModelCheckpoint]) {
      assert.ok(cbs.some((c) => c instanceof kind), `${name} lacks ${kind.name}`);
    }
    const best = cbs.find((c) => c instanceof ModelCheckpoint) as ModelCheckpoint;
    assert.equal(best.saveBestOnly, true, `${name}: checkpoints/best keeps the best`);
    assert.ok(
      cbs.map((c) => c.name).includes("ProgressBar"),
      `${name}: the progress bar`,
    );
  }
});

Deno.test("fashion_mnist: the book's model, val_acc for the early stop and the best checkpoint, lr/10 for the last three epochs", async () => {
  const e = await loadExperiment("fashion_mnist");
  assert.deepEqual(
    [e.defaults.epochs, e.defaults.batchSize, e.defaults.learningRate, e.defaults.imageSize],
    [11, 64, 1e-3, 28],
  );
  const cbs = e.callbacks!(e.defaults);
  const stop = cbs.find((c) => c instanceof EarlyStopping) as EarlyStopping;
  assert.deepEqual([stop.monitor.monitor, stop.monitor.mode, stop.restoreBestWeights], [
    "val_acc",
    "max",
    true,
  ]);
  const best = cbs.find((c) => c instanceof ModelCheckpoint) as ModelCheckpoint;
  assert.equal(best.monitor?.monitor, "val_acc");
  const plateau = cbs.find((c) => c instanceof ReduceLROnPlateau) as ReduceLROnPlateau;
  assert.equal(plateau.monitor.monitor, "val_loss");
  assert.ok(cbs.some((c) => c instanceof LearningRateScheduler));

  // The schedule over 11 epochs: 8 at 1e-3, then 3 at 1e-4.
  const s = finalEpochsStep(11, 3, 1e-3);
  let lr = 1e-3;
  const rates = Array.from({ length: 11 }, (_, epoch) => (lr = s(epoch, lr)));
  assert.deepEqual(rates, [...Array(8).fill(1e-3), 1e-4, 1e-4, 1e-4]);
  // Already divided by ReduceLROnPlateau: not divided again.
  assert.equal(s(8, 1e-4), 1e-4);
  assert.equal(finalEpochsStep(30, 3, 1e-3)(27, 1e-3), 1e-4);
  assert.equal(finalEpochsStep(2, 3, 1e-3)(0, 1e-3), 1e-4, "fewer epochs than 3: from the first");
});
