import assert from "node:assert/strict";
import { join } from "node:path";
import { RunIndex } from "../core/run/index.ts";
import { compileQuery, queryTable } from "../core/run/query.ts";
import { readRunMeta, updateRunMeta } from "../core/run/meta.ts";
import { runCells, runDurationMs } from "../core/run/summary.ts";
import { readRunRestarts } from "../core/run/restarts.ts";
import { FIXTURE_IDS as F, writeRunsFixture } from "./helpers/runs_fixture.ts";
import {
  RESUMED_ALIVE_MS,
  RESUMED_WALL_MS,
  writeFakeRun,
  writeJsonAtomic,
  writeResumedRun,
} from "./helpers/fake_run.ts";

Deno.test("run index: reads each run once, then only runs whose folder changed; the saved index spares a new process", async () => {
  const root = await writeRunsFixture(await Deno.makeTempDir());
  const index = new RunIndex(root);
  assert.equal((await index.summaries()).length, 6);
  assert.equal(index.lastRefresh.read, 6);
  await index.summaries();
  assert.equal(index.lastRefresh.read, 0, "nothing changed, nothing read");
  await updateRunMeta(join(root, F.sgd), (m) => ({ ...m, tags: ["x"] }));
  const after = await index.summaries();
  assert.equal(index.lastRefresh.read, 1);
  assert.deepEqual(after.find((s) => s.id === F.sgd)!.meta.tags, ["x"]);
  await index.flush();
  const second = new RunIndex(root);
  const fromSaved = await second.summaries();
  assert.equal(second.lastRefresh.loadedSaved, true);
  assert.equal(second.lastRefresh.read, 0, "a new process reads no run.json");
  assert.deepEqual(fromSaved.find((s) => s.id === F.sgd)!.meta.tags, ["x"]);
  assert.equal(fromSaved.find((s) => s.id === F.killed)!.state, "crashed", "derived on read");
  await Deno.remove(join(root, F.lrBig), { recursive: true });
  await writeFakeRun(root, { id: "new-run", epochs: 2 });
  const ids = (await second.summaries()).map((s) => s.id);
  assert.ok(!ids.includes(F.lrBig) && ids.includes("new-run"));
  assert.equal(second.lastRefresh.read, 1);
  await second.flush();
  // A corrupt saved index is ignored (everything is read again), never an error.
  await Deno.writeTextFile(join(root, ".convdeck-index.json"), "{oops");
  const third = new RunIndex(root);
  assert.equal((await third.summaries()).length, 6);
  assert.equal(third.lastRefresh.read, 6);
});

Deno.test("run index: a run.json rewritten by a trainer is seen (run.json is replaced by rename)", async () => {
  const root = await Deno.makeTempDir();
  const dir = await writeFakeRun(root, { id: "r", status: "running", epochs: 1 });
  const index = new RunIndex(root, { persist: false });
  assert.equal((await index.summaries())[0].epochs, 1);
  const info = JSON.parse(await Deno.readTextFile(join(dir, "run.json")));
  await new Promise((r) => setTimeout(r, 20));
  await writeJsonAtomic(join(dir, "run.json"), { ...info, epochs: 2, status: "completed" });
  const [s] = await index.summaries();
  assert.equal(s.epochs, 2);
  assert.equal(s.state, "completed");
});

Deno.test("query: strings, dates, negation, missing values, tags, bare words with dashes, column vs column", () => {
  const known = new Set([
    "learningRate",
    "tags",
    "start",
    "archived",
    "name",
    "best.val_acc",
    "last.val_acc",
    "width",
  ]);
  const q = (text: string, cells: Record<string, unknown>) =>
    compileQuery(text, known).test(cells as never);
  assert.equal(q('start > "2026-11-01"', { start: Date.UTC(2026, 10, 2) }), true);
  assert.equal(q('start > "2026-11-01"', { start: Date.UTC(2026, 9, 2) }), false);
  assert.equal(q("not archived", { archived: false }), true);
  assert.equal(q("tag = sweep-1 or tag = 'b c'", { tags: ["b c"] }), true);
  assert.equal(q("tag != baseline", { tags: ["baseline"] }), false);
  assert.equal(q("width > 3", {}), false, "missing fails comparisons");
  assert.equal(q("width != 3", {}), true, "... but !=");
  assert.equal(q("name ~ SMALL", { name: "a small run" }), true);
  assert.equal(q("val_acc > last.val_acc", { "best.val_acc": 0.9, "last.val_acc": 0.8 }), true);
  assert.equal(q("0.01 > lr", { learningRate: 0.001 }), true, "flipped comparison");
  assert.equal(q("width > -1 && !(width = 2)", { width: 3 }), true);
  assert.throws(() => compileQuery("start > yesterday", known), /"yesterday" is not a date/);
  assert.throws(() => compileQuery("1 < 2", known), /needs a column on one side/);
  assert.throws(() => compileQuery("lr < 0.1 +", known), /at character/);
});

