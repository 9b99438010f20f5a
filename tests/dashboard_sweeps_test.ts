import assert from "node:assert/strict";
import { join } from "node:path";
import { createDashboardApp } from "../dashboard/mod.ts";
import type { SweepDetail, SweepListResponse } from "../dashboard/api_types.ts";
import { writeFakeSweep } from "./helpers/fake_sweep.ts";
import { writeFakeRun, writeJsonAtomic } from "./helpers/fake_run.ts";
import { writeTrialState } from "../sweep/store.ts";
import { thisHost } from "../core/run/lock.ts";
import { RUN_FILES } from "../core/run/format.ts";

async function fixture() {
  const root = await Deno.makeTempDir();
  await writeFakeSweep(root);
  return { root, app: createDashboardApp({ runsDir: join(root, "runs") }) };
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
  assert.deepEqual(body.parameters, ["width", "note"]);
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

Deno.test("a trial the controller left running shows as its run stands (dead heartbeat: stopped; live: running)", async () => {
  const root = await Deno.makeTempDir();
  const id = await writeFakeSweep(root);
  const sweepDir = join(root, "sweeps", id);
  const runs = join(root, "runs");
  const tag = { sweep: { id, trial: "t002" } };
  const run = await writeFakeRun(runs, { id: "run-c", status: "running", epochs: 1, config: tag });
  const info = JSON.parse(await Deno.readTextFile(join(run, "run.json")));
  await writeJsonAtomic(join(run, "run.json"), { ...info, updatedAt: new Date().toISOString() });
  await writeTrialState(sweepDir, {
    key: "t002",
    index: 2,
    status: "running",
    params: { width: 16, note: "plain" },
    runDir: run,
    attempts: 1,
    updatedAt: new Date().toISOString(),
  });
  const app = createDashboardApp({ runsDir: runs });
  const trial = async () => {
    const d: SweepDetail = await (await app.request(`/api/sweeps/${id}`)).json();
    const list: SweepListResponse = await (await app.request("/api/sweeps")).json();
    return { t: d.trials.find((t) => t.key === "t002")!, counts: list.sweeps[0].counts };
  };
  // The trial's process (a stand-in) beats: running.
  const owner = new Deno.Command("sleep", { args: ["60"] }).spawn();
  const beat = (pid: number) =>
    Deno.writeTextFile(
      join(run, RUN_FILES.heartbeat),
      JSON.stringify({ host: thisHost(), pid, token: "t", since: Date.now(), time: Date.now() }),
    );
  await beat(owner.pid);
  try {
    assert.equal((await trial()).t.status, "running");
    assert.equal((await trial()).counts.running, 1);
    // The controller and its trial die: the controller's file still says running.
    owner.kill("SIGKILL");
    await owner.status;
    const { t, counts } = await trial();
    assert.equal(t.status, "stopped");
    assert.match(t.reason ?? "", /run-c crashed \(dead-process\)/);
    assert.equal(counts.running, 0);
    assert.equal(counts.stopped, 1);
  } finally {
    try {
      owner.kill("SIGKILL");
    } catch { /* gone */ }
  }
  // A trial said to be running with no run and no news for long: stopped.
  await writeTrialState(sweepDir, {
    key: "t002",
    index: 2,
    status: "running",
    params: { width: 16, note: "plain" },
    attempts: 1,
    updatedAt: new Date(Date.now() - 10 * 60_000).toISOString(),
  });
  await Deno.remove(run, { recursive: true });
  assert.equal((await trial()).t.status, "stopped");
});
