/**
 * Sweeps through a real Redis (Debian's redis-server on a loopback port) with BullMQ: two worker
 * processes, one SIGKILLed mid-trial; every trial finishes exactly once with complete metrics.
 * Also: adding a sweep twice is a no-op, a worker with other experiment code is refused, and
 * an unreachable Redis is an error naming the URL with nothing created.
 */
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { join } from "node:path";
import { readEvents, readMetrics } from "../core/run/reader.ts";
import { listResumePoints } from "../core/run/checkpoints.ts";
import { listSweeps, readTrialStates } from "../sweep/store.ts";
import { assertSweepComplete, runCli } from "./helpers/sweep_check.ts";
import { freePort, startRedis } from "./helpers/redis_server.ts";

const SWEEP = fileURLToPath(new URL("../cli/sweep.ts", import.meta.url));
const WORKER = fileURLToPath(new URL("../cli/sweep_worker.ts", import.meta.url));
const DEFAULT_EXPERIMENT = new URL("../experiments/default.ts", import.meta.url).href;

/** An experiment file of its own (the default experiment), so its code can be changed. */
async function writeExperiment(path: string): Promise<void> {
  await Deno.writeTextFile(
    path,
    `import base from "${DEFAULT_EXPERIMENT}";\nexport default { ...base };\n`,
  );
}

const spec = (experiment: string) => ({
  name: "redis",
  experiment,
  settings: { epochs: 4, imageSize: 24 },
  parameters: { width: { values: [4, 6, 8] }, learningRate: { values: [0.003] } },
  metric: "val_acc",
});

function startWorker(cwd: string, url: string, queueName: string): Deno.ChildProcess {
  return new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      WORKER,
      "--queue",
      url,
      "--queue-name",
      queueName,
      "--threads",
      "1",
      "--lock-ms",
      "4000",
    ],
    cwd,
    stdout: "null",
    stderr: "piped",
  }).spawn();
}

async function epochsOf(runDir: string | undefined): Promise<number> {
  if (!runDir) return 0;
  const { records } = await readMetrics(runDir).catch(() => ({ records: [] }));
  return records.filter((r) => r.batch === undefined).length;
}

Deno.test({
  name: "Redis sweep: 2 workers, one SIGKILLed mid-trial; every trial once, complete; re-add no-op",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    const redis = await startRedis();
    const cwd = await Deno.makeTempDir({ prefix: "sweep-redis-" });
    const workers: Deno.ChildProcess[] = [];
    try {
      await writeExperiment(join(cwd, "exp.ts"));
      await Deno.writeTextFile(join(cwd, "spec.json"), JSON.stringify(spec("./exp.ts")));
      const controller = new Deno.Command(Deno.execPath(), {
        args: ["run", "-A", SWEEP, "spec.json", "--queue", redis.url, "--queue-name", "q1"],
        cwd,
        stdout: "piped",
        stderr: "piped",
      }).spawn();
      const done = controller.output();
      workers.push(startWorker(cwd, redis.url, "q1"), startWorker(cwd, redis.url, "q1"));
      const victim = workers[0];
      // SIGKILL the first worker once its trial has finished an epoch, before it ends.
      let killedTrial: string | undefined;
      const deadline = Date.now() + 240_000;
      while (!killedTrial) {
        assert.ok(Date.now() < deadline, "the first worker never got a trial going");
        await new Promise((r) => setTimeout(r, 250));
        const sweeps = await listSweeps(join(cwd, "sweeps"));
        if (!sweeps.length) continue;
        const states = await readTrialStates(sweeps[0].dir, sweeps[0].record);
        const mine = states.find((s) =>
          s.status === "running" && s.worker?.endsWith(`:${victim.pid}`)
        );
        // Mid-trial: a resume point saved (after an epoch), epochs still to go.
        const n = await epochsOf(mine?.runDir);
        const points = mine?.runDir ? await listResumePoints(mine.runDir) : [];
        if (mine && points.length > 0 && n < 4) {
          victim.kill("SIGKILL");
          killedTrial = mine.key;
        }
      }
      await victim.status;
      const out = await done;
      const stdout = new TextDecoder().decode(out.stdout);
      assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
      assert.match(stdout, /3\/3 done \(3 completed/);
      const [{ dir: sweepDir }] = await listSweeps(join(cwd, "sweeps"));
      const { states } = await assertSweepComplete(sweepDir, join(cwd, "runs"));
      // The killed trial was resumed by the other worker in the same run, from a resume point.
      const killed = states.find((s) => s.key === killedTrial)!;
      const { records: events } = await readEvents(killed.runDir!);
      const resumed = events.find((e) => e.type === "resumed");
      assert.ok(resumed, JSON.stringify(events.map((e) => e.type)));
      assert.notEqual(resumed.from, null);
      assert.ok(killed.attempts >= 2, JSON.stringify(killed));

      // Adding the same sweep again adds nothing and finds it finished.
      const again = await runCli(
        SWEEP,
        ["spec.json", "--queue", redis.url, "--queue-name", "q1"],
        cwd,
      );
      assert.equal(again.code, 0, again.err);
      assert.match(again.err, /0 trial\(s\) added, 3 already there/);
      assert.match(again.out, /3\/3 done/);
    } finally {
      for (const w of workers) {
        try {
          w.kill("SIGKILL");
        } catch { /* gone */ }
        await w.status;
        await w.stderr.cancel().catch(() => {});
      }
      await redis.stop();
      await Deno.remove(cwd, { recursive: true }).catch(() => {});
    }
  },
});

