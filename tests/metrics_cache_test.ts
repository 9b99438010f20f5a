import assert from "node:assert/strict";
import { join } from "node:path";
import { MAX_BATCH_POINTS, MetricsCache } from "../core/run/metrics_cache.ts";
import { createDashboardApp } from "../dashboard/mod.ts";

/** Writes a run with `n` batch records (one spike) and 3 epoch records, quickly. */
async function bigRun(root: string, n: number): Promise<string> {
  const dir = join(root, "big");
  await Deno.mkdir(dir, { recursive: true });
  const now = new Date().toISOString();
  await Deno.writeTextFile(
    join(dir, "run.json"),
    JSON.stringify({
      format: 1,
      id: "big",
      experiment: "x",
      status: "completed",
      config: {},
      versions: {},
      createdAt: now,
      updatedAt: now,
      epochs: 3,
      steps: n,
    }),
  );
  const f = await Deno.open(join(dir, "metrics.jsonl"), { write: true, create: true });
  const enc = new TextEncoder();
  let buf: string[] = [];
  for (let i = 0; i < n; i++) {
    const loss = i === Math.floor(n * 0.37) ? 1e6 : 1 + (i % 7) / 10;
    buf.push(
      JSON.stringify({
        epoch: Math.floor((3 * i) / n),
        step: i,
        time: i,
        batch: i,
        loss,
        acc: 0.5,
      }),
    );
    if (i % (n / 3) === n / 3 - 1) {
      buf.push(
        JSON.stringify({
          epoch: Math.floor((3 * i) / n),
          step: i,
          time: i,
          loss: 1,
          acc: 0.5,
          val_loss: 1,
        }),
      );
    }
    if (buf.length >= 10_000) {
      await f.write(enc.encode(buf.join("\n") + "\n"));
      buf = [];
    }
  }
  if (buf.length) await f.write(enc.encode(buf.join("\n") + "\n"));
  f.close();
  return dir;
}

Deno.test("metrics cache: a huge file keeps bounded memory, every spike, every epoch; CSV still streams every row", async () => {
  const root = await Deno.makeTempDir();
  const n = 300_000;
  const dir = await bigRun(root, n);
  const cache = new MetricsCache();
  const all = await cache.get(dir);
  assert.equal(all.batchCount, n);
  assert.equal(all.epochs.length, 3);
  assert.ok(all.batches.length <= 2 * MAX_BATCH_POINTS, `${all.batches.length} batch points kept`);
  assert.ok(all.batches.some((r) => r.loss === 1e6), "the spike survives decimation");
  // A stream that saw the end gets nothing new; an offset older than the window: reload.
  assert.deepEqual((await cache.since(dir, all.offset)).records, []);
  assert.equal((await cache.since(dir, 10)).reset, true);
  const app = createDashboardApp({ runsDir: root });
  const body = await (await app.request("/api/runs/big/metrics?maxPoints=2000")).json();
  assert.equal(body.totals.batches, n);
  assert.ok(body.batches.length <= 2000);
  const csv = await (await app.request("/api/runs/big/metrics.csv?kind=batch")).text();
  assert.equal(csv.trimEnd().split("\n").length, n + 1, "every batch row plus the header");
});
