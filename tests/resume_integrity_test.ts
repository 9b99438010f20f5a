import assert from "node:assert/strict";
import { join } from "node:path";
import { EarlyStopping } from "../callbacks/early_stopping.ts";
import { listResumePoints } from "../core/run/checkpoints.ts";
import { readEvents, readMetrics, readRunInfo } from "../core/run/reader.ts";
import { NoResumePointError } from "../core/train/resume.ts";
import { runExperiment } from "../core/experiment/run_experiment.ts";
import { tinyExperiment } from "./helpers/tiny_experiment.ts";

const quiet = { backend: "wasm" as const, log: () => {} };

/** A finished 3-epoch run with its resume points (newest first). */
async function trainedRun() {
  const runsDir = await Deno.makeTempDir();
  const first = await runExperiment({
    ...quiet,
    runsDir,
    experiment: tinyExperiment(),
    overrides: { epochs: 3 },
  });
  return { runsDir, dir: first.run.dir, points: await listResumePoints(first.run.dir) };
}

async function snapshot(dir: string) {
  return {
    info: await Deno.readTextFile(join(dir, "run.json")),
    metrics: await Deno.readTextFile(join(dir, "metrics.jsonl")),
  };
}

const DAMAGE: [string, (point: string) => Promise<void>, RegExp][] = [
  ["truncate weights.bin", async (p) => {
    const f = join(p, "weights.bin");
    await Deno.truncate(f, (await Deno.stat(f)).size - 7);
  }, /weights\.bin has \d+ bytes/],
  ["flip a byte of optimizer.bin", async (p) => {
    const f = join(p, "optimizer.bin");
    const b = await Deno.readFile(f);
    b[b.length >> 1] ^= 0xff;
    await Deno.writeFile(f, b);
  }, /optimizer\.bin does not match its sha256/],
  ["delete state.json", (p) => Deno.remove(join(p, "state.json")), /state\.json is missing/],
  ["edit state.json (lr 1e9, epoch 99)", async (p) => {
    const f = join(p, "state.json");
    const s = JSON.parse(await Deno.readTextFile(f));
    s.trainer.learningRate = 1e9;
    s.trainer.position.epoch = 99;
    await Deno.writeTextFile(f, JSON.stringify(s));
  }, /state\.json (has \d+ bytes|does not match)/],
  ["manifest names a file outside the point", async (p) => {
    const f = join(p, "manifest.json");
    const m = JSON.parse(await Deno.readTextFile(f));
    m.files["../../../../etc/hostname"] = { sha256: "0", bytes: 1 };
    await Deno.writeTextFile(f, JSON.stringify(m));
  }, /outside the checkpoint; refused/],
  ["model.json points its weights outside (manifest rewritten to match)", async (p) => {
    const model = JSON.parse(await Deno.readTextFile(join(p, "model.json")));
    model.weightsManifest[0].paths = ["../../etc/hostname"];
    delete model.userDefinedMetadata;
    const text = JSON.stringify(model);
    await Deno.writeTextFile(join(p, "model.json"), text);
    const bytes = new TextEncoder().encode(text);
    const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", bytes));
    const f = join(p, "manifest.json");
    const m = JSON.parse(await Deno.readTextFile(f));
    m.files["model.json"] = {
      sha256: Array.from(digest, (b) => b.toString(16).padStart(2, "0")).join(""),
      bytes: bytes.length,
    };
    await Deno.writeTextFile(f, JSON.stringify(m));
  }, /not a plain file inside the checkpoint; refused/],
];

Deno.test("resume: every kind of damage to the newest point quarantines it and falls back to the previous one", async (t) => {
  for (const [what, damage, reason] of DAMAGE) {
    await t.step(what, async () => {
      const { dir, points } = await trainedRun();
      assert.equal(points.length, 2);
      await damage(points[0]);
      const resumed = await runExperiment({
        ...quiet,
        experiment: tinyExperiment(),
        resume: dir,
        overrides: { epochs: 4 },
      });
      assert.equal(resumed.resumedFrom, points[1], "resumed from the older point");
      const q = await Array.fromAsync(Deno.readDir(join(dir, "checkpoints", "quarantine")));
      assert.equal(q.length, 1);
      const why = await Deno.readTextFile(
        join(dir, "checkpoints", "quarantine", q[0].name, "reason.txt"),
      );
      assert.match(why, reason);
      const epochs = (await readMetrics(dir)).records.filter((r) => r.batch === undefined);
      assert.deepEqual(epochs.map((r) => r.epoch), [0, 1, 2, 3], "epoch lines exactly 0..N-1");
      const warned = (await readEvents(dir)).records.filter((e) => e.type === "warning");
      assert.ok(warned.some((e) => /moved to .*quarantine/.test(String(e.message))));
    });
  }
});

