import assert from "node:assert/strict";
import { isBetter, Monitor, resolveMode } from "../callbacks/monitor.ts";
import { FakeContext } from "./helpers/fake_context.ts";
import { freezeLogs } from "../core/train/logs.ts";

Deno.test("resolveMode: auto strips val_ and knows loss/acc directions", () => {
  assert.deepEqual(resolveMode("val_loss", "auto"), "min");
  assert.deepEqual(resolveMode("loss", "auto"), "min");
  assert.deepEqual(resolveMode("val_acc", "auto"), "max");
  assert.deepEqual(resolveMode("accuracy", "auto"), "max");
  assert.deepEqual(resolveMode("val_top_k_acc", "auto"), "max");
  assert.deepEqual(resolveMode("val_recon_loss", "auto"), "min");
  assert.deepEqual(resolveMode("val_lr", "max"), "max");
});

Deno.test("resolveMode: auto throws a clear error when it cannot tell", () => {
  assert.throws(
    () => resolveMode("val_score", "auto", "EarlyStopping"),
    /EarlyStopping: cannot tell whether "val_score" should be minimised or maximised/,
  );
  // Keras 2 guessed max for anything containing "acc"; we do not.
  assert.throws(() => resolveMode("accent", "auto"), /pass mode: "min" or mode: "max"/);
  assert.throws(() => resolveMode("loss", "up" as "min"), /mode must be "auto"/);
});

Deno.test("isBetter: absolute minDelta, strict, NaN never better", () => {
  assert.ok(isBetter(0.5, undefined, "min"));
  assert.ok(isBetter(0.5, 0.6, "min", 0.05));
  assert.ok(!isBetter(0.55, 0.6, "min", 0.05)); // needs current < best - minDelta
  assert.ok(!isBetter(0.6, 0.6, "min"));
  assert.ok(isBetter(0.7, 0.6, "max", 0.05));
  assert.ok(!isBetter(0.65, 0.6, "max", 0.05));
  assert.ok(!isBetter(0.65, 0.6, "max", -0.05)); // sign of minDelta is ignored
  assert.ok(!isBetter(NaN, undefined, "min"));
  assert.ok(!isBetter(NaN, 0.6, "min"));
  assert.ok(!isBetter(Infinity, undefined, "min"));
  assert.ok(!isBetter(-Infinity, 0.6, "min"));
});

Deno.test("Monitor: NaN never becomes best; missing metric warns once naming keys", async () => {
  const ctx = new FakeContext();
  const m = new Monitor({ monitor: "val_loss", owner: "Demo" });
  assert.ok(!m.update(NaN));
  assert.deepEqual(m.best, undefined);
  assert.ok(m.update(0.9));
  assert.ok(!m.update(NaN));
  assert.deepEqual(m.best, 0.9);

  const logs = freezeLogs({ loss: 1, acc: 0.5 });
  assert.deepEqual(await m.read(logs, ctx), undefined);
  assert.deepEqual(await m.read(logs, ctx), undefined);
  assert.deepEqual(ctx.run.warnings.length, 1);
  assert.match(ctx.run.warnings[0], /^Demo: monitored metric "val_loss" is not in the logs/);
  assert.match(ctx.run.warnings[0], /Available keys: loss, acc\./);
  const ev = ctx.run.ofType("warning")[0];
  assert.deepEqual(ev.available, ["loss", "acc"]);
  assert.deepEqual(await m.read(freezeLogs({ val_loss: 0.3 }), ctx), 0.3);

  const m2 = new Monitor({ monitor: "val_loss", owner: "Demo" });
  m2.setState(m.getState());
  assert.deepEqual(m2.best, 0.9);
  await m2.read(logs, ctx); // warned flag restored: no second warning
  assert.deepEqual(ctx.run.warnings.length, 1);
  await ctx.cleanup();
});

Deno.test("Monitor: bad minDelta is an error", () => {
  assert.throws(() => new Monitor({ monitor: "loss", minDelta: NaN, owner: "X" }), /minDelta/);
});
