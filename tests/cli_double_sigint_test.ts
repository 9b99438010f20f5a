/**
 * One Ctrl-C through `deno task` arrives more than once (the terminal signals the whole process
 * group and `deno task` forwards it to its child): two SIGINTs 50 ms apart to the process group
 * of `deno task train` / `deno task sweep` are one request, a clean stop (summary printed,
 * states stopped, the partial epoch saved as a resume point), not a forced quit.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { listResumePoints } from "../core/run/checkpoints.ts";
import { readRunInfo } from "../core/run/reader.ts";
import { listSweeps, readTrialStates } from "../sweep/store.ts";
import { interruptRule } from "../cli/_interrupt.ts";
import { collectOutput } from "./helpers/collect_output.ts";

const CONFIG = fileURLToPath(new URL("../deno.json", import.meta.url));

/** `deno task NAME ...` in its own process group (as a terminal starts it), output collected. */
function task(name: string, args: string[]) {
  const proc = new Deno.Command("setsid", {
    args: [Deno.execPath(), "task", "-q", "--config", CONFIG, name, ...args],
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1" },
  }).spawn();
  const io = collectOutput(proc);
  return {
    out: io.out,
    err: io.err,
    /** Ctrl-C as a terminal sends it: to the whole group, twice, 50 ms apart. */
    async doubleCtrlC() {
      Deno.kill(-proc.pid, "SIGINT");
      await new Promise((r) => setTimeout(r, 50));
      Deno.kill(-proc.pid, "SIGINT");
    },
    done: () => io.done,
  };
}

async function waitFor(pred: () => boolean | Promise<boolean>, ms = 120_000): Promise<void> {
  const t0 = Date.now();
  while (!(await pred())) {
    if (Date.now() - t0 > ms) throw new Error("timed out");
    await new Promise((r) => setTimeout(r, 100));
  }
}

Deno.test({
  name: "double SIGINT to `deno task train`'s group: a clean stop with a mid-epoch resume point",
  sanitizeResources: false,
  // Known flake under investigation: about 1 run in 5 of the whole suite, `deno task` itself ends
  // with 130 before the child's clean stop prints (the child printed its first-Ctrl-C line); it
  // has not reproduced alone. Retried so CI tells a real regression (fails every try) from it.
  retry: 2,
  fn: async () => {
    const runs = await Deno.makeTempDir({ prefix: "double-sigint-train-" });
    // Batches that wait 100 ms: the event loop is free, so the two signals are seen apart (a
    // busy loop would coalesce them).
    const slow = join(runs, "slow_plugin.ts");
    await Deno.writeTextFile(
      slow,
      'export default { name: "slow", onBatchEnd: () => new Promise((r) => setTimeout(r, 100)) };',
    );
    const t = task("train", [
      "--runs",
      runs,
      "--epochs",
      "3",
      "--backend",
      "wasm",
      "--callback",
      slow,
    ]);
    await waitFor(() => /Epoch 1\/3 +\d+\/75/.test(t.out()));
    await t.doubleCtrlC();
    const status = await t.done();
    assert.equal(status.code, 0, t.err());
    assert.doesNotMatch(t.err(), /quitting now/);
    assert.match(t.out(), /resume it: +deno task train --resume/);
    const [entry] = (await Array.fromAsync(Deno.readDir(runs))).filter((e) => e.isDirectory);
    const runDir = join(runs, entry.name);
    const info = await readRunInfo(runDir);
    assert.deepEqual([info.status, info.stopReason], ["stopped", "interrupted"]);
    const [point] = await listResumePoints(runDir);
    assert.match(point, /e0000-b\d{5}$/, "the partial epoch was saved");
    await Deno.remove(runs, { recursive: true });
  },
});

Deno.test({
  name:
    "double SIGINT to `deno task sweep`'s group: summary, trials stopped, resume hint with --runs",
  sanitizeResources: false,
  fn: async () => {
    const cwd = await Deno.makeTempDir({ prefix: "double-sigint-sweep-" });
    const spec = join(cwd, "spec.json");
    await Deno.writeTextFile(
      spec,
      JSON.stringify({
        name: "dbl",
        experiment: "default",
        settings: { epochs: 2, imageSize: 24 },
        parameters: { width: { values: [4, 6] } },
        metric: "val_acc",
      }),
    );
    const runs = join(cwd, "elsewhere-runs"), sweeps = join(cwd, "sweeps");
    const t = task("sweep", [spec, "--runs", runs, "--sweeps", sweeps, "--backend", "wasm"]);
    // Ctrl-C once a trial's run exists and is mid-epoch.
    await waitFor(async () => {
      const [s] = await listSweeps(sweeps);
      if (!s) return false;
      const running = (await readTrialStates(s.dir, s.record)).find((x) => x.status === "running");
      if (!running?.runDir) return false;
      const info = await readRunInfo(running.runDir).catch(() => undefined);
      return info?.status === "running";
    });
    await new Promise((r) => setTimeout(r, 1500));
    await t.doubleCtrlC();
    const status = await t.done();
    assert.equal(status.code, 130, t.err());
    assert.match(t.out(), /0\/2 done/, "the summary was printed");
    const [{ dir, record }] = await listSweeps(sweeps);
    assert.equal(record.runsDir, runs, "sweep.json stores the runs folder");
    const states = await readTrialStates(dir, record);
    assert.deepEqual(states.map((s) => s.status), ["stopped", "pending"], JSON.stringify(states));
    const info = await readRunInfo(states[0].runDir!);
    assert.deepEqual([info.status, info.stopReason], ["stopped", "interrupted"]);
    assert.ok((await listResumePoints(states[0].runDir!)).length >= 1, "nothing lost");
    const hint = /continue it: +deno task sweep (--resume \S+ --runs (\S+))/.exec(t.out());
    assert.ok(hint, t.out());
    assert.equal(hint[2], runs);
    // The resume without --runs uses the sweep's runs folder: the stopped run is resumed there.
    const r = task("sweep", ["--resume", dir, "--backend", "wasm"]);
    const rs = await r.done();
    assert.equal(rs.code, 0, r.err());
    const after = await readTrialStates(dir, record);
    assert.deepEqual(after.map((s) => s.status), ["completed", "completed"]);
    assert.equal(after[0].runDir, states[0].runDir, "the interrupted run was resumed");
    assert.ok(after.every((s) => s.runDir!.startsWith(runs)));
    await Deno.remove(cwd, { recursive: true });
  },
});

Deno.test("the interrupt rule: repeats within the window are the first request, later ones force", () => {
  let t = 0;
  const next = interruptRule(1500, () => t);
  assert.equal(next(), "first");
  t = 50;
  assert.equal(next(), "duplicate");
  t = 1499;
  assert.equal(next(), "duplicate");
  t = 1600;
  assert.equal(next(), "again");
});

Deno.test("the interrupt rule: a twin held up by a blocked event loop is still a duplicate", () => {
  let t = 0, tick = 0;
  const next = interruptRule(1500, () => t, () => tick);
  assert.equal(next(), "first");
  t = 2600; // the loop was busy from the first signal until now: no tick ran
  assert.equal(next(), "duplicate");
  tick = 1700; // the loop ran past the window: a later Ctrl-C is deliberate
  t = 2700;
  assert.equal(next(), "again");
});
