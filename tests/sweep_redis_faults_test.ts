/**
 * Sweeps under Redis faults, against real `redis-server` processes: a server that accepts
 * connections but never answers (SIGSTOP) is an error naming the URL for the controller and
 * the worker, not a hang; a restart without persistence loses the jobs, which the controller
 * adds again (the workers reconnect); a SIGKILLed worker's trial goes to another worker within
 * 15 s with the default lock; a sweep folder made again from the same spec gets new jobs (the
 * old folder's completed jobs do not answer for it), and `--forget` removes a sweep's jobs.
 */
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { join } from "node:path";
import { Redis } from "ioredis";
import { readEvents, readRunInfo } from "../core/run/reader.ts";
import { listResumePoints } from "../core/run/checkpoints.ts";
import { listSweeps, readTrialStates, type TrialState } from "../sweep/store.ts";
import { assertSweepComplete } from "./helpers/sweep_check.ts";
import { startRedis } from "./helpers/redis_server.ts";
import { type CollectedOutput, collectOutput } from "./helpers/collect_output.ts";

const SWEEP = fileURLToPath(new URL("../cli/sweep.ts", import.meta.url));
const WORKER = fileURLToPath(new URL("../cli/sweep_worker.ts", import.meta.url));

const spec = (name: string, widths: number[], epochs: number) => ({
  name,
  experiment: "default",
  settings: { epochs, imageSize: 24 },
  parameters: { width: { values: widths } },
  metric: "val_acc",
});

interface Proc extends CollectedOutput {
  proc: Deno.ChildProcess;
}

function spawn(cwd: string, script: string, args: string[]): Proc {
  const proc = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", script, ...args],
    cwd,
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  return { proc, ...collectOutput(proc) };
}

const controller = (cwd: string, url: string, q: string, extra: string[] = []) =>
  spawn(cwd, SWEEP, ["spec.json", "--queue", url, "--queue-name", q, ...extra]);
const worker = (cwd: string, url: string, q: string, extra: string[] = []) =>
  spawn(cwd, WORKER, ["--queue", url, "--queue-name", q, "--threads", "1", ...extra]);

