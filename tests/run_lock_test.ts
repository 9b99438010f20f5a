import assert from "node:assert/strict";
import { startLiveTrainer } from "./helpers/live_trainer.ts";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import {
  acquireRunLock,
  type Heartbeat,
  HEARTBEAT_STALE_MS,
  readHeartbeat,
  runCrashReason,
  RunLockedError,
  thisHost,
} from "../core/run/lock.ts";
import { RunWriter } from "../core/run/writer.ts";
import { readEvents } from "../core/run/reader.ts";

const CHILD = fileURLToPath(new URL("./helpers/train_child.ts", import.meta.url));

async function writeHeartbeat(dir: string, hb: Partial<Heartbeat>) {
  const now = Date.now();
  await Deno.writeTextFile(
    join(dir, "heartbeat"),
    JSON.stringify({ host: thisHost(), pid: Deno.pid, token: "t", since: now, time: now, ...hb }),
  );
}

Deno.test("run lock: a second writer is refused naming the owner; release lets the next in", async () => {
  const dir = await Deno.makeTempDir();
  const first = await acquireRunLock(dir);
  const hb = await readHeartbeat(dir);
  assert.equal(hb?.pid, Deno.pid);
  await assert.rejects(
    acquireRunLock(dir),
    (e) => e instanceof RunLockedError && e.message.includes(`pid ${Deno.pid} on ${thisHost()}`),
  );
  await first.release();
  assert.equal(await readHeartbeat(dir), undefined, "the lock file is gone");
  const second = await acquireRunLock(dir);
  await second.release();
});

Deno.test("run lock: stale locks are taken over (dead pid here, old heartbeat elsewhere), fresh foreign ones are not", async () => {
  const dir = await Deno.makeTempDir();
  await writeHeartbeat(dir, { pid: 2 ** 22 + 12345 }); // no such process
  const a = await acquireRunLock(dir);
  assert.equal(a.tookOver?.reason, "dead-process");
  await a.release();
  await writeHeartbeat(dir, { host: "other-host", time: Date.now() - HEARTBEAT_STALE_MS - 1000 });
  const b = await acquireRunLock(dir);
  assert.equal(b.tookOver?.reason, "old-heartbeat");
  await b.release();
  await writeHeartbeat(dir, { host: "other-host", pid: 77 });
  await assert.rejects(acquireRunLock(dir), /pid 77 on other-host/);
});

Deno.test("run lock: a writer whose run was taken over stops writing", async () => {
  const runsDir = await Deno.makeTempDir();
  const run = await RunWriter.create({ runsDir, experiment: "x", config: {} });
  await run.event("before");
  // Another process takes the run over (e.g. after judging this one stale).
  await writeHeartbeat(run.dir, { host: "other-host", pid: 4242, token: "theirs" });
  // The next heartbeat (every 5 s) notices; writes are then refused, naming the new owner.
  await new Promise((r) => setTimeout(r, 5_500));
  await assert.rejects(run.event("after"), /pid 4242 on other-host/);
  assert.throws(() => run.assertOwner(), /pid 4242 on other-host/);
  const events = (await readEvents(run.dir)).records.map((e) => e.type);
  assert.deepEqual(events, ["before"]);
  await run.close();
});

Deno.test("RunWriter.open takes over a dead owner's run with a lock_taken_over event", async () => {
  const runsDir = await Deno.makeTempDir();
  const run = await RunWriter.create({ runsDir, experiment: "x", config: {} });
  await run.close();
  await writeHeartbeat(run.dir, { pid: 2 ** 22 + 54321 });
  const again = await RunWriter.open(run.dir);
  await again.close();
  const ev = (await readEvents(run.dir)).records.find((e) => e.type === "lock_taken_over");
  assert.equal((ev?.previousOwner as { pid: number }).pid, 2 ** 22 + 54321);
  assert.equal(ev?.reason, "dead-process");
});

Deno.test("crashed is derived: a running run whose heartbeat is stale, or that has none and is old", async () => {
  const dir = await Deno.makeTempDir();
  const now = Date.now();
  assert.equal(await runCrashReason(dir, now), undefined, "just written: not yet crashed");
  assert.equal(await runCrashReason(dir, now - HEARTBEAT_STALE_MS - 1), "no-heartbeat");
  await writeHeartbeat(dir, { pid: 2 ** 22 + 777 });
  assert.equal(await runCrashReason(dir, now), "dead-process");
  await writeHeartbeat(dir, {});
  assert.equal(await runCrashReason(dir, now), undefined);
});

Deno.test("deno task train --resume against a live trainer is refused and writes nothing", async () => {
  const runsDir = await Deno.makeTempDir();
  const { child, reader, dir } = await startLiveTrainer(runsDir, 50, 150);
  try {
    const before = await Deno.readTextFile(join(dir, "events.jsonl"));
    const second = await new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", CHILD, runsDir, "50", dir],
      stdout: "piped",
      stderr: "piped",
    }).output();
    const err = new TextDecoder().decode(second.stderr);
    assert.notEqual(second.code, 0);
    assert.match(err, /is being written by another process: pid \d+ on /);
    const after = await Deno.readTextFile(join(dir, "events.jsonl"));
    assert.ok(after.startsWith(before));
    assert.ok(
      !after.slice(before.length).includes('"resumed"'),
      "the refused resume wrote nothing",
    );
  } finally {
    child.kill("SIGKILL");
    await child.status;
    await reader.cancel().catch(() => {});
  }
});