Deno.test("queryTable: group by with count/mean/min/max, sort with missing values last, archived on request", async () => {
  const root = await writeRunsFixture(await Deno.makeTempDir());
  const all = await new RunIndex(root, { persist: false }).summaries();
  const g = queryTable(all, { group: "optimizer" });
  const adam = g.groups!.find((x) => x.value === "adam")!;
  assert.equal(adam.count, 4);
  const lrs = all.filter((s) => s.hyper.optimizer === "adam" && !s.meta.archived)
    .map((s) => s.hyper.learningRate as number);
  assert.equal(adam.aggregates.learningRate.min, Math.min(...lrs));
  assert.equal(adam.aggregates.learningRate.max, Math.max(...lrs));
  assert.ok(Math.abs(adam.aggregates.learningRate.mean - lrs.reduce((a, b) => a + b) / 4) < 1e-12);
  const sorted = queryTable(all, { sort: "test_acc", desc: true });
  assert.equal(sorted.rows[0].summary.id, F.lrSmall);
  assert.equal(sorted.rows.at(-1)!.summary.id, F.killed, "no test_acc: last");
  assert.equal(queryTable(all, {}).matched, 5);
  assert.equal(queryTable(all, { archived: true }).matched, 6);
  assert.equal(queryTable(all, { q: "archived" }).matched, 1, "naming archived shows them");
  const cols = queryTable(all, {}).columns.map((c) => c.key);
  assert.ok(cols.indexOf("status") < cols.indexOf("learningRate"));
  assert.ok(cols.indexOf("learningRate") < cols.indexOf("best.val_acc"));
  assert.ok(cols.includes("dropout") && cols.includes("last.images_per_s"));
  assert.throws(() => queryTable(all, { sort: "nope" }), /cannot sort by "nope"/);
  assert.equal(runCells(all.find((s) => s.id === F.killed)!).status, "crashed");
});

Deno.test("meta sidecar: 30 concurrent edits in one process all land; a bad edit changes nothing", async () => {
  const dir = await Deno.makeTempDir();
  await Promise.all(
    Array.from(
      { length: 30 },
      (_, i) => updateRunMeta(dir, (m) => ({ ...m, tags: [...m.tags, `t${i}`] })),
    ),
  );
  const { meta } = await readRunMeta(dir);
  assert.equal(meta.tags.length, 30);
  assert.equal(meta.revision, 30);
  await assert.rejects(updateRunMeta(dir, (m) => ({ ...m, tags: ["bad tag"] })), /a tag is/);
  assert.equal((await readRunMeta(dir)).meta.revision, 30);
  // A lock left by a dead editor is broken, not waited on forever.
  await Deno.writeTextFile(
    join(dir, "meta.json.lock"),
    JSON.stringify({ host: (await import("../core/run/lock.ts")).thisHost(), pid: 2 ** 22 + 99 }),
  );
  await updateRunMeta(dir, (m) => ({ ...m, note: "after a crash" }));
  assert.equal((await readRunMeta(dir)).meta.note, "after a crash");
});

Deno.test("run index: a running run's state follows its heartbeat (replaced by rename) and its age, without rereading", async () => {
  const root = await Deno.makeTempDir();
  const dir = await writeFakeRun(root, { id: "r", status: "running", epochs: 1 });
  const { thisHost } = await import("../core/run/lock.ts");
  const beat = (hb: Record<string, unknown>) =>
    writeJsonAtomic(join(dir, "heartbeat"), {
      host: thisHost(),
      pid: Deno.pid,
      token: "t",
      since: Date.now(),
      time: Date.now(),
      ...hb,
    });
  await beat({});
  const index = new RunIndex(root, { persist: false });
  assert.equal((await index.summaries())[0].state, "running");
  assert.equal((await index.rows())[0].cells.status, "running");
  await new Promise((r) => setTimeout(r, 20));
  await beat({ pid: 2 ** 22 + 7 });
  const [dead] = await index.summaries();
  assert.equal(dead.state, "crashed");
  assert.equal(dead.crashReason, "dead-process");
  await new Promise((r) => setTimeout(r, 20));
  await beat({ host: "elsewhere", time: Date.now() - 5_000 });
  assert.equal((await index.summaries())[0].state, "running", "a recent foreign heartbeat");
  assert.equal(index.lastRefresh.read, 1);
});

