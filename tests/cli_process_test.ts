/**
 * Every CLI entry point run as a process that must end by itself with the right exit code:
 * `deno task train`, `deno task evaluate` and `deno task dashboard`. A process still running
 * after its time limit is killed and fails the test as hung.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { readUntil } from "./helpers/read_until.ts";

const TRAIN = fileURLToPath(new URL("../cli/train.ts", import.meta.url));
const EVALUATE = fileURLToPath(new URL("../cli/evaluate.ts", import.meta.url));
const DASHBOARD = fileURLToPath(new URL("../cli/dashboard.ts", import.meta.url));

interface Exit {
  code: number;
  stdout: string;
  stderr: string;
  /** True when the process had to be killed at the time limit. */
  hung: boolean;
}

/**
 * Runs `deno run -A ...denoFlags script ...args`; kills it after `limitMs` (then `hung` is
 * true).
 */
async function run(
  script: string,
  args: string[],
  limitMs: number,
  denoFlags: string[] = [],
): Promise<Exit> {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", ...denoFlags, script, ...args],
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  let hung = false;
  const timer = setTimeout(() => {
    hung = true;
    child.kill("SIGKILL");
  }, limitMs);
  try {
    const out = await child.output();
    const d = new TextDecoder();
    return { code: out.code, stdout: d.decode(out.stdout), stderr: d.decode(out.stderr), hung };
  } finally {
    clearTimeout(timer);
  }
}

function assertExit(r: Exit, code: number, what: string): void {
  assert.ok(!r.hung, `${what} did not exit by itself (killed):\n${r.stdout}\n${r.stderr}`);
  assert.equal(r.code, code, `${what}: exit ${r.code}\n${r.stdout}\n${r.stderr}`);
}

async function onlyRun(runs: string): Promise<string> {
  const dirs = await Array.fromAsync(Deno.readDir(runs));
  assert.equal(dirs.length, 1, dirs.map((d) => d.name).join(", "));
  return join(runs, dirs[0].name);
}

