/**
 * Issue 25 item 2: special files in a runs folder, a sweep folder or a checkpoint (FIFOs,
 * symlinks to `/dev/zero` or `/etc/passwd`, a `checkpoints/` symlinked outside the run) never
 * hang, never balloon memory, never read outside: a clear error, or skipped in listings. Each
 * FIFO is guarded ({@linkcode guardFifos}) so that a regression fails instead of hanging.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { createDashboardApp } from "../dashboard/mod.ts";
import { TOKEN_HEADER } from "../dashboard/origin_check.ts";
import { main as runsMain } from "../cli/runs.ts";
import { RunIndex } from "../core/run/index.ts";
import { readRunMeta, updateRunMeta } from "../core/run/meta.ts";
import { acquireRunLock, readHeartbeat } from "../core/run/lock.ts";
import { findRunWeights, listResumePoints } from "../core/run/checkpoints.ts";
import { loadModel, readState, saveModel, verifyCheckpoint } from "../core/run/model_io.ts";
import { listSweeps, readSweep } from "../sweep/store.ts";
import { readCacheIndex } from "../core/data/image_cache.ts";
import { FsError, readUserFile } from "../core/fs/confine.ts";
import { writeFakeRun } from "./helpers/fake_run.ts";
import { writeFakeSweep } from "./helpers/fake_sweep.ts";
import { tinyModel } from "./helpers/fake_context.ts";
import { guardFifos, makeFifo } from "./helpers/fifo.ts";

const TOKEN = "t0ken";
const ORIGIN = "http://127.0.0.1:6006";
const MB = 1024 * 1024;

/** Runs `fn` with the FIFOs guarded and checks it took under `ms` and grew RSS < 200 MB. */
async function quick<T>(fifos: string[], fn: () => Promise<T>, ms = 5_000): Promise<T> {
  const unguard = guardFifos(fifos, ms + 2_000);
  const rss = Deno.memoryUsage().rss;
  const t0 = performance.now();
  try {
    return await fn();
  } finally {
    unguard();
    const took = performance.now() - t0;
    assert.ok(took < ms, `took ${Math.round(took)} ms`);
    const grew = (Deno.memoryUsage().rss - rss) / MB;
    assert.ok(grew < 200, `RSS grew ${grew.toFixed(0)} MB`);
  }
}

async function runsList(runsDir: string) {
  const out: string[] = [], err: string[] = [];
  const code = await runsMain(
    ["--runs", runsDir, "list", "--json"],
    (s) => out.push(s),
    (s) => err.push(s),
  );
  return { code, out: out.join("\n"), err: err.join("\n") };
}

async function checkpointRun(): Promise<{ runs: string; dir: string; best: string }> {
  const runs = await Deno.makeTempDir();
  const dir = await writeFakeRun(runs, { id: "r1", epochs: 1 });
  const best = join(dir, "checkpoints", "best");
  const model = await tinyModel();
  await saveModel(model, best, { state: { epoch: 0 }, manifest: true });
  model.dispose();
  return { runs, dir, best };
}

Deno.test("special files: a FIFO or a /dev/zero symlink as the run index does not hang `runs list` or GET /api/runs", async () => {
  for (const kind of ["fifo", "zero"] as const) {
    const runs = await Deno.makeTempDir();
    await writeFakeRun(runs, { id: "a", epochs: 1 });
    const index = join(runs, ".convdeck-index.json");
    if (kind === "fifo") await makeFifo(index);
    else await Deno.symlink("/dev/zero", index);
    const fifos = kind === "fifo" ? [index] : [];
    const summaries = await quick(fifos, () => new RunIndex(runs).summaries());
    assert.deepEqual(summaries.map((s) => s.id), ["a"]);
    const cli = await quick(fifos, () => runsList(runs));
    assert.equal(cli.code, 0, cli.err);
    assert.equal(JSON.parse(cli.out).runs.length, 1);
    const app = createDashboardApp({ runsDir: runs });
    const res = await quick(fifos, async () => await app.request("/api/runs"));
    assert.equal(res.status, 200, kind);
    await res.body?.cancel();
  }
});

