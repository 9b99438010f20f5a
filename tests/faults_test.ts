import assert from "node:assert/strict";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { loadWeights } from "../core/run/model_io.ts";
import { listResumePoints } from "../core/run/checkpoints.ts";
import { prepareExperiment, runExperiment } from "../core/experiment/run_experiment.ts";
import { RunWriter } from "../core/run/writer.ts";
import { smallConvnet } from "../core/models/small_convnet.ts";
import { checkRunReadable } from "./helpers/kill_loop.ts";
import { tinyExperiment } from "./helpers/tiny_experiment.ts";

const quiet = { backend: "wasm" as const, log: () => {} };

Deno.test("a runs folder that cannot be written is a clear error before training", async () => {
  const dir = await Deno.makeTempDir();
  const file = join(dir, "not-a-folder");
  await Deno.writeTextFile(file, "x");
  let trained = false;
  await assert.rejects(
    runExperiment({
      ...quiet,
      runsDir: join(file, "runs"),
      experiment: tinyExperiment(() => [{ name: "w", onTrainBegin: () => void (trained = true) }]),
    }),
    /Cannot create the runs folder .*not-a-folder\/runs.*Pass --runs DIR/,
  );
  assert.equal(trained, false);
});

Deno.test("two runs started in the same second get distinct ids; nothing is clobbered", async () => {
  const runsDir = await Deno.makeTempDir();
  const now = () => new Date(2026, 10, 29, 12, 0, 0);
  const [a, b] = await Promise.all([
    RunWriter.create({ runsDir, experiment: "x", config: { n: 1 }, now }),
    RunWriter.create({ runsDir, experiment: "x", config: { n: 2 }, now }),
  ]);
  assert.notEqual(a.dir, b.dir);
  assert.deepEqual([a.id, b.id].sort(), ["x-20261129-120000", "x-20261129-120000-2"]);
  const infos = await Promise.all(
    [a, b].map(async (r) => JSON.parse(await Deno.readTextFile(join(r.dir, "run.json")))),
  );
  assert.deepEqual(infos.map((i) => i.config.n).sort(), [1, 2]);
});

Deno.test("two training processes at once into the same runs folder", async () => {
  const runsDir = await Deno.makeTempDir();
  const child = fileURLToPath(new URL("./helpers/train_child.ts", import.meta.url));
  const outs = await Promise.all(
    [0, 1].map(() =>
      new Deno.Command(Deno.execPath(), {
        args: ["run", "-A", child, runsDir, "2"],
        stdout: "piped",
        stderr: "piped",
      })
        .output()
    ),
  );
  const dirs = outs.map((o) => {
    assert(o.success, `child failed (${o.code}): ${new TextDecoder().decode(o.stderr)}`);
    const text = new TextDecoder().decode(o.stdout);
    assert(text.includes("DONE"));
    return /RUN (.*)/.exec(text)![1];
  });
  assert.notEqual(dirs[0], dirs[1]);
  for (const d of dirs) {
    await checkRunReadable(d);
    assert.equal(JSON.parse(await Deno.readTextFile(join(d, "run.json"))).status, "completed");
  }
});

async function mountTmpfs(dir: string, size: string): Promise<boolean> {
  const out = await new Deno.Command("mount", {
    args: ["-t", "tmpfs", "-o", `size=${size}`, "tmpfs", dir],
    stderr: "null",
    stdout: "null",
  }).output().catch(() => undefined);
  return out?.success ?? false;
}

Deno.test("disk full during a resume point: the previous one survives and resume finishes", async (t) => {
  const mnt = await Deno.makeTempDir();
  if (!(await mountTmpfs(mnt, "2m"))) {
    t.step({
      name: "skipped: mounting a tmpfs needs root (CI runs as root)",
      ignore: true,
      fn() {},
    });
    return;
  }
  try {
    const first = await runExperiment({
      ...quiet,
      runsDir: mnt,
      experiment: tinyExperiment(),
      overrides: { epochs: 2 },
    });
    // Fill the disk, leaving 12 KiB: enough for a metrics line and run.json, not a checkpoint.
    const df = new TextDecoder().decode(
      (await new Deno.Command("df", { args: ["-B1", "--output=avail", mnt] }).output()).stdout,
    );
    const avail = Number(df.trim().split("\n")[1]);
    await Deno.writeFile(join(mnt, "filler"), new Uint8Array(Math.max(0, avail - 12 * 1024)));
    await assert.rejects(
      runExperiment({
        ...quiet,
        runsDir: mnt,
        experiment: tinyExperiment(),
        resume: first.run.dir,
        overrides: { epochs: 4 },
      }),
      /Saving the resume point .*e0003 failed: No space left on device.*previous resume point is intact/,
    );
    await checkRunReadable(first.run.dir);
    const points = await listResumePoints(first.run.dir);
    assert.match(points[0], /e0002$/, "the epoch-2 resume point is still the newest");
    await loadWeights(smallConvnet([12, 12, 3], 4, [4, 4, 4]), points[0]); // checksum intact
    for await (const e of Deno.readDir(join(first.run.dir, "checkpoints", "resume"))) {
      assert(!/tmp|old/.test(e.name), `leftover ${e.name}`);
    }
    await Deno.remove(join(mnt, "filler"));
    const resumed = await runExperiment({
      ...quiet,
      runsDir: mnt,
      experiment: tinyExperiment(),
      resume: first.run.dir,
      overrides: { epochs: 4 },
    });
    assert.equal(resumed.result.status, "completed");
    assert.equal(resumed.trainer.history.length, 4);
  } finally {
    await new Deno.Command("umount", { args: [mnt] }).output();
  }
});

Deno.test("bad configuration is a clear error before any work", async (t) => {
  const runsDir = await Deno.makeTempDir();
  const cases: [string, Record<string, unknown>, RegExp][] = [
    ["negative epochs", { epochs: -1 }, /epochs \(--epochs\) must be an integer >= 1, got -1/],
    ["zero batch size", { batchSize: 0 }, /batch size \(--batch-size\) must be an integer >= 1/],
    [
      "NaN learning rate",
      { learningRate: NaN },
      /learning rate \(--lr\) must be a positive number, got NaN/,
    ],
    [
      "image too small",
      { imageSize: 4 },
      /Image size 4x4 is too small for the small convnet: use at least 8/,
    ],
  ];
  for (const [name, overrides, re] of cases) {
    await t.step(name, async () => {
      await assert.rejects(
        prepareExperiment({ ...quiet, experiment: tinyExperiment(), overrides }),
        re,
      );
    });
  }
  let entries = 0;
  for await (const _ of Deno.readDir(runsDir)) entries++;
  assert.equal(entries, 0, "no run directory was created");
});
