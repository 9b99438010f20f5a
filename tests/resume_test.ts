import assert from "node:assert/strict";
import { join } from "node:path";
import type { Callback } from "../core/train/callback.ts";
import { listResumePoints } from "../core/run/checkpoints.ts";
import { runExperiment } from "../core/experiment/run_experiment.ts";
import * as tfl from "@tensorflow/tfjs-layers";
import { ModelChangedError } from "../core/train/resume.ts";
import { float32Power } from "../core/run/model_io.ts";
import { CountingCallback, tinyExperiment } from "./helpers/tiny_experiment.ts";

const quiet = { backend: "wasm" as const, log: () => {} };

async function epochs(dir: string) {
  const text = await Deno.readTextFile(join(dir, "metrics.jsonl"));
  return text.trim().split("\n").map((l) => JSON.parse(l)).filter((r) => r.batch === undefined);
}

function close(a: number[], b: number[], tol: number, what: string) {
  assert.equal(a.length, b.length, `${what}: lengths differ`);
  for (let i = 0; i < a.length; i++) {
    assert(
      Math.abs(a[i] - b[i]) <= tol * Math.max(1, Math.abs(b[i])),
      `${what}[${i}]: ${a[i]} vs ${b[i]}`,
    );
  }
}

function weights(
  run: { trainer: { model: { getWeights(): { dataSync(): ArrayLike<number> }[] } } },
) {
  return run.trainer.model.getWeights().flatMap((w) => Array.from(w.dataSync()));
}

Deno.test("4 epochs straight == 2 epochs, stop, resume to 4 (metrics, weights, callback state)", async () => {
  const runsDir = await Deno.makeTempDir();
  const straightCounter = new CountingCallback();
  const straight = await runExperiment({
    ...quiet,
    runsDir,
    experiment: tinyExperiment(() => [straightCounter]),
  });
  const counter = new CountingCallback();
  const exp = tinyExperiment(() => [counter]);
  const first = await runExperiment({
    ...quiet,
    runsDir,
    experiment: exp,
    overrides: { epochs: 2 },
  });
  assert.equal(first.result.history.length, 2);
  const resumedCounter = new CountingCallback();
  const resumed = await runExperiment({
    ...quiet,
    runsDir,
    experiment: tinyExperiment(() => [resumedCounter]),
    resume: first.run.dir,
    overrides: { epochs: 4 },
  });
  assert.equal(resumed.run.dir, first.run.dir, "a resumed run stays one run directory");
  assert.equal(resumedCounter.epochsSeen, 4, "callback state restored (2 before + 2 after)");
  assert.equal(straightCounter.epochsSeen, 4);
  const a = await epochs(straight.run.dir), b = await epochs(first.run.dir);
  assert.deepEqual(b.map((r) => r.epoch), [0, 1, 2, 3]);
  for (const k of ["loss", "acc", "val_loss", "val_acc", "lr"]) {
    close(b.map((r) => r[k]), a.map((r) => r[k]), 1e-5, k);
  }
  close(await weights(resumed), await weights(straight), 1e-5, "weights");
  const events = (await Deno.readTextFile(join(first.run.dir, "events.jsonl"))).trim().split("\n")
    .map((l) => JSON.parse(l));
  assert(events.some((e) => e.type === "resumed" && e.epoch === 2));
  const info = JSON.parse(await Deno.readTextFile(join(first.run.dir, "run.json")));
  assert.equal(info.status, "completed");
  assert.equal(info.epochs, 4);
  assert.equal((await listResumePoints(first.run.dir)).length, 2, "keeps the newest 2 points");
});

Deno.test("interrupted mid-epoch, resumed: same as straight", async () => {
  const runsDir = await Deno.makeTempDir();
  const straight = await runExperiment({
    ...quiet,
    runsDir,
    experiment: tinyExperiment(),
    overrides: { epochs: 3 },
  });
  const controller = new AbortController();
  const aborter: Callback = {
    name: "aborter",
    onBatchEnd: (b, _l, ctx) => (ctx.epoch === 1 && b === 1 ? controller.abort() : undefined),
  };
  const first = await runExperiment({
    ...quiet,
    runsDir,
    experiment: tinyExperiment(() => [aborter]),
    overrides: { epochs: 3 },
    signal: controller.signal,
  });
  assert.equal(first.result.stopReason, "interrupted");
  const points = await listResumePoints(first.run.dir);
  assert.match(points[0], /e0001-b00002$/);
  const info1 = JSON.parse(await Deno.readTextFile(join(first.run.dir, "run.json")));
  assert.equal(info1.status, "stopped");
  const resumed = await runExperiment({
    ...quiet,
    runsDir,
    experiment: tinyExperiment(() => [{ ...aborter, onBatchEnd: () => {} }]),
    resume: first.run.dir,
  });
  assert.equal(resumed.result.status, "completed");
  const a = await epochs(straight.run.dir), b = await epochs(first.run.dir);
  for (const k of ["loss", "acc", "val_loss"]) {
    close(
      b.map((r) => r[k]),
      a.map((r) => r[k]),
      1e-5,
      k,
    );
  }
  close(await weights(resumed), await weights(straight), 1e-5, "weights");
});