Deno.test("special files: a FIFO or a /dev/zero symlink as meta.json.lock does not hang tag and note edits", async () => {
  for (const kind of ["fifo", "zero"] as const) {
    const runs = await Deno.makeTempDir();
    const dir = await writeFakeRun(runs, { id: "a", epochs: 1 });
    const lock = join(dir, "meta.json.lock");
    if (kind === "fifo") await makeFifo(lock);
    else await Deno.symlink("/dev/zero", lock);
    const fifos = kind === "fifo" ? [lock] : [];
    await quick(fifos, () => updateRunMeta(dir, (m) => ({ ...m, tags: ["x"] })));
    assert.deepEqual((await readRunMeta(dir)).meta.tags, ["x"]);
    // Through the dashboard too (the route the UI uses).
    const app = createDashboardApp({ runsDir: runs, token: TOKEN });
    if (kind === "fifo") await makeFifo(lock);
    else await Deno.symlink("/dev/zero", lock);
    const res = await quick(fifos, async () =>
      await app.request(`${ORIGIN}/api/runs/a/meta`, {
        method: "PATCH",
        headers: {
          "Content-Type": "application/json",
          Host: "127.0.0.1:6006",
          Origin: ORIGIN,
          [TOKEN_HEADER]: TOKEN,
        },
        body: JSON.stringify({ note: "hello" }),
      }));
    assert.equal(res.status, 200, await res.text());
  }
});

Deno.test("special files: a FIFO or a /dev/zero symlink as the heartbeat is no lock and no hang", async () => {
  for (const kind of ["fifo", "zero"] as const) {
    const dir = await Deno.makeTempDir();
    const hb = join(dir, "heartbeat");
    if (kind === "fifo") await makeFifo(hb);
    else await Deno.symlink("/dev/zero", hb);
    const fifos = kind === "fifo" ? [hb] : [];
    assert.equal(await quick(fifos, () => readHeartbeat(dir)), undefined);
  }
  // A writer taking a run whose heartbeat is a FIFO: it is moved aside once old, not read.
  const dir = await Deno.makeTempDir();
  const hb = join(dir, "heartbeat");
  await makeFifo(hb);
  const old = new Date(Date.now() - 60_000);
  await Deno.utime(hb, old, old);
  const lock = await quick([hb], () => acquireRunLock(dir));
  assert.ok((await Deno.lstat(hb)).isFile);
  await lock.release();
});

Deno.test("special files: a FIFO sweep.json is skipped by the sweep list and refused by /api/sweeps/:id", async () => {
  const root = await Deno.makeTempDir();
  await writeFakeSweep(root);
  const sweepDir = join(root, "sweeps", "s-0123abcd");
  const file = join(sweepDir, "sweep.json");
  await Deno.remove(file);
  await makeFifo(file);
  assert.deepEqual(await quick([file], () => listSweeps(join(root, "sweeps"))), []);
  await quick(
    [file],
    () => assert.rejects(readSweep(sweepDir), /is refused: not a regular file \(a FIFO\)/),
  );
  const app = createDashboardApp({ runsDir: join(root, "runs") });
  const list = await quick([file], async () => await app.request("/api/sweeps"));
  assert.equal(list.status, 200);
  assert.deepEqual((await list.json()).sweeps, []);
  const one = await quick([file], async () => await app.request("/api/sweeps/s-0123abcd"));
  assert.ok(one.status >= 400 && one.status < 500, String(one.status));
  assert.ok(!(await one.text()).includes(root), "no absolute path");
});