const RUNS_CLI = new URL("../cli/runs.ts", import.meta.url).pathname;

Deno.test("run index: `deno task runs list` saves the index before it exits and leaves no temporary file", async () => {
  const root = await writeRunsFixture(await Deno.makeTempDir());
  // Enough runs that the save takes longer than printing the table (it used to be cut off).
  const info = JSON.parse(await Deno.readTextFile(join(root, F.sgd, "run.json")));
  for (let i = 0; i < 3000; i++) {
    const id = `bulk-${String(i).padStart(4, "0")}`;
    await Deno.mkdir(join(root, id));
    await Deno.writeTextFile(join(root, id, "run.json"), JSON.stringify({ ...info, id }));
  }
  // As deno.json's "runs" task launches it.
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", RUNS_CLI, "--runs", root, "list"],
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
  const names = (await Array.fromAsync(Deno.readDir(root))).map((e) => e.name);
  assert.ok(names.includes(".convdeck-index.json"), "the index is saved");
  assert.deepEqual(names.filter((n) => n.endsWith(".tmp")), [], "no temporary left");
  // The next process reads the saved index, no run.json.
  const next = new RunIndex(root);
  assert.equal((await next.summaries()).length, 3006);
  assert.equal(next.lastRefresh.loadedSaved, true);
  assert.equal(next.lastRefresh.read, 0);
});

Deno.test("run index: temporaries of a save that died are removed once old", async () => {
  const root = await writeRunsFixture(await Deno.makeTempDir());
  const stale = join(root, ".convdeck-index.json.4242.deadbeef.tmp");
  const fresh = join(root, ".convdeck-index.json.4243.cafebabe.tmp");
  await Deno.writeTextFile(stale, "{");
  await Deno.writeTextFile(fresh, "{");
  const old = new Date(Date.now() - 10 * 60_000);
  await Deno.utime(stale, old, old);
  await new RunIndex(root).summaries();
  await assert.rejects(Deno.lstat(stale), Deno.errors.NotFound);
  assert.ok((await Deno.lstat(fresh)).isFile, "a young one may be another process' save");
});

Deno.test("run index: a meta.json that appears is read, even where a coarse clock leaves the folder's mtime as it was", async () => {
  const root = await Deno.makeTempDir();
  const dir = await writeFakeRun(root, { id: "a", epochs: 2 });
  const index = new RunIndex(root);
  assert.deepEqual((await index.summaries())[0].meta.tags, []);
  await index.summaries(); // the key now says meta.json is missing
  const folderTime = (await Deno.stat(dir)).mtime!;
  await updateRunMeta(dir, (m) => ({ ...m, tags: ["new"] }));
  // A file system with 1-2 s mtimes can show the folder as unchanged right after the file
  // appeared: a recent folder mtime never stands for "no new file".
  await Deno.utime(dir, folderTime, folderTime);
  assert.deepEqual((await index.summaries())[0].meta.tags, ["new"]);
  assert.equal(index.lastRefresh.read, 1);
});

Deno.test("run index: a run.json or meta.json edited in place (folder mtime unchanged) is read again", async () => {
  const root = await Deno.makeTempDir();
  const dir = await writeFakeRun(root, { id: "a", epochs: 2 });
  const index = new RunIndex(root);
  assert.equal((await index.summaries())[0].epochs, 2);
  const folderTime = (await Deno.stat(dir)).mtime!;
  // run.json rewritten in place (an editor, a sync tool): the folder's mtime does not change.
  const info = JSON.parse(await Deno.readTextFile(join(dir, "run.json")));
  await Deno.writeTextFile(join(dir, "run.json"), JSON.stringify({ ...info, epochs: 7 }));
  await Deno.utime(dir, folderTime, folderTime);
  assert.equal((await index.summaries())[0].epochs, 7);
  assert.equal(index.lastRefresh.read, 1);
  // meta.json likewise (created in place first, then edited in place).
  await updateRunMeta(dir, (m) => ({ ...m, tags: ["one"] }));
  await index.summaries();
  const meta = JSON.parse(await Deno.readTextFile(join(dir, "meta.json")));
  const t = (await Deno.stat(dir)).mtime!;
  await Deno.writeTextFile(join(dir, "meta.json"), JSON.stringify({ ...meta, tags: ["two"] }));
  await Deno.utime(dir, t, t);
  assert.deepEqual((await index.summaries())[0].meta.tags, ["two"]);
  // The saved index carries the keys: a new process sees the edit too.
  const again = new RunIndex(root);
  assert.deepEqual((await again.summaries())[0].meta.tags, ["two"]);
  assert.equal(again.lastRefresh.read, 0);
});

