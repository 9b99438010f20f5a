import assert from "node:assert/strict";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseTrainArgs } from "../cli/train.ts";
import { loadExperiment } from "../experiments/registry.ts";

const CLI = fileURLToPath(new URL("../cli/train.ts", import.meta.url));

async function cli(...args: string[]) {
  const out = await new Deno.Command(Deno.execPath(), { args: ["run", "-A", CLI, ...args] })
    .output();
  const d = new TextDecoder();
  return { code: out.code, stdout: d.decode(out.stdout), stderr: d.decode(out.stderr) };
}

Deno.test("parseTrainArgs: defaults, values, repeatable --callback", () => {
  const a = parseTrainArgs([]);
  assert.equal(a.experiment, "default");
  assert.equal(a.backend, "auto");
  assert.equal(a.runsDir, "runs");
  const b = parseTrainArgs([
    "--epochs",
    "3",
    "--lr",
    "1e-4",
    "--callback",
    "a.ts",
    "--callback",
    'b.ts {"x":1}',
    "--backend",
    "cpu",
  ]);
  assert.equal(b.overrides.epochs, 3);
  assert.equal(b.overrides.learningRate, 1e-4);
  assert.deepEqual(b.callbacks, ["a.ts", 'b.ts {"x":1}']);
});

Deno.test("parseTrainArgs: unknown flags and bad values are clear errors", () => {
  assert.throws(() => parseTrainArgs(["--epoch", "3"]), /Unknown option '--epoch'.*--help/);
  assert.throws(
    () => parseTrainArgs(["--epochs", "three"]),
    /--epochs must be an integer >= 1, got "three"/,
  );
  assert.throws(
    () => parseTrainArgs(["--batch-size", "1.5"]),
    /--batch-size must be an integer >= 1/,
  );
  assert.throws(() => parseTrainArgs(["--lr", ""]), /--lr must be a number > 0/);
  assert.throws(() => parseTrainArgs(["--backend", "tpu"]), /--backend must be one of auto/);
  assert.throws(() => parseTrainArgs(["--port", "80"]), /--port and --host go with --dashboard/);
  assert.throws(() => parseTrainArgs(["stray"]), /Unexpected argument 'stray'/);
});

Deno.test("experiments: unknown name, missing file, file without an experiment", async () => {
  await assert.rejects(
    loadExperiment("nope"),
    /Unknown experiment "nope". Built-in: default, snacks/,
  );
  await assert.rejects(loadExperiment("./missing_exp.ts"), /missing_exp\.ts does not exist/);
  const dir = await Deno.makeTempDir();
  const bad = join(dir, "bad.ts");
  await Deno.writeTextFile(bad, "export default { name: 'x' };");
  await assert.rejects(
    loadExperiment(bad),
    /does not export a valid Experiment.*dataset\(options\)/,
  );
});

Deno.test("--experiment snacks --summary prints the chapter's table layer for layer", async () => {
  const r = await cli("--experiment", "snacks", "--summary");
  assert.equal(r.code, 0, r.stderr);
  // The chapter's summary (Keras 2, padding="same", 224x224x3, 20 classes), row by row.
  const chapter: [string, string, string, number][] = [
    ["conv2d_1", "Conv2D", "(None, 224, 224, 32)", 896],
    ["conv2d_2", "Conv2D", "(None, 224, 224, 32)", 9248],
    ["max_pooling2d_1", "MaxPooling2D", "(None, 112, 112, 32)", 0],
    ["conv2d_3", "Conv2D", "(None, 112, 112, 64)", 18496],
    ["conv2d_4", "Conv2D", "(None, 112, 112, 64)", 36928],
    ["max_pooling2d_2", "MaxPooling2D", "(None, 56, 56, 64)", 0],
    ["conv2d_5", "Conv2D", "(None, 56, 56, 128)", 73856],
    ["conv2d_6", "Conv2D", "(None, 56, 56, 128)", 147584],
    ["max_pooling2d_3", "MaxPooling2D", "(None, 28, 28, 128)", 0],
    ["conv2d_7", "Conv2D", "(None, 28, 28, 256)", 295168],
    ["conv2d_8", "Conv2D", "(None, 28, 28, 256)", 590080],
    ["global_average_pooling2d_1", "GlobalAveragePooling2D", "(None, 256)", 0],
    ["dense_1", "Dense", "(None, 20)", 5140],
    ["activation_1", "Activation", "(None, 20)", 0],
  ];
  const rows = r.stdout.split("\n")
    .map((l) => l.match(/^(\w+) \((\w+)\)\s+(\([^)]*\))\s+(\d+)\s+(?:\d+x\d+ \/\d+|all)?$/))
    .filter((m) => m !== null)
    .map((m) => [m[1], m[2], m[3], Number(m[4])]);
  assert.deepEqual(rows, chapter);
  assert.match(r.stdout, /^Total params: 1,177,396$/m);
  assert.match(r.stdout, /^Trainable params: 1,177,396$/m);
  assert.match(r.stdout, /^Non-trainable params: 0$/m);
});

Deno.test("CLI exit codes: --help 0, bad flag or option value 2 with the message", async () => {
  const help = await cli("--help");
  assert.equal(help.code, 0);
  assert.match(help.stdout, /Usage: deno task train/);
  const bad = await cli("--nope");
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /error: Unknown option '--nope'/);
  const runs = await Deno.makeTempDir();
  const neg = await cli("--epochs=-1", "--runs", runs);
  assert.equal(neg.code, 2);
  assert.match(neg.stderr, /--epochs must be an integer >= 1, got "-1"/);
  const zero = await cli("--set", "epochs=0", "--runs", runs);
  assert.equal(zero.code, 2);
  assert.match(zero.stderr, /epochs \(--epochs\) must be an integer >= 1, got 0/);
  const small = await cli("--experiment", "snacks", "--image-size", "7", "--runs", runs);
  assert.equal(small.code, 2);
  assert.match(small.stderr, /Image size 7x7 is too small for the book's convnet.*at least 8 /);
  const resumeBad = await cli("--resume", runs);
  assert.equal(resumeBad.code, 1);
  assert.doesNotMatch(resumeBad.stderr, new RegExp(`(^|\\s)${runs}`), "no absolute path");
  assert.match(resumeBad.stderr, /is not a run directory/);
  let n = 0;
  for await (const _ of Deno.readDir(runs)) n++;
  assert.equal(n, 0, "failed configurations leave no run directory");
});
