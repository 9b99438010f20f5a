/**
 * Issue 25 item 1: no delete under a live writer, and a writer never re-creates a run folder
 * that was deleted (or moved) under it.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { createDashboardApp } from "../dashboard/mod.ts";
import { TOKEN_HEADER } from "../dashboard/origin_check.ts";
import { main } from "../cli/runs.ts";
import { RunWriter } from "../core/run/writer.ts";
import { RunIsLiveError, trashRun } from "../core/run/trash.ts";
import { RunFolderGoneError } from "../core/run/lock.ts";
import { writeFileAtomic } from "../core/fs/atomic.ts";
import { FsError } from "../core/fs/confine.ts";
import { ModelCheckpoint } from "../callbacks/model_checkpoint.ts";
import { CSVLogger } from "../callbacks/csv_logger.ts";
import { tinyModel } from "./helpers/fake_context.ts";
import type { TrainContext } from "../core/train/callback.ts";
import { startLiveTrainer } from "./helpers/live_trainer.ts";

const TOKEN = "t0ken";
const ORIGIN = "http://127.0.0.1:6006";

const exists = (p: string) => Deno.lstat(p).then(() => true, () => false);

function del(runsDir: string, id: string) {
  const app = createDashboardApp({ runsDir, token: TOKEN });
  return app.request(`${ORIGIN}/api/runs/${id}`, {
    method: "DELETE",
    headers: { Host: "127.0.0.1:6006", Origin: ORIGIN, [TOKEN_HEADER]: TOKEN },
  });
}

async function cliDelete(runsDir: string, id: string) {
  const out: string[] = [], err: string[] = [];
  const code = await main(
    ["--runs", runsDir, "delete", id],
    (s) => out.push(s),
    (s) => err.push(s),
  );
  return { code, err: err.join("\n") };
}

Deno.test("delete under a live writer: refused while the lock is held after run.json says completed (final evaluation)", async () => {
  const runs = await Deno.makeTempDir();
  const run = await RunWriter.create({ runsDir: runs, experiment: "e", config: {} });
  try {
    await run.finish("completed"); // the lock is still held: evaluation is still to write
    const res = await del(runs, run.id);
    assert.equal(res.status, 409, await res.text());
    const cli = await cliDelete(runs, run.id);
    assert.equal(cli.code, 1);
    assert.match(cli.err, /is running \(pid \d+ on /);
    await assert.rejects(trashRun(runs, run.id), RunIsLiveError);
    assert.ok(await exists(run.dir), "the run folder stays");
  } finally {
    await run.close();
  }
  // Released: now it may go.
  assert.equal((await del(runs, run.id)).status, 200);
  assert.ok(!(await exists(run.dir)));
});

Deno.test("delete under a live writer: refused while a resume holds the lock before the status becomes running", async () => {
  const runs = await Deno.makeTempDir();
  const first = await RunWriter.create({ runsDir: runs, experiment: "e", config: {} });
  await first.finish("stopped");
  await first.close();
  const resumed = await RunWriter.open(first.dir); // status still "stopped"
  try {
    assert.equal(resumed.info.status, "stopped");
    assert.equal((await del(runs, first.id)).status, 409);
    assert.equal((await cliDelete(runs, first.id)).code, 1);
  } finally {
    await resumed.close();
  }
});

Deno.test("a writer whose run folder is gone stops with a clear error and re-creates nothing", async () => {
  const runs = await Deno.makeTempDir();
  const elsewhere = await Deno.makeTempDir();
  const run = await RunWriter.create({ runsDir: runs, experiment: "e", config: {} });
  await run.writeEpochMetrics({ epoch: 0, step: 1 }, { loss: 1 });
  // Deleted behind the lock's back (an older convdeck, a shell `mv`): the folder moves away.
  await Deno.rename(run.dir, join(elsewhere, run.id));
  await assert.rejects(
    run.writeEpochMetrics({ epoch: 1, step: 2 }, { loss: 0.5 }),
    (e) => e instanceof RunFolderGoneError && /deleted or moved/.test((e as Error).message),
  );
  await assert.rejects(run.artifact("viz/x.png", new Uint8Array(1)), RunFolderGoneError);
  await assert.rejects(run.finish("completed"), RunFolderGoneError);
  const model = await tinyModel();
  await assert.rejects(run.saveCheckpoint("checkpoints/best", model), RunFolderGoneError);
  // ModelCheckpoint saves through the run logger: refused the same way.
  const ctx = { run, model, step: 2, learningRate: 0.1 } as unknown as TrainContext;
  const cb = new ModelCheckpoint({ filepath: "best" });
  await assert.rejects(cb.onEpochEnd(1, { loss: 0.5 }, ctx), RunFolderGoneError);
  // So does the CSV log.
  await assert.rejects(new CSVLogger().onEpochEnd(1, { loss: 0.5 }, ctx), RunFolderGoneError);
  model.dispose();
  await run.close();
  assert.ok(!(await exists(run.dir)), "the run folder was not re-created");
});

Deno.test("atomic writes below a root never create the root", async () => {
  const parent = await Deno.makeTempDir();
  const root = join(parent, "gone-run");
  await assert.rejects(
    writeFileAtomic(join(root, "viz", "index.json"), "{}", { root }),
    (e) => e instanceof FsError && e.status === 404 && !e.message.includes(parent),
  );
  assert.ok(!(await exists(root)));
  await Deno.mkdir(root);
  await writeFileAtomic(join(root, "viz", "index.json"), "{}", { root });
  assert.equal(await Deno.readTextFile(join(root, "viz", "index.json")), "{}");
});

Deno.test("a training process whose run folder is deleted mid-run stops with a clear error and does not re-create it", async () => {
  const runs = await Deno.makeTempDir();
  const elsewhere = await Deno.makeTempDir();
  const { child, reader, dir, stderr } = await startLiveTrainer(runs, 30, 40, true);
  // Deleted behind the writer's back (as a `rm -rf` or a move by another tool would).
  await Deno.rename(dir, join(elsewhere, "moved"));
  const timer = setTimeout(() => child.kill("SIGKILL"), 60_000);
  while (!(await reader.read()).done) { /* drain */ }
  const { code } = await child.status;
  clearTimeout(timer);
  const err = (await stderr) ?? "";
  assert.notEqual(code, 0, err);
  assert.match(err, /was deleted or moved while this process was writing it/);
  assert.ok(!(await exists(dir)), "the run folder was not re-created");
});
