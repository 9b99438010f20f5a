import assert from "node:assert/strict";
import { join } from "node:path";
import {
  listRuns,
  readEvents,
  readMetrics,
  readRunInfo,
  resolveInside,
  UnsafePathError,
} from "../core/run/reader.ts";
import { appendEpoch, writeFakeRun } from "./helpers/fake_run.ts";

async function rejectsWith(p: Promise<unknown>, status: number) {
  try {
    await p;
  } catch (err) {
    assert.ok(err instanceof UnsafePathError, String(err));
    assert.equal(err.status, status, err.message);
    return;
  }
  assert.fail("expected UnsafePathError");
}

Deno.test("listRuns reads run.json of every run, newest first, flags broken ones", async () => {
  const root = await Deno.makeTempDir();
  await writeFakeRun(root, { id: "old", startTime: Date.UTC(2024, 0, 1) });
  await writeFakeRun(root, { id: "new", startTime: Date.UTC(2025, 5, 1), status: "running" });
  await Deno.mkdir(join(root, "broken"));
  await Deno.writeTextFile(join(root, "broken", "run.json"), "{not json");
  await Deno.mkdir(join(root, "not-a-run"));
  const runs = await listRuns(root);
  assert.deepEqual(runs.map((r) => r.id).slice(0, 2), ["new", "old"]);
  assert.equal(runs.length, 3);
  const broken = runs.find((r) => r.id === "broken")!;
  assert.equal(broken.info, null);
  assert.match(broken.error!, /broken.*run\.json is not valid JSON/);
  assert.equal(runs[0].info!.status, "running");
  assert.deepEqual(await listRuns(join(root, "missing")), []);
});

Deno.test("readRunInfo names the file in errors", async () => {
  const root = await Deno.makeTempDir();
  await assert.rejects(() => readRunInfo(join(root, "x")), /cannot read .*x\/run\.json/);
});

Deno.test("readMetrics skips torn last line and malformed lines, continues incrementally", async () => {
  const root = await Deno.makeTempDir();
  const dir = await writeFakeRun(root, {
    id: "r",
    epochs: 4,
    batchesPerEpoch: 3,
    tornLastLine: true,
    malformedLine: true,
  });
  const first = await readMetrics(dir);
  assert.equal(first.records.length, 16);
  assert.equal(first.skipped, 1);
  assert.equal(first.records.filter((r) => r.batch === undefined).length, 4);
  // the torn line is not consumed: complete it, and the next read returns it
  await Deno.writeTextFile(join(dir, "metrics.jsonl"), 'me": 5}\n', { append: true });
  const next = await readMetrics(dir, { sinceOffset: first.offset });
  assert.equal(next.records.length, 1);
  assert.equal(next.records[0].epoch, 99);
  await appendEpoch(dir, 4);
  const third = await readMetrics(dir, { sinceOffset: next.offset });
  assert.deepEqual(third.records.map((r) => r.epoch), [4]);
  const none = await readMetrics(dir, { sinceOffset: third.offset });
  assert.equal(none.records.length, 0);
  assert.equal(none.offset, third.offset);
  // a truncated / replaced file restarts from 0
  await Deno.writeTextFile(join(dir, "metrics.jsonl"), '{"epoch":0,"step":1,"time":1}\n');
  const reset = await readMetrics(dir, { sinceOffset: third.offset });
  assert.equal(reset.reset, true);
  assert.equal(reset.records.length, 1);
});

Deno.test("readEvents skips a torn last line; missing files read as empty", async () => {
  const root = await Deno.makeTempDir();
  const dir = await writeFakeRun(root, { id: "r", epochs: 10, tornLastLine: true });
  const ev = await readEvents(dir);
  assert.deepEqual(ev.records.map((e) => e.type), [
    "train_begin",
    "lr_changed",
    "checkpoint_saved",
  ]);
  const empty = await readEvents(join(root, "nope"));
  assert.deepEqual(empty.records, []);
});

Deno.test("resolveInside rejects .., encoded slashes, absolute paths and every symlink", async () => {
  const root = await Deno.makeTempDir();
  const outside = await Deno.makeTempDir();
  await Deno.writeTextFile(join(outside, "secret.txt"), "secret");
  await writeFakeRun(root, { id: "r" });
  await Deno.symlink(outside, join(root, "r", "escape"));
  await Deno.symlink(join(root, "r", "model.txt"), join(root, "r", "inside-link"));
  assert.equal(
    await resolveInside(root, "r", "model.txt"),
    join(await Deno.realPath(root), "r", "model.txt"),
  );
  // One confinement policy (core/fs): no symlink below the root is followed, even one that
  // stays inside.
  await rejectsWith(resolveInside(root, "r", "inside-link"), 400);
  for (
    const bad of [
      "..",
      "../x",
      "r/../../etc",
      "%2e%2e",
      "..%2f..",
      "r%2fmodel.txt",
      "a\\b",
      "./r",
      "r//model.txt",
      "",
    ]
  ) {
    await rejectsWith(resolveInside(root, bad), 400);
  }
  await rejectsWith(resolveInside(root, "/etc/passwd"), 400);
  await rejectsWith(resolveInside(root, "r", "/etc/passwd"), 400);
  await rejectsWith(resolveInside(root, "r", "escape/secret.txt"), 400);
  await rejectsWith(resolveInside(root, "r", "escape"), 400);
  await rejectsWith(resolveInside(root, "r", "missing.txt"), 404);
});

Deno.test("listRuns over 300 runs stays fast", async () => {
  const root = await Deno.makeTempDir();
  for (let i = 0; i < 300; i++) {
    await writeFakeRun(root, {
      id: `run-${i}`,
      epochs: 2,
      startTime: Date.UTC(2025, 0, 1) + i * 1000,
    });
  }
  const t0 = performance.now();
  const runs = await listRuns(root);
  const ms = performance.now() - t0;
  assert.equal(runs.length, 300);
  assert.equal(runs[0].id, "run-299");
  console.log(`listRuns(300 runs): ${ms.toFixed(1)} ms`);
  assert.ok(ms < 2000, `listRuns took ${ms} ms`);
});

Deno.test("a record appended after a torn fragment (crash, then resume) is recovered", async () => {
  const root = await Deno.makeTempDir();
  const dir = await writeFakeRun(root, { id: "r", epochs: 2, tornLastLine: true });
  await appendEpoch(dir, 2);
  const res = await readMetrics(dir);
  assert.deepEqual(res.records.map((r) => r.epoch), [0, 1, 2]);
  assert.equal(res.skipped, 1);
});
