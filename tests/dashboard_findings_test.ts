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

/**
 * Samples memory every 20 ms until `stop()`: the peak growth of this isolate's heap (JS heap
 * plus external buffers: what the code under test allocates, whatever other test modules run
 * in parallel) and of the process's RSS (shared with them, so printed only).
 */
function memorySampler(): { stop(): { heap: number; rss: number } } {
  const isolate = () => {
    const m = Deno.memoryUsage();
    return m.heapUsed + m.external;
  };
  const before = { heap: isolate(), rss: Deno.memoryUsage().rss };
  const peak = { ...before };
  const sample = () => {
    peak.heap = Math.max(peak.heap, isolate());
    peak.rss = Math.max(peak.rss, Deno.memoryUsage().rss);
  };
  const timer = setInterval(sample, 20);
  return {
    stop() {
      sample();
      clearInterval(timer);
      return { heap: peak.heap - before.heap, rss: peak.rss - before.rss };
    },
  };
}

/** Counts opens of files whose path ends with `suffix` while `fn` runs. */
async function countOpens<T>(suffix: string, fn: () => Promise<T>): Promise<[T, number]> {
  const original = Deno.open;
  let opens = 0;
  Deno.open = ((path: string | URL, options?: Deno.OpenOptions) => {
    if (String(path).endsWith(suffix)) opens++;
    return original(path, options);
  }) as typeof Deno.open;
  try {
    return [await fn(), opens];
  } finally {
    Deno.open = original;
  }
}

/** Appends `lines` (one string each) repeated until `bytes` are written; returns the count. */
async function fillFile(file: string, lines: string[], bytes: number): Promise<number> {
  const block = new TextEncoder().encode(lines.join("\n") + "\n");
  const f = await Deno.open(file, { write: true, create: true, truncate: true });
  let n = 0;
  try {
    for (let w = 0; w < bytes; w += block.length, n++) {
      for (let off = 0; off < block.length;) off += await f.write(block.subarray(off));
    }
  } finally {
    f.close();
  }
  return n;
}

Deno.test("finding: a 200 MB metrics file answers without being read whole: memory stays well below its size", async () => {
  const root = await Deno.makeTempDir({ prefix: "convdeck-big-" });
  try {
    const dir = await writeFakeRun(root, { id: "big", epochs: 0 });
    // Mostly lines that are no metrics record (no step/time), a real batch record every 500.
    const lines = Array.from(
      { length: 500 },
      (_, i) =>
        i === 0
          ? JSON.stringify({ epoch: 0, step: 1, time: 2, batch: 3, loss: 0.5, acc: 0.5 })
          : JSON.stringify({ epoch: 0, note: "n".repeat(400 + (i % 7)) }),
    );
    const t0 = performance.now();
    const blocks = await fillFile(join(dir, "metrics.jsonl"), lines, 200 << 20);
    const size = (await Deno.stat(join(dir, "metrics.jsonl"))).size;
    const genMs = performance.now() - t0;
    const app = createDashboardApp({ runsDir: root });
    const memory = memorySampler();
    const t1 = performance.now();
    const res = await app.request(at("/api/runs/big/metrics"));
    const body = await res.json();
    const grew = memory.stop();
    const ms = performance.now() - t1;
    console.log(
      `200 MB metrics: ${size >> 20} MB written in ${genMs.toFixed(0)} ms, answered ` +
        `${res.status} in ${ms.toFixed(0)} ms; peak heap +${grew.heap >> 20} MB, ` +
        `peak RSS +${grew.rss >> 20} MB`,
    );
    assert.equal(res.status, 200);
    assert.equal(body.totals.batches, blocks, "every record of the file was read");
    assert.equal(body.skipped, blocks * (lines.length - 1));
    // Read whole, the file's text alone would take its size in heap; read in steps, the peak
    // (garbage of the steps included) is a fraction of it.
    assert.ok(grew.heap < size / 2, `heap grew by ${grew.heap >> 20} MB for ${size >> 20} MB`);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test({
  name:
    "finding: 20 concurrent live streams of one 20 MB metrics file share one parse; memory bounded",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const root = await Deno.makeTempDir({ prefix: "convdeck-streams-" });
    try {
      const dir = await writeFakeRun(root, { id: "big", epochs: 0 });
      const lines = Array.from(
        { length: 1000 },
        (_, i) =>
          JSON.stringify({
            epoch: 1,
            step: i,
            time: 1.7e12 + i,
            batch: i,
            loss: i / 1e3,
            acc: 0.5,
          }),
      );
      const blocks = await fillFile(join(dir, "metrics.jsonl"), lines, 20 << 20);
      const records = blocks * lines.length;
      const app = createDashboardApp({ runsDir: root, pollMs: 50 });
      const memory = memorySampler();
      const ac = new AbortController();
      /** Opens a stream from offset 0 and counts the records of its first metrics event. */
      const firstMetrics = async () => {
        const res = await app.request(
          new Request("http://127.0.0.1:6006/api/runs/big/stream?metricsSince=0", {
            headers: { host: "127.0.0.1:6006" },
            signal: ac.signal,
          }),
        );
        assert.equal(res.status, 200);
        const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader();
        // Scan the metrics events as they stream (until one without `more`), keeping only a
        // short tail: records are counted by their opening, the client holds no copy.
        let tail = "", n = 0, inMetrics = false, finished = false, reset = false;
        while (!finished) {
          const { value, done } = await reader.read();
          if (done) throw new Error("stream ended");
          let text = tail + value;
          tail = "";
          while (text.length && !finished) {
            if (!inMetrics) {
              const start = text.indexOf("event: metrics\ndata: ");
              if (start < 0) {
                tail = text.slice(-40);
                break;
              }
              inMetrics = true;
              text = text.slice(start + 21);
            }
            const end = text.indexOf("\n\n");
            const part = end >= 0 ? text.slice(0, end) : text.slice(0, -20);
            n += part.split('{"epoch":').length - 1;
            if (part.includes('"reset":true')) reset = true;
            if (end < 0) {
              tail = text.slice(-20);
              break;
            }
            inMetrics = false;
            finished = !part.endsWith('"more":true}');
            text = text.slice(end + 2);
          }
        }
        await reader.cancel();
        return `${n} records, reset ${reset}`;
      };
      const t0 = performance.now();
      const [counts, opens] = await countOpens(
        "metrics.jsonl",
        () => Promise.all(Array.from({ length: 20 }, firstMetrics)),
      );
      ac.abort();
      const grew = memory.stop();
      console.log(
        `20 streams of a 20 MB metrics file (${records} records): first events in ` +
          `${(performance.now() - t0).toFixed(0)} ms, metrics.jsonl opened ${opens} times, ` +
          `peak heap +${grew.heap >> 20} MB, peak RSS +${grew.rss >> 20} MB`,
      );
      // The metrics cache keeps a bounded window of recent records: a stream asking for
      // everything from offset 0 of a file this large is told to reload (the page then gets
      // the downsampled series from /metrics and streams from its end), with no records.
      assert.deepEqual(counts, Array(20).fill("0 records, reset true"));
      // One parse, read in steps of 8 MB: a handful of opens, not 20 per step.
      assert.ok(opens <= 6, `metrics.jsonl opened ${opens} times for 20 streams`);
      // Sent in slices as each client takes them, not 20 copies of the whole catch-up at once
      // (unsliced, the heap peaked at +1994 MB here; sliced about +280 MB, garbage included).
      assert.ok(grew.heap < 640 << 20, `heap grew by ${grew.heap >> 20} MB`);
    } finally {
      await Deno.remove(root, { recursive: true });
    }
  },
});
