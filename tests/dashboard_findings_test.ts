/**
 * One test per finding of issue 11 against the dashboard (DNS rebinding, symlinks out of a
 * run, run.json to a secret, a wrong-typed run.json, a FIFO named run.json, a very large
 * metrics file, many live streams of one big run).
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { createDashboardApp } from "../dashboard/mod.ts";
import { leakFixture, LINKED_FILES } from "./helpers/leak_fixture.ts";
import { writeFakeRun } from "./helpers/fake_run.ts";

const at = (path: string, host = "127.0.0.1:6006") =>
  new Request(`http://127.0.0.1:6006${path}`, { headers: { host } });

Deno.test("finding: DNS rebinding: a foreign Host is 403 on every route; loopback names and allowed hosts answer", async () => {
  const fx = await leakFixture();
  try {
    const app = createDashboardApp({ runsDir: fx.root, allowedHosts: ["box.lan"] });
    for (const path of ["/", "/api/runs", "/api/runs/good", "/api/runs/good/metrics", "/x"]) {
      for (const host of ["evil.example", "evil.example:6006", "127.0.0.1.nip.io", "0.0.0.0"]) {
        const res = await app.request(at(path, host));
        const body = await res.text();
        assert.equal(res.status, 403, `${host} ${path}`);
        assert.ok(!body.includes("good") && !body.includes("fake"), body);
      }
      for (const host of ["127.0.0.1:6006", "localhost:6006", "[::1]:6006", "box.lan:6006"]) {
        assert.equal((await app.request(at(path, host))).status, 200, `${host} ${path}`);
      }
    }
  } finally {
    await fx.cleanup();
  }
});

Deno.test("finding: files symlinked out of a run (model.txt, viz/index.json, evaluation.json, metrics.jsonl, checkpoints -> dir) are refused, never served", async () => {
  const fx = await leakFixture();
  try {
    const app = createDashboardApp({ runsDir: fx.root });
    const routes = [
      "/api/runs/evil",
      "/api/runs/evil/metrics",
      "/api/runs/evil/metrics.csv?kind=all",
      "/api/runs/evil/events",
      "/api/runs/evil/viz",
      "/api/runs/evil/evaluation",
      ...LINKED_FILES.filter((f) => !f.endsWith("jsonl")).map((f) => `/api/runs/evil/files/${f}`),
      "/api/runs/evil/files/viz/escape/secret.json",
      "/api/runs/evil/files/viz/secret.png",
      "/api/runs/evil/files/artifacts/secret.json",
    ];
    for (const path of routes) {
      const res = await app.request(at(path));
      const body = await res.text();
      assert.equal(res.status, 400, `${path}: ${body}`);
      assert.match(body, /symlink inside a run is never followed/, path);
      assert.ok(!body.includes(fx.marker) && !body.includes(fx.outside), path);
    }
    // a run whose checkpoints folder is a link to a folder outside lists none of its entries
    const dir = await writeFakeRun(fx.root, { id: "ckpt", epochs: 2 });
    await Deno.mkdir(join(fx.outside, `${fx.marker}-dir`));
    await Deno.remove(join(dir, "checkpoints"), { recursive: true }).catch(() => {});
    await Deno.symlink(fx.outside, join(dir, "checkpoints"));
    const res = await app.request(at("/api/runs/ckpt"));
    const body = await res.text();
    assert.equal(res.status, 200, body);
    assert.deepEqual(JSON.parse(body).checkpoints, []);
    assert.ok(!body.includes(fx.marker));
  } finally {
    await fx.cleanup();
  }
});

Deno.test("finding: run.json -> secret is not echoed, and no error body carries an absolute path", async () => {
  const fx = await leakFixture();
  try {
    const app = createDashboardApp({ runsDir: fx.root });
    const one = await app.request(at("/api/runs/linkjson"));
    const oneBody = await one.text();
    assert.equal(one.status, 422, oneBody);
    assert.deepEqual(JSON.parse(oneBody), {
      error:
        "cannot read linkjson/run.json: run.json is refused: a symlink inside a run is never followed",
    });
    const list = await app.request(at("/api/runs"));
    const listBody = await list.text();
    assert.equal(list.status, 200);
    const entry = JSON.parse(listBody).runs.find((r: { id: string }) => r.id === "linkjson");
    assert.equal(entry.status, "invalid");
    assert.match(entry.error, /^cannot read linkjson\/run\.json: /);
    for (const body of [oneBody, listBody]) {
      assert.ok(!body.includes(fx.marker), "secret echoed");
      assert.ok(!body.includes(fx.root) && !body.includes(fx.outside), "absolute path");
    }
  } finally {
    await fx.cleanup();
  }
});

Deno.test('finding: a run.json with "createdAt": 5 (and other wrong types) does not 500 the list', async () => {
  const fx = await leakFixture();
  try {
    const app = createDashboardApp({ runsDir: fx.root });
    const res = await app.request(at("/api/runs"));
    assert.equal(res.status, 200);
    const body = await res.json();
    assert.equal(body.total, fx.ids.length - 1, "every run but the linked-out folder is listed");
    const typed = body.runs.find((r: { id: string }) => r.id === "typed");
    assert.equal(typed.status, "completed");
    assert.equal(typed.createdAt, null);
    assert.deepEqual(typed.problems.map((p: string) => p.split(" ")[0]).sort(), [
      "backend",
      "best",
      "createdAt",
      "epochs",
    ]);
    assert.equal((await app.request(at("/api/runs/typed"))).status, 200);
  } finally {
    await fx.cleanup();
  }
});

Deno.test("finding: a FIFO named run.json (or metrics.jsonl) does not hang the listing or the run", async () => {
  const fx = await leakFixture();
  try {
    const app = createDashboardApp({ runsDir: fx.root });
    const t0 = performance.now();
    const within = <T>(p: T | Promise<T>) =>
      Promise.race([
        p,
        new Promise<never>((_, rej) => setTimeout(() => rej(new Error("hung on a FIFO")), 10_000)),
      ]);
    const list = await within(app.request(at("/api/runs")));
    const runs = (await list.json()).runs;
    const fifo = runs.find((r: { id: string }) => r.id === "fifo");
    assert.equal(fifo.status, "invalid");
    assert.match(fifo.error, /run\.json is refused: not a regular file/);
    const one = await within(app.request(at("/api/runs/fifo")));
    assert.equal(one.status, 422);
    await one.body?.cancel();
    const metrics = await within(app.request(at("/api/runs/fifo-metrics/metrics")));
    assert.equal(metrics.status, 400);
    assert.match((await metrics.json()).error, /not a regular file/);
    assert.ok(performance.now() - t0 < 10_000);
  } finally {
    await fx.cleanup();
  }
});
