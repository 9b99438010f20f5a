/**
 * What the dashboard's API sends never names where the runs folder is (absolute paths in run
 * files, e.g. a checkpoint event's `path`, are made relative to the runs folder), and a resumed
 * run's duration leaves out the time it was dead.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { createDashboardApp } from "../dashboard/mod.ts";
import {
  RESUMED_ALIVE_MS,
  writeFakeRun,
  writeJsonAtomic,
  writeResumedRun,
} from "./helpers/fake_run.ts";
import { writeRunsFixture } from "./helpers/runs_fixture.ts";
import { writeFakeSweep } from "./helpers/fake_sweep.ts";

Deno.test("no API answer contains the runs folder's absolute path", async () => {
  const root = await Deno.realPath(await Deno.makeTempDir({ prefix: "convdeck-paths-" }));
  const runs = join(root, "runs");
  await writeRunsFixture(runs);
  await writeFakeSweep(root);
  const dir = await writeFakeRun(runs, {
    id: "abs",
    viz: true,
    evaluation: true,
    events: [{
      type: "checkpoint_saved",
      epoch: 1,
      step: 10,
      time: Date.UTC(2025, 0, 1, 0, 1),
      path: join(runs, "abs", "checkpoints", "best"),
    }],
  });
  const info = JSON.parse(await Deno.readTextFile(join(dir, "run.json")));
  await writeJsonAtomic(join(dir, "run.json"), {
    ...info,
    status: "failed",
    error: `cannot write ${join(runs, "abs", "viz")}: disk full`,
  });
  const app = createDashboardApp({ runsDir: runs, pollMs: 20 });
  const ids = (await (await app.request("/api/runs?archived=1")).json()).runs.map((
    r: { id: string },
  ) => r.id);
  assert.ok(ids.length >= 9, ids.join(","));
  const urls = ["/api/runs?archived=1", "/api/runs?group=optimizer", "/api/sweeps"];
  for (const id of ids) {
    for (const rest of ["", "/metrics", "/events", "/viz", "/evaluation", "/predict"]) {
      urls.push(`/api/runs/${id}${rest}`);
    }
  }
  urls.push("/api/sweeps/s-0123abcd", "/api/runs/nope", "/api/runs/abs/files/viz/nope.png");
  // The absolute path, not the tail of a relative one (`../../tmp/...` of a resume command).
  const absolute = new RegExp(`(^|[^.])${root.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}`);
  const leaks: string[] = [];
  for (const url of urls) {
    const body = await (await app.request(url)).text();
    const at = body.search(absolute);
    if (at >= 0) leaks.push(`${url}: ${body.slice(Math.max(0, at - 60), at + 80)}`);
  }
  // The live stream's first events too.
  const ac = new AbortController();
  const res = await app.request("/api/runs/abs/stream", { signal: ac.signal });
  const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader();
  let text = "";
  while (!/event: state/.test(text)) {
    const r = await reader.read();
    if (r.done) break;
    text += r.value;
  }
  ac.abort();
  await reader.cancel().catch(() => {});
  assert.match(text, /checkpoints\/best/);
  if (absolute.test(text)) leaks.push(`stream: ${text}`);
  assert.deepEqual(leaks, [], leaks.join("\n"));
});

Deno.test("a resumed run's duration leaves out the time it was dead", async () => {
  const runs = await Deno.makeTempDir();
  await writeResumedRun(runs, "resumed");
  const app = createDashboardApp({ runsDir: runs });
  const detail = await (await app.request("/api/runs/resumed")).json();
  // 0-20 s alive, dead until 3000 s, alive 3000-3030 s: 50 s, not 3030 s.
  assert.equal(detail.summary.durationMs, RESUMED_ALIVE_MS);
  assert.equal(detail.summary.cells.duration, RESUMED_ALIVE_MS / 1000);
});