async function waitFor<T>(f: () => Promise<T | undefined>, ms: number, what: string): Promise<T> {
  const t0 = Date.now();
  for (;;) {
    const v = await f();
    if (v !== undefined) return v;
    if (Date.now() - t0 > ms) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

async function trialStates(cwd: string): Promise<TrialState[] | undefined> {
  const [s] = await listSweeps(join(cwd, "sweeps"));
  return s ? await readTrialStates(s.dir, s.record) : undefined;
}

/** A trial running mid-epoch (its run exists and has started). */
async function runningTrial(cwd: string): Promise<TrialState | undefined> {
  const t = (await trialStates(cwd))?.find((s) => s.status === "running" && s.runDir);
  if (!t) return undefined;
  const info = await readRunInfo(t.runDir!).catch(() => undefined);
  return info?.status === "running" ? t : undefined;
}

function stop(p: Proc): void {
  try {
    p.proc.kill("SIGKILL");
  } catch { /* ended */ }
}

async function setup(name: string, widths: number[], epochs: number): Promise<string> {
  const cwd = await Deno.makeTempDir({ prefix: `sweep-faults-${name}-` });
  await Deno.writeTextFile(join(cwd, "spec.json"), JSON.stringify(spec(name, widths, epochs)));
  return cwd;
}

Deno.test({
  name: "Redis paused (SIGSTOP): sweep --queue and sweep-worker fail with a clear error, no hang",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    const redis = await startRedis();
    // Far more epochs than the test waits for, and no early stop: the trial must still be
    // training when Redis stops answering (on a quiet machine 30 epochs, early-stopped, ended
    // inside the 10 s PING timeout).
    const cwd = await Deno.makeTempDir({ prefix: "sweep-faults-paused-" });
    await Deno.writeTextFile(
      join(cwd, "spec.json"),
      JSON.stringify({
        ...spec("paused", [4], 1000),
        parameters: { width: { values: [4] }, earlyStoppingPatience: { values: [1000] } },
      }),
    );
    const procs: Proc[] = [];
    try {
      // Paused from the start: both give up naming the URL.
      Deno.kill(redis.pid, "SIGSTOP");
      const t0 = Date.now();
      const c0 = controller(cwd, redis.url, "qp");
      const w0 = worker(cwd, redis.url, "qp");
      procs.push(c0, w0);
      const [s0, s1] = await Promise.all([c0.done, w0.done]);
      assert.ok(Date.now() - t0 < 40_000, `took ${Date.now() - t0} ms`);
      assert.equal(s0.code, 1, c0.err());
      assert.equal(s1.code, 1, w0.err());
      for (const p of [c0, w0]) assert.match(p.err(), /Redis .*redis:\/\/127\.0\.0\.1:\d+/);
      Deno.kill(redis.pid, "SIGCONT");

      // Paused mid-trial: the controller fails with the resume hint; the worker stops the trial
      // cleanly (a resume point) and fails.
      const c = controller(cwd, redis.url, "qp");
      const w = worker(cwd, redis.url, "qp");
      procs.push(c, w);
      const t = await waitFor(() => runningTrial(cwd), 120_000, "a running trial");
      Deno.kill(redis.pid, "SIGSTOP");
      const t1 = Date.now();
      const [cs, ws] = await Promise.all([c.done, w.done]);
      assert.ok(Date.now() - t1 < 40_000, `took ${Date.now() - t1} ms`);
      assert.equal(cs.code, 1, c.err());
      assert.match(c.err(), /did not answer .* within 10 s/);
      assert.match(c.err(), /continue it: +deno task sweep --resume \S+ --runs \S+ --queue redis:/);
      assert.equal(ws.code, 1, w.err());
      assert.match(w.err(), /did not answer/);
      const info = await readRunInfo(t.runDir!);
      assert.deepEqual([info.status, info.stopReason], ["stopped", "interrupted"], w.err());
      assert.ok((await listResumePoints(t.runDir!)).length >= 1);
    } finally {
      procs.forEach(stop);
      await redis.stop();
      await Deno.remove(cwd, { recursive: true }).catch(() => {});
    }
  },
});

Deno.test({
  name: "Redis restarted without persistence mid-sweep: lost jobs are added again, all finish once",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    let redis = await startRedis();
    const cwd = await setup("restart", [4, 6, 8], 3);
    const procs: Proc[] = [];
    try {
      const c = controller(cwd, redis.url, "qr");
      const w = worker(cwd, redis.url, "qr");
      procs.push(c, w);
      await waitFor(() => runningTrial(cwd), 120_000, "a running trial");
      await redis.stop();
      redis = await startRedis(redis.port);
      const cs = await c.done;
      assert.equal(cs.code, 0, c.err());
      assert.match(c.err(), /Redis lost the jobs of/);
      assert.match(c.out(), /3\/3 done/);
      const [{ dir }] = await listSweeps(join(cwd, "sweeps"));
      await assertSweepComplete(dir, join(cwd, "runs"));
    } finally {
      procs.forEach(stop);
      await redis.stop();
      await Deno.remove(cwd, { recursive: true }).catch(() => {});
    }
  },
});

Deno.test({
  name: "a SIGKILLed worker's trial goes to another worker within 15 s with the default lock",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    const redis = await startRedis();
    const cwd = await setup("takeover", [4], 12);
    const procs: Proc[] = [];
    try {
      const c = controller(cwd, redis.url, "qt");
      const a = worker(cwd, redis.url, "qt");
      procs.push(c, a);
      const t = await waitFor(() => runningTrial(cwd), 120_000, "a running trial");
      const b = worker(cwd, redis.url, "qt");
      procs.push(b);
      await new Promise((r) => setTimeout(r, 2000)); // b is up and waiting
      a.proc.kill("SIGKILL");
      const t0 = Date.now();
      await waitFor(
        async () => {
          const s = (await trialStates(cwd))?.[0];
          return s?.status === "running" && s.worker?.endsWith(`:${b.proc.pid}`) ? s : undefined;
        },
        60_000,
        "the takeover",
      );
      const took = Date.now() - t0;
      console.log(`takeover after ${took} ms`);
      assert.ok(took < 15_000, `takeover took ${took} ms`);
      const cs = await c.done;
      assert.equal(cs.code, 0, c.err());
      const [{ dir }] = await listSweeps(join(cwd, "sweeps"));
      const { states } = await assertSweepComplete(dir, join(cwd, "runs"));
      assert.equal(states[0].runDir, t.runDir, "resumed in the same run");
    } finally {
      procs.forEach(stop);
      await redis.stop();
      await Deno.remove(cwd, { recursive: true }).catch(() => {});
    }
  },
});

