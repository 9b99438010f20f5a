import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { join } from "node:path";
import { RunWriter } from "../core/run/writer.ts";
import { acquireRunLock, RunLockedError } from "../core/run/lock.ts";
import { planSweep } from "../sweep/plan.ts";
import { createSweep, readSweep, readTrialStates } from "../sweep/store.ts";
import {
  checkSameCode,
  metricHistory,
  runTrial,
  trialClaimDir,
  TrialRefused,
} from "../sweep/trial.ts";
import { trialOverrides } from "../sweep/spec.ts";
import { writeFakeRun } from "./helpers/fake_run.ts";
import { parseSweepArgs } from "../cli/sweep.ts";
import { parseWorkerArgs } from "../cli/sweep_worker.ts";
import { runCli } from "./helpers/sweep_check.ts";

const SWEEP = fileURLToPath(new URL("../cli/sweep.ts", import.meta.url));

/** The run folders in `runs` (the hidden trial claims aside), sorted. */
function runNames(runs: string): string[] {
  return [...Deno.readDirSync(runs)].map((e) => e.name).filter((n) => !n.startsWith(".")).sort();
}

async function specFile(dir: string, spec: unknown): Promise<string> {
  const path = join(dir, "spec.json");
  await Deno.writeTextFile(path, JSON.stringify(spec));
  return path;
}

Deno.test("sweep CLI: a bad spec or unknown parameter names the field, exit 2, nothing created", async () => {
  const cwd = await Deno.makeTempDir();
  await specFile(cwd, {
    experiment: "default",
    parameters: { widht: { values: [4] }, width: { values: [8, 1000] } },
    metric: "val_acc",
  });
  const unknown = await runCli(SWEEP, ["spec.json"], cwd);
  assert.equal(unknown.code, 2, unknown.err);
  assert.match(
    unknown.err,
    /parameters\.widht: unknown parameter \(experiment default has .*width/,
  );
  await specFile(cwd, {
    experiment: "default",
    parameters: { width: { values: [8, 1000] } },
    metric: "val_acc",
  });
  const range = await runCli(SWEEP, ["spec.json"], cwd);
  assert.equal(range.code, 2, range.err);
  assert.match(
    range.err,
    /trial t001: \{"width":1000\}\): Invalid parameters: width must be <= 512/,
  );
  await specFile(cwd, { parameters: { width: { values: [] } }, metric: "val_acc" });
  const empty = await runCli(SWEEP, ["spec.json"], cwd);
  assert.equal(empty.code, 2);
  assert.match(empty.err, /parameters\.width\.values: must be a non-empty list/);
  const missing = await runCli(SWEEP, ["nope.json"], cwd);
  assert.equal(missing.code, 1);
  assert.match(missing.err, /Cannot read the sweep spec .*nope\.json/);
  assert.deepEqual([...Deno.readDirSync(cwd)].map((e) => e.name), ["spec.json"]);
  await Deno.remove(cwd, { recursive: true });
});

Deno.test("sweep flags: bad values are errors", () => {
  assert.throws(() => parseSweepArgs([]), /give a spec file, or --resume/);
  assert.throws(
    () => parseSweepArgs(["a.json", "--workers", "0"]),
    /--workers must be an integer >= 1/,
  );
  assert.throws(() => parseSweepArgs(["a.json", "--queue", "http://x"]), /--queue takes redis/);
  assert.throws(
    () => parseSweepArgs(["a.json", "--queue", "redis://h:1", "--workers", "2"]),
    /--workers and --threads are for local sweeps/,
  );
  assert.equal(parseSweepArgs(["a.json", "--workers", "3"]).workers, 3);
  assert.throws(() => parseWorkerArgs([]), /--queue redis:\/\/HOST:PORT is required/);
  assert.equal(parseWorkerArgs(["--queue", "redis://h:1"]).lockMs, 5000);
});

Deno.test("trialOverrides: standard options, data and parameters apart", () => {
  assert.deepEqual(
    trialOverrides({ epochs: 2, learningRate: 0.1, width: 8, data: "d", strictData: true }),
    { epochs: 2, learningRate: 0.1, data: "d", strictData: true, params: { width: 8 } },
  );
});

