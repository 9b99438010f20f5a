import assert from "node:assert/strict";
import { experimentHelp, parseTrainArgs } from "../cli/train.ts";
import { runExperiment } from "../core/experiment/run_experiment.ts";
import { readRunMeta } from "../core/run/meta.ts";
import { readMetrics, readRunInfo } from "../core/run/reader.ts";
import type { Experiment } from "../core/experiment/experiment.ts";
import { loadExperiment } from "../experiments/registry.ts";
import { lrScheduleCallbacks } from "../experiments/default_callbacks.ts";
import type { LearningRateScheduler } from "../callbacks/learning_rate_scheduler.ts";
import { tinyExperiment } from "./helpers/tiny_experiment.ts";

Deno.test("train flags: --name/--tag/--note parsed and checked before training", () => {
  const a = parseTrainArgs([
    "--name",
    "wide one",
    "--tag",
    "baseline",
    "--tag",
    "w64",
    "--note",
    "n",
  ]);
  assert.deepEqual(a.meta, { name: "wide one", addTags: ["baseline", "w64"], note: "n" });
  assert.equal(parseTrainArgs([]).meta, undefined);
  assert.throws(() => parseTrainArgs(["--tag", "two words"]), /--name\/--tag\/--note: a tag is/);
  assert.throws(() => parseTrainArgs(["--name", ""]), /a run name must be/);
});

Deno.test("default experiment: optimizer, lrSchedule and augment are declared and listed", async () => {
  const help = experimentHelp(await loadExperiment("default"));
  assert.match(help, /optimizer \(string, default "adam"; one of adam, sgd, momentum, rmsprop/);
  assert.match(
    help,
    /lrSchedule \(string, default "plateau"; one of plateau, cosine, step, constant\)/,
  );
  assert.match(help, /augment \(boolean, default true\)/);
  const cos = lrScheduleCallbacks("cosine", 10, 0.1)[0] as LearningRateScheduler;
  assert.ok(Math.abs(cos.schedule(5, 0.1) - 0.05) < 1e-12);
  assert.equal(cos.schedule(0, 0.1), 0.1);
  const step = lrScheduleCallbacks("step", 20, 0.1)[0] as LearningRateScheduler;
  assert.equal(step.schedule(10, 0.1), 0.01);
  assert.equal(step.schedule(11, 0.1), 0.1);
  assert.deepEqual(lrScheduleCallbacks("constant", 20, 0.1), []);
});

Deno.test("runExperiment: meta written to the sidecar, the optimizer param picks the optimizer, system metrics per epoch", async () => {
  const runsDir = await Deno.makeTempDir();
  const base = tinyExperiment();
  const experiment: Experiment = {
    ...base,
    params: {
      optimizer: { default: "adam", choices: ["adam", "sgd", "rmsprop"], description: "opt" },
      augment: { default: true, description: "augment" },
    },
  };
  const { run, trainer } = await runExperiment({
    experiment,
    overrides: { epochs: 2, params: { optimizer: "rmsprop", augment: false } },
    backend: "cpu",
    runsDir,
    log: () => {},
    evaluate: false,
    meta: { name: "tiny rms", addTags: ["t1"], note: "from a test" },
  });
  assert.equal(trainer.optimizer.getClassName(), "RMSProp");
  const { meta } = await readRunMeta(run.dir);
  assert.equal(meta.name, "tiny rms");
  assert.deepEqual(meta.tags, ["t1"]);
  const { records } = await readMetrics(run.dir);
  const epochs = records.filter((r) => r.batch === undefined);
  assert.equal(epochs.length, 2);
  for (const r of epochs) {
    assert.ok(r.images_per_s! > 0, JSON.stringify(r));
    assert.ok(r.cpu_percent! >= 0);
    assert.ok(r.rss_mb! > 10);
    assert.equal(typeof r.load_1m, "number");
  }
  const info = await readRunInfo(run.dir);
  assert.equal(info.last?.images_per_s, epochs[1].images_per_s);
  assert.equal((info.config.params as Record<string, unknown>).optimizer, "rmsprop");
  // run.json lists the model's layers with their receptive fields (the summary's last column).
  const conv = info.model?.layers.find((l) => l.className === "Conv2D");
  assert.ok(conv, JSON.stringify(info.model));
  assert.ok(conv.receptiveField.size[0] >= 1 && conv.receptiveField.jump[0] >= 1);
  await assert.rejects(
    runExperiment({
      experiment,
      overrides: { epochs: 1 },
      backend: "cpu",
      runsDir,
      log: () => {},
      meta: { addTags: ["bad tag"] },
    }),
    /a tag is/,
  );
  assert.equal([...Deno.readDirSync(runsDir)].filter((e) => !e.name.startsWith(".")).length, 1);
});