Deno.test({
  name: "a busy worker (event loop blocked past its lock) is not taken over: the trial runs once",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    const redis = await startRedis();
    const cwd = await setup("busy", [4], 2);
    const procs: Proc[] = [];
    try {
      // The experiment blocks the event loop for 9 s after epoch 1: no lock renewal (5 s lock).
      const base = new URL("../experiments/default.ts", import.meta.url).href;
      await Deno.writeTextFile(
        join(cwd, "busy.ts"),
        `import base from "${base}";\n` +
          `const busy = { name: "busy", onEpochEnd(e) { if (e !== 0) return; ` +
          `const t = Date.now(); while (Date.now() - t < 9000) {} } };\n` +
          `export default { ...base, callbacks: (o) => [...(base.callbacks?.(o) ?? []), busy] };\n`,
      );
      await Deno.writeTextFile(
        join(cwd, "spec.json"),
        JSON.stringify({ ...spec("busy", [4], 2), experiment: "./busy.ts" }),
      );
      const c = controller(cwd, redis.url, "qb");
      const a = worker(cwd, redis.url, "qb");
      procs.push(c, a);
      await waitFor(() => runningTrial(cwd), 120_000, "a running trial");
      const b = worker(cwd, redis.url, "qb");
      procs.push(b);
      const cs = await c.done;
      assert.equal(cs.code, 0, c.err());
      const [{ dir }] = await listSweeps(join(cwd, "sweeps"));
      const { states, resumedRuns } = await assertSweepComplete(dir, join(cwd, "runs"));
      assert.equal(resumedRuns, 0, "never resumed by another worker");
      const { records } = await readEvents(states[0].runDir!);
      assert.ok(!records.some((e) => e.type === "lock_taken_over"), JSON.stringify(records));
      // The stall did happen: the other worker found the trial claimed by a live owner.
      assert.match(b.err() + a.err(), /retrying in 10 s/);
    } finally {
      procs.forEach(stop);
      await redis.stop();
      await Deno.remove(cwd, { recursive: true }).catch(() => {});
    }
  },
});

Deno.test({
  name: "jobs are tied to the sweep folder: a new folder of the same spec runs again; --forget",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    const redis = await startRedis();
    const cwd = await setup("forget", [4], 1);
    const procs: Proc[] = [];
    const keys = async () => {
      const r = new Redis(redis.url);
      try {
        return (await r.keys("bull:qf:forget-*")).length;
      } finally {
        r.disconnect();
      }
    };
    try {
      const w = worker(cwd, redis.url, "qf");
      procs.push(w);
      const first = controller(cwd, redis.url, "qf");
      assert.equal((await first.done).code, 0, first.err());
      const [{ record }] = await listSweeps(join(cwd, "sweeps"));
      // Both folders deleted: the same spec is a new sweep folder, trained again (not "done"
      // from the old folder's completed job with a deleted run).
      await Deno.remove(join(cwd, "runs"), { recursive: true });
      await Deno.remove(join(cwd, "sweeps"), { recursive: true });
      const second = controller(cwd, redis.url, "qf");
      assert.equal((await second.done).code, 0, second.err());
      const [again] = await listSweeps(join(cwd, "sweeps"));
      assert.equal(again.record.id, record.id);
      assert.notEqual(again.record.folderId, record.folderId);
      const [s] = await readTrialStates(again.dir, again.record);
      assert.equal(s.status, "completed");
      assert.equal((await readRunInfo(s.runDir!)).status, "completed", "its run exists");
      // --forget removes both folders' jobs.
      assert.ok(await keys() > 0);
      const f = spawn(cwd, SWEEP, [
        "spec.json",
        "--forget",
        "--queue",
        redis.url,
        "--queue-name",
        "qf",
      ]);
      assert.equal((await f.done).code, 0, f.err());
      assert.match(f.out(), /2 job\(s\) removed/);
      assert.equal(await keys(), 0);
    } finally {
      procs.forEach(stop);
      await redis.stop();
      await Deno.remove(cwd, { recursive: true }).catch(() => {});
    }
  },
});
