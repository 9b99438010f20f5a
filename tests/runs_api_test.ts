import assert from "node:assert/strict";
import { join } from "node:path";
import { createDashboardApp } from "../dashboard/mod.ts";
import { TOKEN_HEADER } from "../dashboard/origin_check.ts";
import { FIXTURE_IDS as F, writeRunsFixture } from "./helpers/runs_fixture.ts";
import { thisHost } from "../core/run/lock.ts";
import { writeFakeRun } from "./helpers/fake_run.ts";

const TOKEN = "t0ken";
const ORIGIN = "http://127.0.0.1:6006";

async function fixture() {
  const root = await writeRunsFixture(await Deno.makeTempDir());
  return { root, app: createDashboardApp({ runsDir: root, token: TOKEN }) };
}

function send(
  app: ReturnType<typeof createDashboardApp>,
  path: string,
  method: string,
  body?: unknown,
  headers: Record<string, string> = { Origin: ORIGIN, [TOKEN_HEADER]: TOKEN },
) {
  return app.request(`${ORIGIN}${path}`, {
    method,
    headers: { "Content-Type": "application/json", Host: "127.0.0.1:6006", ...headers },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
}

Deno.test("GET /api/runs: query, sort, group, archived, paging; crashed with the resume command; 400 on a bad query", async () => {
  const { app } = await fixture();
  const all = await (await app.request("/api/runs")).json();
  assert.equal(all.total, 6);
  assert.equal(all.matched, 5);
  assert.equal(all.archivedHidden, 1);
  const killed = all.runs.find((r: { id: string }) => r.id === F.killed);
  assert.equal(killed.status, "crashed");
  assert.equal(killed.crashReason, "dead-process");
  assert.match(killed.resumeCommand, new RegExp(`^deno task train --resume \\S*${F.killed}$`));
  assert.ok(
    all.columns.some((c: { key: string; group: string }) =>
      c.key === "width" && c.group === "hyperparameter"
    ),
  );
  const q = encodeURIComponent(
    "lr < 0.01 and val_acc > 0.9 and tag = baseline and status != crashed",
  );
  const found = await (await app.request(`/api/runs?q=${q}&sort=learningRate&desc=0`)).json();
  assert.deepEqual(found.runs.map((r: { id: string }) => r.id), [F.lrSmall, F.lrMid]);
  assert.deepEqual(found.runs[0].tags, ["baseline"]);
  assert.equal(found.runs[0].name, "small lr");
  const grouped = await (await app.request("/api/runs?group=optimizer&archived=1")).json();
  assert.deepEqual(
    grouped.groups.map((g: { value: string; count: number }) => [g.value, g.count]),
    [["adam", 4], ["rmsprop", 1], ["sgd", 1]],
  );
  const page = await (await app.request("/api/runs?limit=2&offset=2")).json();
  assert.deepEqual(page.runs.map((r: { id: string }) => r.id), [F.lrBig, F.lrMid]);
  const bad = await app.request(`/api/runs?q=${encodeURIComponent("lr < < 1")}`);
  assert.equal(bad.status, 400);
  assert.match((await bad.json()).error, /at character 6: "< 1"\)$/);
  assert.equal((await app.request("/api/runs?sort=nope")).status, 400);
  assert.equal((await app.request("/api/runs?desc=maybe")).status, 400);
  const detail = await (await app.request(`/api/runs/${F.killed}`)).json();
  assert.equal(detail.summary.status, "crashed");
  assert.equal(detail.info.status, "running", "nothing written to mark the crash");
});

Deno.test("PATCH /api/runs/:id/meta edits the sidecar behind the origin check; bad edits change nothing", async () => {
  const { root, app } = await fixture();
  const ok = await send(app, `/api/runs/${F.sgd}/meta`, "PATCH", {
    addTags: ["x", "y"],
    note: "n",
    name: "sgd run",
  });
  assert.equal(ok.status, 200);
  assert.deepEqual((await ok.json()).meta.tags, ["x", "y"]);
  const list = await (await app.request(`/api/runs?q=${encodeURIComponent("tag = y")}`)).json();
  assert.deepEqual(
    list.runs.map((r: { id: string }) => r.id),
    [F.sgd],
    "the index sees the edit at once",
  );
  const before = await Deno.readTextFile(join(root, F.sgd, "meta.json"));
  assert.equal(
    (await send(app, `/api/runs/${F.sgd}/meta`, "PATCH", { addTags: ["no space"] })).status,
    400,
  );
  assert.equal(
    (await send(app, `/api/runs/${F.sgd}/meta`, "PATCH", { colour: "red" })).status,
    400,
  );
  assert.equal(
    (await send(app, `/api/runs/${F.sgd}/meta`, "PATCH", { archived: "yes" })).status,
    400,
  );
  assert.equal((await send(app, `/api/runs/${F.sgd}/meta`, "PATCH", [1])).status, 400);
  assert.equal((await send(app, `/api/runs/nope/meta`, "PATCH", { note: "x" })).status, 404);
  // No token, or another site's page: refused before anything is read.
  assert.equal(
    (await send(app, `/api/runs/${F.sgd}/meta`, "PATCH", { note: "evil" }, { Origin: ORIGIN }))
      .status,
    403,
  );
  assert.equal(
    (await send(app, `/api/runs/${F.sgd}/meta`, "PATCH", { note: "evil" }, {
      Origin: "http://evil.example",
      [TOKEN_HEADER]: TOKEN,
    })).status,
    403,
  );
  assert.equal(await Deno.readTextFile(join(root, F.sgd, "meta.json")), before);
  await Deno.writeTextFile(join(root, F.lrMid, "meta.json"), "[]");
  const corrupt = await send(app, `/api/runs/${F.lrMid}/meta`, "PATCH", { note: "x" });
  assert.equal(corrupt.status, 409);
  assert.match((await corrupt.json()).error, /corrupt.*nothing was changed/);
  const listed = await (await app.request("/api/runs")).json();
  assert.match(
    listed.runs.find((r: { id: string }) => r.id === F.lrMid).metaProblem,
    /meta\.json is corrupt/,
  );
});

Deno.test("DELETE /api/runs/:id moves a finished or crashed run to the trash; a live one is 409", async () => {
  const { root, app } = await fixture();
  const live = await writeFakeRun(root, { id: "live", status: "running", epochs: 1 });
  const now = Date.now();
  await Deno.writeTextFile(
    join(live, "heartbeat"),
    JSON.stringify({ host: thisHost(), pid: Deno.pid, token: "t", since: now, time: now }),
  );
  const refused = await send(app, "/api/runs/live", "DELETE");
  assert.equal(refused.status, 409);
  assert.match((await refused.json()).error, /live is running/);
  assert.equal((await send(app, `/api/runs/${F.killed}`, "DELETE")).status, 200);
  assert.equal(
    (await send(app, `/api/runs/${F.sgd}`, "DELETE", undefined, { Origin: ORIGIN })).status,
    403,
  );
  const ids = (await (await app.request("/api/runs?archived=1")).json()).runs.map((
    r: { id: string },
  ) => r.id);
  assert.ok(!ids.includes(F.killed) && ids.includes(F.sgd) && ids.includes("live"));
  assert.equal([...Deno.readDirSync(join(root, ".trash"))].length, 1);
  assert.equal((await send(app, "/api/runs/..%2Fx", "DELETE")).status, 400);
});
