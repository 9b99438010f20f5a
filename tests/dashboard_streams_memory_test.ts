/**
 * Memory and responsiveness under many live streams: `deno task dashboard` (a subprocess with
 * its deno.json permissions) serves a run whose metrics.jsonl and events.jsonl are 200 MB
 * sparse files (no newline: one endless corrupt line each); 100 streams of that run open at
 * once. The server's resident memory stays under 500 MB, every stream starts, and other
 * requests keep answering quickly. The stream cap answers 503 past its limit.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { Hono } from "hono";
import { writeFakeRun } from "./helpers/fake_run.ts";
import { readUntil } from "./helpers/read_until.ts";
import { streamApi } from "../dashboard/api/stream.ts";
import { RunStore } from "../dashboard/run_store.ts";

const REPO = fileURLToPath(new URL("..", import.meta.url));
const STREAMS = 100;
const SPARSE_MB = 200;

/** The pid of the server child the launcher started for `runsDir` (Linux /proc). */
async function serverPid(runsDir: string): Promise<number> {
  for await (const e of Deno.readDir("/proc")) {
    if (!/^\d+$/.test(e.name)) continue;
    try {
      const cmd = (await Deno.readTextFile(`/proc/${e.name}/cmdline`)).split("\0");
      if (cmd.includes("--serve") && cmd.includes(runsDir)) return Number(e.name);
    } catch { /* gone */ }
  }
  throw new Error("no dashboard server process found");
}

function rssMb(pid: number): number {
  const status = Deno.readTextFileSync(`/proc/${pid}/status`);
  return Number(/VmRSS:\s+(\d+)/.exec(status)![1]) / 1024;
}

Deno.test({
  name:
    `${STREAMS} live streams of a run with ${SPARSE_MB} MB sparse files: bounded memory, quick answers`,
  ignore: Deno.build.os !== "linux",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const runs = join(await Deno.makeTempDir(), "runs");
    const dir = await writeFakeRun(runs, { id: "big", epochs: 3, status: "running" });
    for (const name of ["metrics.jsonl", "events.jsonl"]) {
      const f = await Deno.open(join(dir, name), { write: true });
      await f.truncate(SPARSE_MB << 20);
      f.close();
    }
    const child = new Deno.Command("deno", {
      args: ["task", "dashboard", "--runs", runs, "--port", "0"],
      cwd: REPO,
      stdin: "null",
      stdout: "piped",
      stderr: "null",
    }).spawn();
    const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
    const acs: AbortController[] = [];
    try {
      const url = (await readUntil(reader, /http:\/\/127\.0\.0\.1:\d+\//)).match!;
      const pid = await serverPid(runs);
      const before = rssMb(pid);
      let peak = before;
      const sampler = setInterval(() => (peak = Math.max(peak, rssMb(pid))), 50);
      const t0 = performance.now();
      const started = Array.from({ length: STREAMS }, async () => {
        const ac = new AbortController();
        acs.push(ac);
        const res = await fetch(`${url}api/runs/big/stream`, { signal: ac.signal });
        assert.equal(res.status, 200);
        const r = res.body!.pipeThrough(new TextDecoderStream()).getReader();
        const { match } = await readUntil(r, /event: state/);
        assert.ok(match, "the stream started");
        return performance.now() - t0;
      });
      // Other requests while the streams catch up.
      const latencies: number[] = [];
      for (let i = 0; i < 20; i++) {
        const s = performance.now();
        const res = await fetch(`${url}api/runs/big`);
        assert.equal(res.status, 200);
        await res.arrayBuffer();
        latencies.push(performance.now() - s);
        await new Promise((ok) => setTimeout(ok, 100));
      }
      const ready = await Promise.all(started);
      await new Promise((ok) => setTimeout(ok, 1000)); // streams keep polling
      clearInterval(sampler);
      latencies.sort((a, b) => a - b);
      const median = latencies[latencies.length >> 1];
      const load = (await Deno.readTextFile("/proc/loadavg")).split(" ")[0];
      console.log(
        `${STREAMS} streams on ${SPARSE_MB} MB sparse metrics+events: RSS ${
          before.toFixed(0)
        } -> ` +
          `peak ${peak.toFixed(0)} MB; all streams started in ${
            Math.max(...ready).toFixed(0)
          } ms; other requests median ${median.toFixed(0)} ms, max ${
            latencies.at(-1)!.toFixed(0)
          } ms (load ${load})`,
      );
      assert.ok(peak < 500, `peak RSS ${peak.toFixed(0)} MB`);
      assert.ok(median < 200, `median latency ${median.toFixed(0)} ms`);
      assert.ok(latencies.at(-1)! < 5000, `max latency ${latencies.at(-1)!.toFixed(0)} ms`);
    } finally {
      for (const ac of acs) ac.abort();
      child.kill("SIGINT");
      await child.status;
      await reader.cancel().catch(() => {});
    }
  },
});

Deno.test("live streams past the cap get 503; a closed stream frees its place", async () => {
  const runs = await Deno.makeTempDir();
  await writeFakeRun(runs, { id: "r", epochs: 2 });
  const app = new Hono().route("/api/runs", streamApi(new RunStore(runs), 50, 2));
  const open = async () => {
    const ac = new AbortController();
    const res = await app.request("/api/runs/r/stream", { signal: ac.signal });
    return { res, ac };
  };
  const a = await open(), b = await open();
  assert.equal(a.res.status, 200);
  assert.equal(b.res.status, 200);
  const c = await open();
  assert.equal(c.res.status, 503);
  assert.match(await c.res.text(), /too many live streams/);
  a.ac.abort();
  await a.res.body?.cancel().catch(() => {});
  await new Promise((ok) => setTimeout(ok, 200));
  const d = await open();
  assert.equal(d.res.status, 200);
  for (const s of [b, d]) {
    s.ac.abort();
    await s.res.body?.cancel().catch(() => {});
  }
});