Deno.test("a trial whose run another live process trains is refused, not started again", async () => {
  const cwd = await Deno.makeTempDir();
  const record = await planSweep(
    await specFile(cwd, {
      experiment: "default",
      settings: { epochs: 1 },
      parameters: { width: { values: [4] } },
      metric: "val_acc",
    }),
  );
  const dir = await createSweep(join(cwd, "sweeps"), record);
  const { record: stored } = await readSweep(dir);
  assert.deepEqual(stored.trials, record.trials);
  assert.equal((await readTrialStates(dir, stored))[0].status, "pending");
  await assert.rejects(createSweep(join(cwd, "sweeps"), record), /exists: .*--resume/);
  const runs = join(cwd, "runs");
  const held = await RunWriter.create({
    runsDir: runs,
    experiment: "default",
    config: { sweep: { id: record.id, trial: "t000" } },
    warn: () => {},
  });
  try {
    await assert.rejects(
      runTrial({ sweep: stored, trial: stored.trials[0], runsDir: runs, log: () => {} }),
      (err) => err instanceof RunLockedError,
    );
    assert.deepEqual(runNames(runs), [held.id], "no second run of the trial");
    // A trial claimed by another live process is refused before anything is read or made.
    const claim = await acquireRunLock(await trialClaimDir(runs, record.id, "t000"));
    try {
      await assert.rejects(
        runTrial({ sweep: stored, trial: stored.trials[0], runsDir: runs, log: () => {} }),
        (err) => err instanceof RunLockedError && /\.sweep-trials/.test(err.message),
      );
    } finally {
      await claim.release();
    }
  } finally {
    await held.close();
  }
  await Deno.remove(cwd, { recursive: true });
});

Deno.test("a trial's finished run is reported, not run again; early stopping counts as completed", async () => {
  const cwd = await Deno.makeTempDir();
  const record = await planSweep(
    await specFile(cwd, {
      experiment: "default",
      settings: { epochs: 9 },
      parameters: { width: { values: [4, 8] } },
      metric: "val_loss",
    }),
  );
  const runs = join(cwd, "runs");
  const tag = (trial: string) => ({ sweep: { id: record.id, trial } });
  const early = await writeFakeRun(runs, {
    id: "early",
    epochs: 4,
    status: "stopped",
    stopReason: "EarlyStopping: val_loss did not improve for 2 epochs",
    config: tag("t000"),
  });
  await writeFakeRun(runs, {
    id: "pruned",
    epochs: 2,
    status: "pruned",
    stopReason: "pruned: ...",
    config: tag("t001"),
  });
  const a = await runTrial({
    sweep: record,
    trial: record.trials[0],
    runsDir: runs,
    log: () => {},
  });
  assert.deepEqual(
    [a.status, a.runDir, a.epochs, a.alreadyFinished, a.resumed],
    ["completed", early, 4, true, false],
  );
  assert.match(a.reason!, /^EarlyStopping/);
  assert.equal(a.value, Math.min(...(await metricHistory(early, "val_loss"))));
  const b = await runTrial({
    sweep: record,
    trial: record.trials[1],
    runsDir: runs,
    log: () => {},
  });
  assert.deepEqual([b.status, b.epochs, b.alreadyFinished], ["pruned", 2, true]);
  assert.deepEqual(runNames(runs), ["early", "pruned"], "nothing new trained");
  await Deno.remove(cwd, { recursive: true });
});

Deno.test("a worker of another convdeck version is refused with the reason", async () => {
  const cwd = await Deno.makeTempDir();
  const record = await planSweep(
    await specFile(cwd, {
      parameters: { width: { values: [4] } },
      metric: "val_acc",
    }),
  );
  await checkSameCode(record);
  await assert.rejects(
    checkSameCode({ ...record, convdeckVersion: "9.9.9" }),
    (err) =>
      err instanceof TrialRefused &&
      /this worker runs convdeck 0\.1\.0, the sweep .* was planned with 9\.9\.9/.test(err.message),
  );
  await assert.rejects(
    checkSameCode({ ...record, experimentSha256: "f".repeat(64) }),
    /experiment default or a module it imports differs from the sweep's \(module graph sha256 [0-9a-f]{12} here, ffffffffffff/,
  );
  await Deno.remove(cwd, { recursive: true });
});

