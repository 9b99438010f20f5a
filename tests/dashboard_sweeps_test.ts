import assert from "node:assert/strict";
import { join } from "node:path";
import { createDashboardApp } from "../dashboard/mod.ts";
import type { SweepDetail, SweepListResponse } from "../dashboard/api_types.ts";
import { expandTrials, validateSpec } from "../sweep/spec.ts";
import { createSweep, type SweepRecord, writeTrialState } from "../sweep/store.ts";
import { writeFakeRun } from "./helpers/fake_run.ts";

async function fixture() {
  const root = await Deno.makeTempDir();
  const spec = validateSpec({
    name: "s",
    parameters: { width: { values: [4, 8, 16] } },
    metric: "val_acc",
    pruner: { type: "median" },
  });
  const record: SweepRecord = {
    format: 1,
    id: "s-0123abcd",
    spec,
    experimentSource: "default",
    experimentSha256: "0".repeat(64),
    convdeckVersion: "0.1.0",
    trials: expandTrials(spec),
    plannedEpochs: [6, 6, 6],
    createdAt: new Date().toISOString(),
  };
  const dir = await createSweep(join(root, "sweeps"), record);
  const runs = join(root, "runs");
  const tag = (trial: string) => ({ sweep: { id: record.id, trial } });
  const a = await writeFakeRun(runs, { id: "run-a", epochs: 6, config: tag("t000") });
  const b = await writeFakeRun(runs, {
    id: "run-b",
    epochs: 2,
    status: "pruned",
    config: tag("t001"),
  });
  await writeFakeRun(runs, { id: "other", epochs: 2 });
  const now = new Date().toISOString();
  const base = { attempts: 1, updatedAt: now };
  await writeTrialState(dir, {
    ...base,
    key: "t000",
    index: 0,
    status: "completed",
    params: { width: 4 },
    runDir: a,
    value: 0.9,
    epochs: 6,
  });
  await writeTrialState(dir, {
    ...base,
    key: "t001",
    index: 1,
    status: "pruned",
    params: { width: 8 },
    runDir: b,
    value: 0.5,
    epochs: 2,
    reason: "pruned: val_acc best 0.5 ... (median rule)",
  });
  return { root, app: createDashboardApp({ runsDir: runs }) };
}

Deno.test("GET /api/sweeps lists sweeps with counts, best trial and epochs saved", async () => {
  const { root, app } = await fixture();
  const res = await app.request("/api/sweeps");
  assert.equal(res.status, 200);
  const body: SweepListResponse = await res.json();
  assert.equal(body.sweeps.length, 1);
  const s = body.sweeps[0];
  assert.equal(s.id, "s-0123abcd");
  assert.deepEqual([s.counts.completed, s.counts.pruned, s.counts.pending], [1, 1, 1]);
  assert.deepEqual(s.best, { key: "t000", value: 0.9 });
  assert.equal(s.epochsSavedByPruning, 4);
  assert.equal(s.pruner, "median");
  await Deno.remove(root, { recursive: true });
});

Deno.test("GET /api/sweeps/:id: trials with status, params, curve and run id; bad ids refused", async () => {
  const { root, app } = await fixture();
  const body: SweepDetail = await (await app.request("/api/sweeps/s-0123abcd")).json();
  assert.deepEqual(body.parameters, ["width"]);
  assert.deepEqual(body.trials.map((t) => [t.key, t.status, t.runId, t.curve.length]), [
    ["t000", "completed", "run-a", 6],
    ["t001", "pruned", "run-b", 2],
    ["t002", "pending", null, 0],
  ]);
  assert.match(body.trials[1].reason!, /^pruned: /);
  assert.equal(typeof body.trials[0].curve[5], "number");
  assert.equal((await app.request("/api/sweeps/nope")).status, 404);
  assert.equal((await app.request("/api/sweeps/..%2F..%2Fetc")).status, 400);
  const missing = await (await app.request("/api/sweeps/nope")).json();
  assert.doesNotMatch(missing.error, new RegExp(root));
  await Deno.remove(root, { recursive: true });
});