Deno.test("run index: a resumed run's duration is its alive time, in its summary, cells, queries and sort", async () => {
  const root = await Deno.makeTempDir();
  await writeResumedRun(root, "resumed");
  // A run that was never resumed, 2 minutes long: longer than the resumed one's 50 s alive.
  await writeFakeRun(root, { id: "plain", epochs: 2 });
  const index = new RunIndex(root);
  const s = (await index.summaries()).find((x) => x.id === "resumed")!;
  assert.equal(s.durationMs, RESUMED_ALIVE_MS, `not the wall time ${RESUMED_WALL_MS}`);
  assert.equal(runDurationMs(s), RESUMED_ALIVE_MS);
  const rows = await index.rows();
  assert.equal(rows.find((r) => r.summary.id === "resumed")!.cells.duration, 50);
  const short = queryTable(rows, { q: "duration < 100" }, await index.columns());
  assert.deepEqual(short.rows.map((r) => r.summary.id), ["resumed"]);
  const sorted = queryTable(rows, { sort: "duration" }, await index.columns());
  assert.deepEqual(sorted.rows.map((r) => r.summary.id), ["resumed", "plain"]);
  // The saved index carries it: a new process reads no run and shows the same.
  await index.flush();
  const again = new RunIndex(root);
  const t = (await again.summaries()).find((x) => x.id === "resumed")!;
  assert.equal(again.lastRefresh.read, 0);
  assert.equal(t.durationMs, RESUMED_ALIVE_MS);
});

Deno.test("run index: a restart appended to a running run's events.jsonl is seen, run.json unchanged", async () => {
  const root = await Deno.makeTempDir();
  const dir = await writeResumedRun(root, "live", "running");
  const index = new RunIndex(root);
  assert.equal((await index.summaries())[0].durationMs, RESUMED_ALIVE_MS);
  const folderTime = (await Deno.stat(dir)).mtime!;
  // Dead again after 3020 s, resumed at 3025 s: the event appended in place, nothing else.
  const t0 = Date.UTC(2026, 0, 1, 10);
  await Deno.writeTextFile(
    join(dir, "events.jsonl"),
    JSON.stringify({ type: "resumed", epoch: 4, step: 40, time: t0 + 3025_000 }) + "\n",
    { append: true },
  );
  await Deno.utime(dir, folderTime, folderTime);
  const [s] = await index.summaries();
  assert.equal(index.lastRefresh.read, 1);
  assert.equal(s.durationMs, RESUMED_ALIVE_MS - 5_000);
});

Deno.test("readRunRestarts: the restarts and the last record before each; the metrics read only for a new restart", async () => {
  const root = await Deno.makeTempDir();
  const dir = await writeResumedRun(root, "r");
  const t0 = Date.UTC(2026, 0, 1, 10);
  const first = await readRunRestarts(dir);
  // The last record before the resume at 3000 s: epoch 1's metrics at 20 s.
  assert.deepEqual(first, { at: [t0 + 3000_000], lastRecords: [t0 + 20_000] });
  assert.equal(await readRunRestarts(dir, first), first, "same restarts: the earlier answer");
  assert.equal(
    await readRunRestarts(await writeFakeRun(root, { id: "never", epochs: 2 })),
    undefined,
  );
});

Deno.test("readRunRestarts: events read a step at a time (a restart past the first 4 MiB step)", async () => {
  const root = await Deno.makeTempDir();
  const dir = await writeResumedRun(root, "big");
  const t0 = Date.UTC(2026, 0, 1, 10);
  // 9 MB of warnings between 3020 s and 3022 s, then a second restart at 3025 s.
  const pad = "x".repeat(140);
  const lines = Array.from(
    { length: 40_000 },
    (_, i) =>
      JSON.stringify({ type: "warning", epoch: 3, step: 40, time: t0 + 3020_000 + i / 20, pad }),
  );
  lines.push(JSON.stringify({ type: "resumed", epoch: 4, step: 40, time: t0 + 3025_000 }));
  await Deno.writeTextFile(join(dir, "events.jsonl"), lines.join("\n") + "\n", { append: true });
  assert.ok((await Deno.stat(join(dir, "events.jsonl"))).size > 8 << 20);
  const r = await readRunRestarts(dir);
  assert.deepEqual(r, {
    at: [t0 + 3000_000, t0 + 3025_000],
    lastRecords: [t0 + 20_000, t0 + 3020_000 + 39_999 / 20],
  });
});