Deno.test({
  name: "Redis sweep: other experiment code is refused with the reason; no Redis names the URL",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    const cwd = await Deno.makeTempDir({ prefix: "sweep-redis-bad-" });
    await writeExperiment(join(cwd, "exp.ts"));
    await Deno.writeTextFile(join(cwd, "spec.json"), JSON.stringify(spec("./exp.ts")));
    // Nothing listens on this port: a clear error, and no sweep folder.
    const url = `redis://127.0.0.1:${freePort()}`;
    const down = await runCli(SWEEP, ["spec.json", "--queue", url], cwd);
    assert.equal(down.code, 1);
    assert.match(down.err, new RegExp(`Redis is not reachable at ${url}`));
    assert.equal(await Deno.stat(join(cwd, "sweeps")).then(() => true, () => false), false);
    const downWorker = await runCli(WORKER, ["--queue", url], cwd);
    assert.equal(downWorker.code, 1);
    assert.match(downWorker.err, /Redis is not reachable at/);

    const redis = await startRedis();
    try {
      // Enqueue with no worker: stop following at once (Ctrl-C), the trials stay queued.
      const controller = new Deno.Command(Deno.execPath(), {
        args: ["run", "-A", SWEEP, "spec.json", "--queue", redis.url, "--queue-name", "q2"],
        cwd,
        stdout: "piped",
        stderr: "piped",
      }).spawn();
      const deadline = Date.now() + 60_000;
      while ((await listSweeps(join(cwd, "sweeps"))).length === 0) {
        assert.ok(Date.now() < deadline);
        await new Promise((r) => setTimeout(r, 200));
      }
      await new Promise((r) => setTimeout(r, 1500));
      controller.kill("SIGINT");
      const c = await controller.output();
      assert.equal(c.code, 130, new TextDecoder().decode(c.stderr));
      // This machine's experiment file is not the sweep's any more.
      await Deno.writeTextFile(join(cwd, "exp.ts"), "// changed\n", { append: true });
      const w = await runCli(WORKER, ["--queue", redis.url, "--queue-name", "q2"], cwd);
      assert.equal(w.code, 3, w.err);
      assert.match(
        w.err,
        /refused: this worker's experiment .*exp\.ts or a module it imports differs from the sweep's/,
      );
      assert.equal(await Deno.stat(join(cwd, "runs")).then(() => true, () => false), false);
    } finally {
      await redis.stop();
      await Deno.remove(cwd, { recursive: true }).catch(() => {});
    }
  },
});

Deno.test({
  name: "Redis sweep: Ctrl-C on a worker puts its trial back; another worker resumes it",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    const redis = await startRedis();
    const cwd = await Deno.makeTempDir({ prefix: "sweep-redis-int-" });
    const workers: Deno.ChildProcess[] = [];
    try {
      await writeExperiment(join(cwd, "exp.ts"));
      const one = { ...spec("./exp.ts"), name: "int", parameters: { width: { values: [4] } } };
      await Deno.writeTextFile(join(cwd, "spec.json"), JSON.stringify(one));
      const controller = new Deno.Command(Deno.execPath(), {
        args: ["run", "-A", SWEEP, "spec.json", "--queue", redis.url, "--queue-name", "q3"],
        cwd,
        stdout: "piped",
        stderr: "piped",
      }).spawn();
      const done = controller.output();
      const first = startWorker(cwd, redis.url, "q3");
      workers.push(first);
      const deadline = Date.now() + 240_000;
      let runDir: string | undefined;
      for (;;) {
        assert.ok(Date.now() < deadline, "the worker never got going");
        await new Promise((r) => setTimeout(r, 250));
        const sweeps = await listSweeps(join(cwd, "sweeps"));
        if (!sweeps.length) continue;
        const [s] = await readTrialStates(sweeps[0].dir, sweeps[0].record);
        const n = await epochsOf(s.runDir);
        if (s.status === "running" && n >= 1 && n < 4) {
          runDir = s.runDir;
          break;
        }
      }
      first.kill("SIGINT");
      const status = await first.status;
      const err = new TextDecoder().decode(await new Response(first.stderr).arrayBuffer());
      assert.equal(status.code, 0, err);
      assert.match(err, /interrupted, back on the queue/);
      workers.push(startWorker(cwd, redis.url, "q3"));
      const out = await done;
      assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
      const [{ dir: sweepDir }] = await listSweeps(join(cwd, "sweeps"));
      const { states } = await assertSweepComplete(sweepDir, join(cwd, "runs"));
      assert.equal(states[0].runDir, runDir);
      const { records: events } = await readEvents(runDir!);
      const types = events.map((e) => e.type);
      assert.ok(types.includes("interrupted") && types.includes("resumed"), types.join(" "));
    } finally {
      for (const w of workers) {
        try {
          w.kill("SIGKILL");
        } catch { /* gone */ }
        await w.status;
        await w.stderr.cancel().catch(() => {});
      }
      await redis.stop();
      await Deno.remove(cwd, { recursive: true }).catch(() => {});
    }
  },
});