Deno.test("a spec can be a TypeScript module whose default export is the spec", async () => {
  const cwd = await Deno.makeTempDir();
  const path = join(cwd, "spec.ts");
  await Deno.writeTextFile(
    path,
    `const widths = [4, 8];\nexport default {\n  name: "ts_spec",\n  parameters: { width: { values: widths } },\n  metric: "val_loss",\n  pruner: { type: "asha", minEpochs: 1, reductionFactor: 2 },\n};\n`,
  );
  const record = await planSweep(path);
  assert.match(record.id, /^ts_spec-[0-9a-f]{8}$/);
  assert.deepEqual(record.trials.map((t) => t.params.width), [4, 8]);
  assert.deepEqual(record.plannedEpochs, [15, 15], "the experiment's default epochs");
  assert.equal(record.spec.direction, "min");
  assert.equal((await planSweep(path)).id, record.id, "the id is deterministic");
  await Deno.remove(cwd, { recursive: true });
});

Deno.test("a local sweep is not resumed on a queue, nor a queued one locally (no trial twice)", async () => {
  const cwd = await Deno.makeTempDir();
  const record = await planSweep(
    await specFile(cwd, {
      parameters: { width: { values: [4] } },
      metric: "val_acc",
    }),
  );
  const local = await createSweep(join(cwd, "sweeps"), record);
  const q = await runCli(SWEEP, ["--resume", local, "--queue", "redis://127.0.0.1:1"], cwd);
  assert.equal(q.code, 1);
  assert.match(q.err, /is a local sweep; resume it without --queue/);
  const again = await runCli(SWEEP, ["spec.json", "--queue", "redis://127.0.0.1:1"], cwd);
  assert.equal(again.code, 1);
  assert.match(again.err, /Redis is not reachable at redis:\/\/127\.0\.0\.1:1/);
  const queued = await createSweep(join(cwd, "queued"), { ...record, queue: "convdeck-sweep" });
  const l = await runCli(SWEEP, ["--resume", queued], cwd);
  assert.equal(l.code, 1);
  assert.match(l.err, /runs on the queue "convdeck-sweep"; follow it with --resume .* --queue/);
  assert.equal([...Deno.readDirSync(cwd)].some((e) => e.name === "runs"), false);
  await Deno.remove(cwd, { recursive: true });
});

Deno.test("a finished trial whose run was deleted is trained again on --resume, not reported done", async () => {
  const cwd = await Deno.makeTempDir({ prefix: "sweep-gone-" });
  await Deno.writeTextFile(
    join(cwd, "spec.json"),
    JSON.stringify({
      name: "gone",
      experiment: "default",
      settings: { epochs: 1, imageSize: 16 },
      parameters: { width: { values: [4] } },
      metric: "val_acc",
    }),
  );
  const first = await runCli(SWEEP, ["spec.json", "--backend", "wasm"], cwd);
  assert.equal(first.code, 0, first.err);
  const [sweepDir] = [...Deno.readDirSync(join(cwd, "sweeps"))].map((e) =>
    join(cwd, "sweeps", e.name)
  );
  const { record } = await readSweep(sweepDir);
  const [before] = await readTrialStates(sweepDir, record);
  await Deno.remove(before.runDir!, { recursive: true });
  const again = await runCli(SWEEP, ["--resume", sweepDir, "--backend", "wasm"], cwd);
  assert.equal(again.code, 0, again.err);
  assert.match(again.err, /t000: their runs were deleted; training them again/);
  assert.match(again.out, /1\/1 done/);
  const [after] = await readTrialStates(sweepDir, record);
  assert.equal(after.status, "completed");
  assert.notEqual(after.runDir, before.runDir);
  assert.ok(Deno.statSync(join(after.runDir!, "run.json")).isFile, "its new run exists");
  await Deno.remove(cwd, { recursive: true });
});
