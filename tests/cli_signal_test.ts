import assert from "node:assert/strict";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { listResumePoints } from "../core/run/checkpoints.ts";
import { REPEAT_WINDOW_MS } from "../cli/_interrupt.ts";
import { collectOutput } from "./helpers/collect_output.ts";

const CLI = fileURLToPath(new URL("../cli/train.ts", import.meta.url));

/** Starts `deno task train` on the default experiment, small and fast. */
function start(runs: string, extra: string[] = []) {
  const proc = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", CLI, "--runs", runs, "--epochs", "3", "--backend", "wasm", ...extra],
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const io = collectOutput(proc);
  return { proc, stderr: io.err, stdout: io.out, done: () => io.done };
}

async function waitFor(pred: () => boolean, ms = 60_000): Promise<void> {
  const t0 = Date.now();
  while (!pred()) {
    if (Date.now() - t0 > ms) throw new Error("timed out");
    await new Promise((r) => setTimeout(r, 50));
  }
}

Deno.test("Ctrl-C saves a resume point mid-epoch, marks the run stopped, prints the resume command; --resume finishes", async () => {
  const runs = await Deno.makeTempDir();
  const p = start(runs);
  // Wait until training runs (the progress bar prints plain lines when not a TTY).
  await waitFor(() => /Epoch 1\/3 +\d+\/75/.test(p.stdout()));
  p.proc.kill("SIGINT");
  const status = await p.done();
  assert.equal(status.code, 0, p.stderr());
  assert.match(p.stderr(), /Ctrl-C: finishing the current batch and saving/);
  const m = /resume it: +deno task train --resume (\S+)/.exec(p.stdout());
  assert(m, p.stdout());
  const runDir = join(runs, (await Array.fromAsync(Deno.readDir(runs)))[0].name);
  const info = JSON.parse(await Deno.readTextFile(join(runDir, "run.json")));
  assert.deepEqual([info.status, info.stopReason], ["stopped", "interrupted"]);
  const [point] = await listResumePoints(runDir);
  assert.match(point, /e0000-b\d{5}$/, "a mid-epoch resume point");
  const r = start(runs, ["--resume", runDir]);
  const rs = await r.done();
  assert.equal(rs.code, 0, r.stderr());
  assert.match(r.stderr(), /resuming .* at epoch 1, batch \d+/);
  const done = JSON.parse(await Deno.readTextFile(join(runDir, "run.json")));
  assert.equal(done.status, "completed");
  assert.equal(done.epochs, 3);
});

Deno.test("a second Ctrl-C quits at once with exit code 130", async () => {
  const runs = await Deno.makeTempDir();
  // A plugin that makes each batch take 400 ms and the end of training 10 s, so the second
  // Ctrl-C (after the duplicates window) lands before the run ends.
  const slow = join(runs, "slow_plugin.ts");
  await Deno.writeTextFile(
    slow,
    "const wait = (ms) => () => new Promise((r) => setTimeout(r, ms));\n" +
      'export default { name: "slow", onBatchEnd: wait(400), onTrainEnd: wait(10000) };',
  );
  const p = start(runs, ["--callback", slow]);
  await waitFor(() => /Epoch 1\/3 +\d+\/75/.test(p.stdout()));
  p.proc.kill("SIGINT");
  await waitFor(() => p.stderr().includes("press Ctrl-C again")); // pending signals coalesce
  // A repeat within the window is the same Ctrl-C (deno task forwards it twice); later forces.
  await new Promise((r) => setTimeout(r, REPEAT_WINDOW_MS + 200));
  p.proc.kill("SIGINT");
  const status = await p.done();
  assert.equal(status.code, 130, p.stderr());
  assert.match(p.stderr(), /again: quitting now/);
});
