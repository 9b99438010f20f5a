import assert from "node:assert/strict";
import { join } from "node:path";
import { createDashboardApp } from "../dashboard/mod.ts";
import type { SweepDetail, SweepListResponse } from "../dashboard/api_types.ts";
import { writeFakeSweep } from "./helpers/fake_sweep.ts";

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