Deno.test("resume: no usable point is an error that changes nothing, unless --restart", async () => {
  const { dir, points } = await trainedRun();
  for (const p of points) await Deno.truncate(join(p, "weights.bin"), 3);
  const before = await snapshot(dir);
  await assert.rejects(
    runExperiment({
      ...quiet,
      experiment: tinyExperiment(),
      resume: dir,
      overrides: { epochs: 4 },
    }),
    (e) =>
      e instanceof NoResumePointError && /resume with --restart/.test(e.message) &&
      e.quarantined.length === 2,
  );
  const after = await snapshot(dir);
  assert.equal(after.metrics, before.metrics, "metrics untouched");
  assert.equal(JSON.parse(after.info).status, "completed", "status untouched");
  // A run whose points were deleted by hand: also an error (it had finished epochs).
  await assert.rejects(
    runExperiment({
      ...quiet,
      experiment: tinyExperiment(),
      resume: dir,
      overrides: { epochs: 4 },
    }),
    /has no usable resume point/,
  );
  const restarted = await runExperiment({
    ...quiet,
    experiment: tinyExperiment(),
    resume: dir,
    restart: true,
    overrides: { epochs: 2 },
  });
  assert.equal(restarted.resumedFrom, undefined);
  const epochs = (await readMetrics(dir)).records.filter((r) => r.batch === undefined);
  assert.deepEqual(epochs.map((r) => r.epoch), [0, 1]);
  assert.ok((await readEvents(dir)).records.some((e) => e.type === "restarted"));
  assert.equal((await readRunInfo(dir)).status, "completed");
});

Deno.test("pruning keeps the newest points by save time, not by epoch number", async () => {
  const { dir, points } = await trainedRun();
  // Stale points of a later epoch (as left by a restart): older save times.
  const stale = join(dir, "checkpoints", "resume", "e0009");
  await Deno.rename(points[0], stale);
  const old = new Date(Date.now() - 3600_000);
  const manifest = JSON.parse(await Deno.readTextFile(join(stale, "manifest.json")));
  manifest.savedAt = old.toISOString();
  manifest.sequence = 1; // saved before the run's other points
  await Deno.writeTextFile(join(stale, "manifest.json"), JSON.stringify(manifest));
  const resumed = await runExperiment({
    ...quiet,
    experiment: tinyExperiment(),
    resume: dir,
    overrides: { epochs: 4 },
  });
  assert.notEqual(resumed.resumedFrom, stale, "a stale later-epoch point is not the newest save");
  const names = (await listResumePoints(dir)).map((p) => p.split("/").pop());
  assert.deepEqual(names, ["e0004", "e0003"]);
});

Deno.test("EarlyStopping's best weights travel in the resume point: restoreBestWeights works across a resume", async () => {
  const runsDir = await Deno.makeTempDir();
  // patience large: never stops; restore at the end of each train() call.
  const make =
    () => [new EarlyStopping({ monitor: "val_loss", patience: 50, restoreBestWeights: true })];
  const first = await runExperiment({
    ...quiet,
    runsDir,
    experiment: tinyExperiment(make),
    overrides: { epochs: 2 },
  });
  const resumed = await runExperiment({
    ...quiet,
    experiment: tinyExperiment(make),
    resume: first.run.dir,
    overrides: { epochs: 4 },
  });
  const events = (await readEvents(first.run.dir)).records;
  const warnings = events.filter((e) =>
    e.type === "warning" && /were not kept/.test(String(e.message))
  );
  assert.deepEqual(warnings, [], "no 'best weights lost' warning after the resume");
  const restored = events.filter((e) => e.type === "best_weights_restored");
  assert.equal(restored.length, 2, "restored at the end of both train() calls");
  const best = (await readRunInfo(first.run.dir)).best!.val_loss;
  assert.equal(restored[1].bestEpoch, best.epoch, "the restored epoch is the best val_loss epoch");
  resumed.trainer.callbacks.forEach((c) => (c as EarlyStopping).dispose?.());
});
