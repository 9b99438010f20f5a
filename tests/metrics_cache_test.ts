import assert from "node:assert/strict";
import { join } from "node:path";
import { MAX_BATCH_POINTS, MetricsCache } from "../core/run/metrics_cache.ts";
import { EventsCache } from "../core/run/events_cache.ts";
import { writeFakeRun } from "./helpers/fake_run.ts";
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

Deno.test("EventsCache: one bounded read shared by every follower; a sparse events file is skipped a step at a time", async () => {
  const root = await Deno.makeTempDir();
  const dir = await writeFakeRun(root, { id: "ev", epochs: 1 });
  const first = await new EventsCache().since(dir, 0);
  assert.ok(first.records.length > 0);
  // 64 MB of zeros (no newline) after the events, then one more event.
  const f = await Deno.open(join(dir, "events.jsonl"), { write: true });
  await f.truncate((await f.stat()).size + (64 << 20));
  await f.seek(0, Deno.SeekMode.End);
  await f.write(new TextEncoder().encode('\n{"type":"late","epoch":1,"step":2,"time":3}\n'));
  f.close();
  const cache = new EventsCache();
  let r = await cache.since(dir, 0);
  let steps = 1;
  while (!r.records.some((e) => e.type === "late")) {
    assert.ok(r.offset < (64 << 20) + 10_000, "each refresh reads a bounded step");
    r = await cache.since(dir, 0);
    steps++;
    assert.ok(steps < 20, "the backlog is read in a few refreshes");
  }
  assert.ok(steps >= 2, `a 64 MB backlog takes more than one refresh (took ${steps})`);
  // A follower past the window's start gets only what is new.
  const after = await cache.since(dir, r.offset);
  assert.deepEqual(after.records, []);
});