Deno.test("train then evaluate (wasm and auto): each process ends by itself with exit 0, evaluate says which weights", async () => {
  const runs = await Deno.makeTempDir();
  try {
    const train = await run(
      TRAIN,
      ["--epochs", "1", "--image-size", "16", "--runs", runs],
      180_000,
    );
    assertExit(train, 0, "deno task train --epochs 1");
    assert.match(train.stdout, /Finished: 1 epochs/);
    const runDir = await onlyRun(runs);
    const info = JSON.parse(await Deno.readTextFile(join(runDir, "run.json")));
    assert.equal(info.status, "completed");

    const report = async () => JSON.parse(await Deno.readTextFile(join(runDir, "evaluation.json")));
    await Deno.remove(join(runDir, "evaluation.json"));
    for (const backend of ["wasm", "auto"]) {
      const ev = await run(EVALUATE, ["--run", runDir, "--backend", backend], 120_000);
      assertExit(ev, 0, `deno task evaluate --backend ${backend}`);
      assert.match(ev.stderr, /weights: checkpoints\/best \(the best checkpoint\)/);
      assert.match(ev.stdout, /test accuracy \d+\.\d\d% on 600 images/);
      assert.equal((await report()).checkpoint, "best");
    }

    // A run without a best checkpoint: evaluate falls back to the newest resume point.
    await Deno.remove(join(runDir, "checkpoints", "best"), { recursive: true });
    const points = await Array.fromAsync(Deno.readDir(join(runDir, "checkpoints", "resume")));
    assert.deepEqual(
      points.map((p) => p.name).sort(),
      ["e0000", "e0001"],
      "the initial resume point and the one after epoch 1",
    );
    const ev = await run(EVALUATE, ["--run", runDir], 120_000);
    assertExit(ev, 0, "deno task evaluate on resume points only");
    assert.match(
      ev.stderr,
      /weights: checkpoints\/resume\/e0001 \(the newest resume point: the run has no best/,
    );
    assert.equal((await report()).checkpoint, "resume/e0001");
  } finally {
    await Deno.remove(runs, { recursive: true });
  }
});

Deno.test("train: a run that fails exits 1 and is marked failed; bad flags exit 2", async () => {
  const runs = await Deno.makeTempDir();
  try {
    const plugin = join(runs, "..", `boom-${crypto.randomUUID()}.ts`);
    await Deno.writeTextFile(
      plugin,
      `export default { name: "boom", onEpochEnd() { throw new Error("boom at epoch end"); } };`,
    );
    try {
      const failed = await run(
        TRAIN,
        ["--epochs", "2", "--image-size", "16", "--runs", runs, "--callback", plugin],
        180_000,
      );
      assertExit(failed, 1, "a failing run");
      assert.match(failed.stderr, /error: .*boom at epoch end/);
      const info = JSON.parse(await Deno.readTextFile(join(await onlyRun(runs), "run.json")));
      assert.equal(info.status, "failed");
    } finally {
      await Deno.remove(plugin);
    }
    const bad = await run(TRAIN, ["--epochs", "1", "--nope"], 60_000);
    assertExit(bad, 2, "train --nope");
    assert.match(bad.stderr, /error: Unknown option '--nope'/);
  } finally {
    await Deno.remove(runs, { recursive: true });
  }
});

Deno.test("evaluate: --help exits 0, bad flags 2, a folder that is not a run 1", async () => {
  const help = await run(EVALUATE, ["--help"], 60_000);
  assertExit(help, 0, "evaluate --help");
  assert.match(help.stdout, /Usage: deno task evaluate/);
  const bad = await run(EVALUATE, ["--run", "x", "--nope"], 60_000);
  assertExit(bad, 2, "evaluate --nope");
  assert.match(bad.stderr, /error: Unknown option '--nope'/);
  const noRun = await run(EVALUATE, [], 60_000);
  assertExit(noRun, 2, "evaluate without --run");
  const empty = await Deno.makeTempDir();
  try {
    const notRun = await run(EVALUATE, ["--run", empty], 60_000);
    assertExit(notRun, 1, "evaluate on an empty folder");
    assert.match(notRun.stderr, /^error: /m);
  } finally {
    await Deno.remove(empty, { recursive: true });
  }
});

Deno.test("dashboard: serves until Ctrl-C then exits 0; a busy port exits 1; bad flags 2", async () => {
  const runs = await Deno.makeTempDir();
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", DASHBOARD, "--runs", runs, "--port", "0"],
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const killer = setTimeout(() => child.kill("SIGKILL"), 60_000);
  try {
    const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
    const { out, match: url } = await readUntil(reader, /http:\/\/\S+\//);

    assert.ok(url, out);
    assert.equal((await fetch(`${url}api/runs`).then((r) => r.json())).runs.length, 0);
    const port = new URL(url).port;
    const busy = await run(DASHBOARD, ["--runs", runs, "--port", port], 60_000);
    assertExit(busy, 1, "dashboard on a busy port");
    assert.match(busy.stderr, new RegExp(`error: port ${port} is in use`));
    child.kill("SIGINT");
    const t0 = performance.now();
    const [status, stderr] = await Promise.all([
      child.status,
      new Response(child.stderr).text(),
      reader.cancel(),
    ]);
    assert.equal(status.signal, null, "ended by itself, not by the signal");
    assert.equal(status.code, 0, stderr);
    assert.ok(performance.now() - t0 < 10_000, "stopped promptly");
    assert.match(stderr, /dashboard stopped/);
  } finally {
    clearTimeout(killer);
    await Deno.remove(runs, { recursive: true });
  }
  const bad = await run(DASHBOARD, ["--nope"], 60_000);
  assertExit(bad, 2, "dashboard --nope");
});

Deno.test("releaseBackends: a process that computed on wasm or native ends without Deno.exit", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const script = join(dir, "ends.ts");
    const select = new URL("../core/backend/select.ts", import.meta.url).href;
    await Deno.writeTextFile(
      script,
      `import * as tf from "@tensorflow/tfjs-core";
import { initBackend, releaseBackends } from "${select}";
const b = await initBackend(Deno.args[0] as "wasm", { log: () => {} });
const s = tf.tidy(() => tf.sum(tf.ones([64, 64])));
console.log(b.name, s.dataSync()[0]);
s.dispose();
if (Deno.args[1] === "release") releaseBackends();
`,
    );
    const config = fileURLToPath(new URL("../deno.json", import.meta.url));
    const go = (backend: string, release: boolean, limitMs: number) =>
      run(script, [backend, release ? "release" : "keep"], limitMs, ["--config", config]);
    for (const backend of ["wasm", "auto"]) {
      const r = await go(backend, true, 60_000);
      assertExit(r, 0, `${backend} with releaseBackends`);
      assert.match(r.stdout, / 4096\n$/);
    }
    // Without it, wasm's worker threads keep the process alive (the hang this guards against).
    const kept = await go("wasm", false, 8_000);
    assert.ok(
      kept.hung,
      `expected the wasm worker threads to keep the process alive: ${kept.code}`,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
