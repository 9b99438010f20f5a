import assert from "node:assert/strict";
import { join, resolve } from "node:path";
import { decode } from "fast-png";
import { runExperiment } from "../core/experiment/run_experiment.ts";
import { RunWriter } from "../core/run/writer.ts";
import { readVizIndex } from "../core/run/artifacts.ts";
import { loadExperiment } from "../experiments/registry.ts";
import { parseFilterList } from "../cli/patterns.ts";
import type { VizPatternSet } from "../core/run/viz_format.ts";

const EXPERIMENT = resolve("tests/helpers/patterns_experiment.ts");

/** Runs `deno task patterns ARGS` as users do (the deno.json task, its permissions). */
async function task(args: string[]) {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["task", "-q", "patterns", ...args],
    env: { NO_COLOR: "1" },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const dec = new TextDecoder();
  return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
}

async function trainedRun(runsDir: string): Promise<string> {
  const { run } = await runExperiment({
    experiment: await loadExperiment(EXPERIMENT),
    experimentSource: EXPERIMENT,
    backend: "cpu",
    runsDir,
    log: () => {},
    evaluate: false,
  });
  return run.id;
}

Deno.test("parseFilterList: ranges and lists", () => {
  assert.deepEqual(parseFilterList("0-3,8"), [0, 1, 2, 3, 8]);
  assert.deepEqual(parseFilterList("5"), [5]);
  assert.throws(() => parseFilterList("3-1"), /runs backwards/);
  assert.throws(() => parseFilterList("a"), /--filters must look like 0-15/);
});

Deno.test("deno task patterns: writes pattern and patch grids into the run (viz index) or --out; clear errors", async () => {
  const runsDir = await Deno.makeTempDir();
  const id = await trainedRun(runsDir);
  const runDir = join(runsDir, id);

  // Into the run, by id in --runs: two layers, 4 filters each, per-layer times on stderr.
  const ok = await task([
    "--run",
    id,
    "--runs",
    runsDir,
    "--experiment",
    EXPERIMENT,
    "--layer",
    "conv2d",
    "--layer",
    "conv2d_2",
    "--filters",
    "0-3",
    "--steps",
    "6",
    "--patches",
    "3",
    "--backend",
    "cpu",
  ]);
  assert.equal(ok.code, 0, ok.stderr);
  assert.match(ok.stderr, /^conv2d: \d+\.\d s \(patterns and patches\)$/m);
  assert.match(ok.stderr, /^conv2d_2: \d+\.\d s/m);
  assert.match(ok.stderr, /conv2d \(4 filters\) steps {2}6\/6 {2}\d+:\d\d/, "a progress line");
  assert.match(ok.stdout, /^wrote .*viz\/patterns-best/m);
  const index = await readVizIndex(runDir);
  const set = index.patterns!.at(-1)!;
  assert.equal(set.source, "patterns");
  assert.equal(set.checkpoint, "best");
  assert.deepEqual(set.layers.map((l) => [l.layer, l.filters.map((f) => f.filter)]), [
    ["conv2d", [0, 1, 2, 3]],
    ["conv2d_2", [0, 1, 2, 3]],
  ]);
  assert.deepEqual(set.layers[0].receptiveField.size, [3, 3]);
  for (const l of set.layers) {
    const png = decode(await Deno.readFile(join(runDir, l.patterns.file)));
    assert.equal(
      png.width,
      l.patterns.cols * l.patterns.tileW + (l.patterns.cols - 1) * l.patterns.gap,
    );
    assert.equal(l.patches!.items.length, 4);
    assert.equal(l.patches!.items[0].length, 3);
    await Deno.stat(join(runDir, l.patches!.file));
  }
  // Running again replaces the set of the same checkpoint instead of adding another.
  const again = await task([
    "--run",
    runDir,
    "--experiment",
    EXPERIMENT,
    "--layer",
    "conv2d",
    "--filters",
    "1",
    "--steps",
    "2",
    "--patches",
    "0",
    "--backend",
    "cpu",
  ]);
  assert.equal(again.code, 0, again.stderr);
  const index2 = await readVizIndex(runDir);
  assert.equal(index2.patterns!.length, 1);
  assert.equal(index2.patterns![0].layers[0].patches, undefined);

  // --out: files and patterns.json there, the run untouched.
  const out = join(await Deno.makeTempDir(), "out");
  const o = await task([
    "--run",
    runDir,
    "--experiment",
    EXPERIMENT,
    "--layer",
    "conv2d_1",
    "--steps",
    "3",
    "--out",
    out,
    "--backend",
    "cpu",
  ]);
  assert.equal(o.code, 0, o.stderr);
  const json: VizPatternSet = JSON.parse(await Deno.readTextFile(join(out, "patterns.json")));
  assert.equal(json.layers[0].filters.length, 4, "the first 16 filters, or all 4 there are");
  await Deno.stat(join(out, json.layers[0].patterns.file));
  assert.equal((await readVizIndex(runDir)).patterns!.length, 1);

  // Bad input: exit 1 with what exists; bad flags: exit 2.
  const pool = await task(["--run", runDir, "--layer", "max_pooling2d", "--backend", "cpu"]);
  assert.equal(pool.code, 1);
  assert.match(
    pool.stderr,
    /layer "max_pooling2d" is a MaxPooling2D, not a conv layer; conv layers: conv2d, conv2d_1, conv2d_2, conv2d_3, conv2d_4/,
  );
  const range = await task([
    "--run",
    runDir,
    "--layer",
    "conv2d",
    "--filters",
    "2-9",
    "--backend",
    "cpu",
  ]);
  assert.equal(range.code, 1);
  assert.match(
    range.stderr,
    /filter 4, 5, 6, 7, 8, 9 out of range: layer "conv2d" has 4 filters \(0-3\)/,
  );
  const missing = await task(["--run", "nope", "--runs", runsDir]);
  assert.equal(missing.code, 1);
  assert.match(missing.stderr, /no run nope/);
  assert.doesNotMatch(missing.stderr, new RegExp(runsDir.replaceAll("/", "\\/") + "\\/nope"));
  const empty = await RunWriter.create({ runsDir, experiment: "tinypatterns", config: {} });
  await empty.close();
  const noWeights = await task(["--run", empty.id, "--runs", runsDir]);
  assert.equal(noWeights.code, 1);
  assert.match(noWeights.stderr, /has no weights: .*train the run for at least one epoch first/);
  const bad = await task(["--run", id, "--steps", "x"]);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /--steps must be an integer/);
  const help = await task(["--help"]);
  assert.equal(help.code, 0);
  assert.match(help.stdout, /Usage: deno task patterns --run RUN/);
});