Deno.test("special files: weights.bin as a FIFO, a /dev/zero symlink or a symlink to /etc/passwd is refused", async () => {
  for (const kind of ["fifo", "zero", "passwd"] as const) {
    const { best } = await checkpointRun();
    const weights = join(best, "weights.bin");
    await Deno.remove(weights);
    if (kind === "fifo") await makeFifo(weights);
    else await Deno.symlink(kind === "zero" ? "/dev/zero" : "/etc/passwd", weights);
    const fifos = kind === "fifo" ? [weights] : [];
    const err = await quick(fifos, () => loadModel(best).then(() => undefined, (e) => e));
    assert.ok(err instanceof Error, `${kind}: loaded`);
    assert.match(
      err.message,
      kind === "fifo"
        ? /weights\.bin is refused: not a regular file \(a FIFO\)/
        : /weights\.bin is refused: a symlink inside a checkpoint is never followed/,
    );
    assert.ok(!/sha256 [0-9a-f]{64}, got/.test(err.message), "no hash of what it points at");
    // The manifest check refuses it too, without reading it.
    await quick(fifos, () => assert.rejects(verifyCheckpoint(best), /weights\.bin is missing/));
  }
  // state.json as a FIFO: refused, not waited on.
  const { best } = await checkpointRun();
  await Deno.remove(join(best, "state.json"));
  await makeFifo(join(best, "state.json"));
  await quick(
    [join(best, "state.json")],
    () => assert.rejects(readState(best), /state\.json is refused: not a regular file/),
  );
});

Deno.test("special files: a checkpoints/ folder symlinked outside the run is never used", async () => {
  const { dir } = await checkpointRun();
  const outside = await Deno.makeTempDir();
  await Deno.rename(join(dir, "checkpoints"), join(outside, "checkpoints"));
  await Deno.symlink(join(outside, "checkpoints"), join(dir, "checkpoints"));
  await assert.rejects(
    findRunWeights(dir),
    (e) =>
      e instanceof FsError && e.status === 400 &&
      /a symlink inside a run is never followed/.test(e.message) && !e.message.includes(outside),
  );
  await assert.rejects(listResumePoints(dir), FsError);
  // And the dashboard's predictor refuses it with a 4xx naming no absolute path.
  const app = createDashboardApp({ runsDir: join(dir, "..") });
  const res = await app.request("/api/runs/r1/predict");
  const body = await res.text();
  assert.ok(res.status >= 400 && res.status < 500, `${res.status} ${body}`);
  assert.ok(!body.includes(outside), body);
});

Deno.test("special files: a FIFO image cache index or pixel file is ignored, not waited on", async () => {
  const dir = await Deno.makeTempDir();
  const index = join(dir, "images-8-fill-v1.json");
  await makeFifo(index);
  assert.equal(await quick([index], () => readCacheIndex(dir, "images-8-fill-v1", 192)), undefined);
  await Deno.remove(index);
  const bin = join(dir, "images-8-fill-v1.x.u8");
  await makeFifo(bin);
  await Deno.writeTextFile(
    index,
    JSON.stringify({
      format: "convdeck-image-cache",
      version: 1,
      key: "images-8-fill-v1",
      imageBytes: 192,
      bin: "images-8-fill-v1.x.u8",
      count: 1,
      entries: {},
    }),
  );
  assert.equal(await quick([bin], () => readCacheIndex(dir, "images-8-fill-v1", 192)), undefined);
});

Deno.test("special files: a FIFO or device given as a file to read is refused before open", async () => {
  const dir = await Deno.makeTempDir();
  const fifo = await makeFifo(join(dir, "cat.png"));
  await quick([fifo], () =>
    assert.rejects(
      readUserFile(fifo, MB),
      (e) => e instanceof FsError && /not a regular file \(a FIFO\)/.test(e.message),
    ));
  await assert.rejects(readUserFile("/dev/zero", MB), /not a regular file \(a device\)/);
  const link = join(dir, "zero.png");
  await Deno.symlink("/dev/zero", link);
  await assert.rejects(readUserFile(link, MB), /not a regular file \(a device\)/);
});
