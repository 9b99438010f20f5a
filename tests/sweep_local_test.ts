/**
 * A real local sweep: 6 trials of the default experiment, 2 workers, median pruning; Ctrl-C
 * while trials run, then --resume finishes it with no trial run twice.
 */
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { join } from "node:path";
import { readMetrics, readRunInfo } from "../core/run/reader.ts";
import { listSweeps, readTrialStates } from "../sweep/store.ts";
import { assertSweepComplete, runCli } from "./helpers/sweep_check.ts";

const SWEEP = fileURLToPath(new URL("../cli/sweep.ts", import.meta.url));

const SPEC = {
  name: "local",
  experiment: "default",
  settings: { epochs: 4, imageSize: 24 },
  parameters: {
    learningRate: { values: [0.003, 0.00003] },
    width: { values: [4, 6, 8] },
  },
  metric: "val_acc",
  pruner: { type: "median", warmupEpochs: 1, minTrials: 1 },
};

async function finishedEpochs(runDir: string | undefined): Promise<number> {
  if (!runDir) return 0;
  const { records } = await readMetrics(runDir).catch(() => ({ records: [] }));
  return records.filter((r) => r.batch === undefined).length;
}

Deno.test({
  name: "local sweep: 6 trials, 2 workers, pruning; Ctrl-C then --resume, nothing run twice",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    const cwd = await Deno.makeTempDir({ prefix: "sweep-local-" });
    await Deno.writeTextFile(join(cwd, "spec.json"), JSON.stringify(SPEC));
    const child = new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", SWEEP, "spec.json", "--workers", "2"],
      cwd,
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const output = child.output();
    // Ctrl-C once a running trial has finished an epoch and another has not ended.
    let sweepDir: string | undefined;
    const deadline = Date.now() + 240_000;
    for (;;) {
      assert.ok(Date.now() < deadline, "no trial got going");
      await new Promise((r) => setTimeout(r, 300));
      sweepDir ??= (await listSweeps(join(cwd, "sweeps")))[0]?.dir;
      if (!sweepDir) continue;
      const [{ record }] = await listSweeps(join(cwd, "sweeps"));
      const states = await readTrialStates(sweepDir, record);
      const running = states.filter((s) => s.status === "running");
      const progressed = await Promise.all(running.map((s) => finishedEpochs(s.runDir)));
      if (running.length === 2 && progressed.some((n) => n >= 1 && n < 4)) break;
    }
    child.kill("SIGINT");
    const first = await output;
    const err1 = new TextDecoder().decode(first.stderr);
    assert.equal(first.code, 130, err1);
    const [{ record }] = await listSweeps(join(cwd, "sweeps"));
    const interrupted = (await readTrialStates(sweepDir, record)).filter((s) =>
      s.status === "stopped"
    );
    assert.ok(interrupted.length >= 1, err1);
    for (const s of interrupted) {
      const info = await readRunInfo(s.runDir!);
      assert.equal(info.status, "stopped");
      assert.equal(info.stopReason, "interrupted");
    }
    assert.match(
      new TextDecoder().decode(first.stdout),
      /continue it: {2}deno task sweep --resume/,
    );

    const second = await runCli(SWEEP, ["--resume", sweepDir, "--workers", "2"], cwd);
    assert.equal(second.code, 0, second.err);
    assert.match(second.out, /6\/6 done/);
    const { states, resumedRuns } = await assertSweepComplete(sweepDir, join(cwd, "runs"));
    // Each interrupted trial was resumed in its own run (one more attempt), not started again.
    for (const s of interrupted) {
      const now = states.find((t) => t.key === s.key)!;
      assert.equal(now.runDir, s.runDir);
      assert.equal(now.attempts, 2);
    }
    assert.ok(resumedRuns >= interrupted.length);
    // The tiny learning rate cannot keep up: pruning stopped some trials early.
    const pruned = states.filter((s) => s.status === "pruned");
    assert.ok(pruned.length >= 1, JSON.stringify(states));
    assert.match(second.out, /saved by pruning [1-9]/);
    await Deno.remove(cwd, { recursive: true });
  },
});
