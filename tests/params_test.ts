import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { describeParams, parseSetArg, resolveParams } from "../core/experiment/params.ts";
import { resolveOptions, splitSettings } from "../core/experiment/options.ts";
import { parseTrainArgs } from "../cli/train.ts";
import { loadExperiment } from "../experiments/registry.ts";
import { runExperiment } from "../core/experiment/run_experiment.ts";
import { readRunInfo } from "../core/run/reader.ts";

const CLI = fileURLToPath(new URL("../cli/train.ts", import.meta.url));

const SPECS = {
  width: { default: 16, integer: true, min: 1, description: "filters" },
  dropout: { default: 0, min: 0, max: 0.9, description: "dropout rate" },
  optimizer: { default: "adam", choices: ["adam", "sgd"], description: "optimizer" },
  augment: { default: true, description: "augmentation" },
};

Deno.test("parseSetArg: JSON when it parses, a string otherwise; bad forms name the argument", () => {
  assert.deepEqual(parseSetArg("dropout=0.3"), ["dropout", 0.3]);
  assert.deepEqual(parseSetArg("augment=false"), ["augment", false]);
  assert.deepEqual(parseSetArg("optimizer=sgd"), ["optimizer", "sgd"]);
  assert.deepEqual(parseSetArg('name="x y"'), ["name", "x y"]);
  assert.deepEqual(parseSetArg("note=a=b"), ["note", "a=b"]);
  assert.deepEqual(parseSetArg("empty="), ["empty", ""]);
  assert.throws(() => parseSetArg("dropout"), /--set takes key=value.*"dropout"/);
  assert.throws(() => parseSetArg("=3"), /--set takes key=value/);
  assert.throws(() => parseSetArg("x=[1,2]"), /--set x: the value must be a number/);
  assert.throws(() => parseSetArg("x=null"), /--set x: the value must be a number/);
});

Deno.test("resolveParams: defaults, types, ranges, choices; unknown keys list what exists", () => {
  assert.deepEqual(resolveParams(SPECS, {}), {
    width: 16,
    dropout: 0,
    optimizer: "adam",
    augment: true,
  });
  assert.equal(resolveParams(SPECS, { width: 64 }).width, 64);
  assert.throws(() => resolveParams(SPECS, { width: 1.5 }), /width must be an integer, got 1.5/);
  assert.throws(() => resolveParams(SPECS, { dropout: 2 }), /dropout must be <= 0.9, got 2/);
  assert.throws(() => resolveParams(SPECS, { dropout: "x" }), /dropout must be a number/);
  assert.throws(
    () => resolveParams(SPECS, { optimizer: "rmsprop" }),
    /optimizer must be one of adam, sgd/,
  );
  assert.throws(() => resolveParams(SPECS, { augment: 1 }), /augment must be true or false/);
  assert.throws(
    () => resolveParams(SPECS, { widht: 3, dropuot: 1 }),
    /unknown parameters widht, dropuot \(this experiment has width, dropout, optimizer, augment/,
  );
  assert.throws(() => resolveParams({}, { x: 1 }), /has no parameters/);
  assert.match(
    describeParams(SPECS).join("\n"),
    /width \(integer, default 16; 1\.\.inf\): filters/,
  );
});

Deno.test("--set: standard options and parameters, typed, into the resolved options", () => {
  const a = parseTrainArgs(["--set", "width=32", "--set", "learningRate=0.01", "--epochs", "2"]);
  assert.deepEqual(a.overrides.params, { width: 32 });
  assert.equal(a.overrides.learningRate, 0.01);
  assert.equal(a.overrides.epochs, 2);
  assert.throws(() => parseTrainArgs(["--set", "width"]), /--set takes key=value/);
  const { overrides, params } = splitSettings([["seed", 3], ["dropout", 0.5]]);
  assert.deepEqual([overrides, params], [{ seed: 3 }, { dropout: 0.5 }]);
  const o = resolveOptions(
    { epochs: 1, batchSize: 2, learningRate: 1, imageSize: 8, seed: 1 },
    { params: { dropout: 0.5 } },
    SPECS,
  );
  assert.deepEqual(o.params, { width: 16, dropout: 0.5, optimizer: "adam", augment: true });
});

Deno.test("the default experiment takes --set width/dropout; run.json stores them; resume keeps them", async () => {
  const experiment = await loadExperiment("default");
  const runsDir = await Deno.makeTempDir();
  const { run } = await runExperiment({
    experiment,
    overrides: { epochs: 1, params: { width: 4, dropout: 0.25 } },
    backend: "wasm",
    runsDir,
    callbacks: [],
    evaluate: false,
    log: () => {},
  });
  const info = await readRunInfo(run.dir);
  assert.deepEqual(info.config.params, {
    width: 4,
    dropout: 0.25,
    reduceLrPatience: 2,
    optimizer: "adam",
    lrSchedule: "plateau",
    augment: true,
    earlyStoppingPatience: 5,
  });
  assert.equal(
    info.config.parameters,
    3 * 3 * 3 * 4 + 4 + (3 * 3 * 4 * 4 + 4) + (3 * 3 * 4 * 8 + 8) +
      (3 * 3 * 8 * 8 + 8) + (3 * 3 * 8 * 16 + 16) + (16 * 8 + 8),
  );
  await assert.rejects(
    runExperiment({
      experiment,
      resume: run.dir,
      overrides: { epochs: 2, params: { width: 8 } },
      backend: "wasm",
      callbacks: [],
      log: () => {},
    }),
    /A resumed run keeps its parameter width \(4\)/,
  );
});

Deno.test("deno task train: --help --experiment lists parameters; a bad --set exits 2 naming what exists", async () => {
  const run = async (...args: string[]) => {
    const out = await new Deno.Command(Deno.execPath(), { args: ["run", "-A", CLI, ...args] })
      .output();
    return {
      code: out.code,
      text: new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr),
    };
  };
  const help = await run("--help", "--experiment", "default");
  assert.equal(help.code, 0);
  assert.match(help.text, /parameters \(--set NAME=VALUE\):\n\s+width \(integer, default 16/);
  const bad = await run("--set", "widht=3", "--epochs", "1", "--runs", await Deno.makeTempDir());
  assert.equal(bad.code, 2);
  assert.match(bad.text, /unknown parameter widht \(this experiment has width, dropout/);
  const malformed = await run("--set", "width");
  assert.equal(malformed.code, 2);
});