Deno.test("a corrupt newest resume point falls back to the previous one and says so", async () => {
  const runsDir = await Deno.makeTempDir();
  const first = await runExperiment({
    ...quiet,
    runsDir,
    experiment: tinyExperiment(),
    overrides: { epochs: 2 },
  });
  const [newest, older] = await listResumePoints(first.run.dir);
  const bin = join(newest, "weights.bin");
  const bytes = await Deno.readFile(bin);
  bytes[10] ^= 0xff;
  await Deno.writeFile(bin, bytes);
  const warnings: string[] = [];
  const resumed = await runExperiment({
    ...quiet,
    runsDir,
    experiment: tinyExperiment(),
    resume: first.run.dir,
    overrides: { epochs: 3 },
    log: (l) => warnings.push(l),
  });
  assert.equal(resumed.resumedFrom, older);
  const events = (await Deno.readTextFile(join(first.run.dir, "events.jsonl"))).trim().split("\n")
    .map((l) => JSON.parse(l));
  const warn = events.find((e) => e.type === "warning" && String(e.message).includes("unusable"));
  assert(warn, "a warning event names the corrupt resume point");
  assert(String(warn.message).includes(newest) && String(warn.message).includes(older));
  assert.deepEqual((await epochs(first.run.dir)).map((r) => r.epoch), [0, 1, 2]);
});

Deno.test("resume refuses a folder that is not a run, and a changed batch size", async () => {
  const runsDir = await Deno.makeTempDir();
  await assert.rejects(
    runExperiment({ ...quiet, runsDir, experiment: tinyExperiment(), resume: runsDir }),
    /is not a run directory/,
  );
  const first = await runExperiment({
    ...quiet,
    runsDir,
    experiment: tinyExperiment(),
    overrides: { epochs: 1 },
  });
  await assert.rejects(
    runExperiment({
      ...quiet,
      runsDir,
      experiment: tinyExperiment(),
      resume: first.run.dir,
      overrides: { batchSize: 8 },
    }),
    /keeps its batchSize/,
  );
  await assert.rejects(
    runExperiment({
      ...quiet,
      runsDir,
      experiment: { ...tinyExperiment(), name: "other" },
      resume: first.run.dir,
    }),
    /is a run of experiment "tiny"/,
  );
});

/** The tiny experiment with a one-conv model of the given padding (same weight shapes). */
function paddedExperiment(padding: "same" | "valid") {
  return {
    ...tinyExperiment(),
    model: (shape: readonly [number, number, number], classes: number) =>
      tfl.sequential({
        layers: [
          tfl.layers.conv2d({
            inputShape: [...shape],
            filters: 4,
            kernelSize: 3,
            padding,
            activation: "relu",
          }),
          tfl.layers.globalAveragePooling2d({}),
          tfl.layers.dense({ units: classes, activation: "softmax" }),
        ],
      }),
  };
}

Deno.test("resume refuses a model that differs from the run's (padding), changing nothing", async () => {
  const runsDir = await Deno.makeTempDir();
  const first = await runExperiment({
    ...quiet,
    runsDir,
    experiment: paddedExperiment("valid"),
    overrides: { epochs: 1 },
  });
  const before = await Deno.readTextFile(join(first.run.dir, "metrics.jsonl"));
  const points = await listResumePoints(first.run.dir);
  const err = await runExperiment({
    ...quiet,
    runsDir,
    experiment: paddedExperiment("same"),
    resume: first.run.dir,
    overrides: { epochs: 2 },
  }).then(() => undefined, (e) => e);
  assert(err instanceof ModelChangedError, `expected ModelChangedError, got ${err}`);
  assert.deepEqual(err.changes, ['layer 1 (Conv2D): padding "valid" → "same"']);
  assert.match(err.message, /leave out --resume/);
  assert.equal(await Deno.readTextFile(join(first.run.dir, "metrics.jsonl")), before);
  assert.deepEqual(await listResumePoints(first.run.dir), points, "no point quarantined");
  // The same model resumes.
  const again = await runExperiment({
    ...quiet,
    runsDir,
    experiment: paddedExperiment("valid"),
    resume: first.run.dir,
    overrides: { epochs: 2 },
  });
  assert.equal(again.result.history.length, 2);
});

Deno.test("a mid-epoch stop, resumed, ends bit for bit where a run never stopped ends (Adam's accumulators as training made them)", async () => {
  const runsDir = await Deno.makeTempDir();
  const overrides = { epochs: 8 };
  const straight = await runExperiment({
    ...quiet,
    runsDir,
    experiment: tinyExperiment(),
    overrides,
  });
  for (const [stopEpoch, stopBatch] of [[5, 1], [2, 2]]) {
    const controller = new AbortController();
    const aborter: Callback = {
      name: "aborter",
      onBatchEnd: (b, _l, ctx) =>
        ctx.epoch === stopEpoch && b === stopBatch ? controller.abort() : undefined,
    };
    const first = await runExperiment({
      ...quiet,
      runsDir,
      experiment: tinyExperiment(() => [aborter]),
      overrides,
      signal: controller.signal,
    });
    assert.equal(first.result.stopReason, "interrupted");
    const resumed = await runExperiment({
      ...quiet,
      runsDir,
      experiment: tinyExperiment(() => [{ ...aborter, onBatchEnd: () => {} }]),
      resume: first.run.dir,
    });
    assert.equal(resumed.result.status, "completed");
    const a = await epochs(straight.run.dir), b = await epochs(first.run.dir);
    for (const k of ["loss", "acc", "val_loss", "val_acc"]) {
      assert.deepEqual(
        b.map((r) => r[k]),
        a.map((r) => r[k]),
        `${k} (stop at ${stopEpoch}/${stopBatch})`,
      );
    }
    assert.deepEqual(weights(resumed), weights(straight));
  }
});

Deno.test("float32Power is the product training makes, not pow", () => {
  let acc = Math.fround(0.999);
  for (let i = 1; i < 32; i++) acc = Math.fround(acc * Math.fround(0.999));
  assert.equal(float32Power(0.999, 32), acc);
  assert.equal(float32Power(0.9, 1), Math.fround(0.9));
});
