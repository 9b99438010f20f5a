import assert from "node:assert/strict";
import { expandTrials, SpecError, validateSpec } from "../sweep/spec.ts";
import { ashaRule, ashaRungs, decidePrune, medianRule } from "../sweep/pruners.ts";
import { join } from "node:path";
import type { HistoryEntry } from "../core/train/callback.ts";
import { prunerCallback } from "../sweep/trial.ts";
import { FakeContext } from "./helpers/fake_context.ts";
import { writeFakeSweep } from "./helpers/fake_sweep.ts";

const problemsOf = (raw: unknown): string[] => {
  try {
    validateSpec(raw);
  } catch (err) {
    assert.ok(err instanceof SpecError, String(err));
    return err.problems;
  }
  assert.fail("the spec validated");
};

Deno.test("grid: every combination, last parameter fastest, fixed settings on every trial", () => {
  const spec = validateSpec({
    experiment: "default",
    settings: { epochs: 2 },
    parameters: { width: { values: [8, 16] }, reduceLrPatience: { int: [1, 3] } },
    metric: "val_acc",
  });
  assert.equal(spec.method, "grid");
  assert.equal(spec.direction, "max");
  const trials = expandTrials(spec);
  assert.deepEqual(trials.map((t) => t.params), [
    { width: 8, reduceLrPatience: 1 },
    { width: 8, reduceLrPatience: 2 },
    { width: 8, reduceLrPatience: 3 },
    { width: 16, reduceLrPatience: 1 },
    { width: 16, reduceLrPatience: 2 },
    { width: 16, reduceLrPatience: 3 },
  ]);
  assert.deepEqual(trials[4].settings, { epochs: 2, width: 16, reduceLrPatience: 2 });
  assert.deepEqual(trials.map((t) => t.key).slice(0, 2), ["t000", "t001"]);
});

Deno.test("random: seeded and reproducible, in range, more trials keep the earlier ones", () => {
  const raw = {
    method: "random",
    trials: 50,
    seed: 7,
    parameters: {
      learningRate: { logUniform: [1e-4, 1e-1] },
      dropout: { uniform: [0.1, 0.5] },
      width: { int: [4, 6] },
      act: { values: ["relu", "elu"] },
    },
    metric: "val_loss",
  };
  const a = expandTrials(validateSpec(raw));
  const b = expandTrials(validateSpec(structuredClone(raw)));
  assert.deepEqual(a, b);
  assert.equal(a.length, 50);
  const more = expandTrials(validateSpec({ ...raw, trials: 60 }));
  assert.deepEqual(more.slice(0, 50), a);
  const other = expandTrials(validateSpec({ ...raw, seed: 8 }));
  assert.notDeepEqual(other.map((t) => t.params), a.map((t) => t.params));
  const lr = a.map((t) => t.params.learningRate as number);
  assert.ok(lr.every((v) => v >= 1e-4 && v <= 1e-1));
  // log-uniform: about a third of the draws in each decade
  const lowDecade = lr.filter((v) => v < 1e-3).length;
  assert.ok(lowDecade >= 8 && lowDecade <= 26, `draws in [1e-4, 1e-3): ${lowDecade}`);
  assert.ok(
    a.every((t) => (t.params.dropout as number) >= 0.1 && (t.params.dropout as number) < 0.5),
  );
  assert.deepEqual(new Set(a.map((t) => t.params.width)), new Set([4, 5, 6]));
  assert.deepEqual(new Set(a.map((t) => t.params.act)), new Set(["relu", "elu"]));
});

Deno.test("spec validation names every bad field", () => {
  assert.deepEqual(problemsOf(5), ["the spec: must be a JSON object"]);
  const p = problemsOf({
    experiment: "default",
    paramters: {},
    metric: "lr",
    method: "random",
    pruner: { type: "asha", reductionFactor: 1, warmupEpochs: 2 },
  });
  assert.ok(p.some((x) => x.startsWith("paramters: unknown field")), p.join("\n"));
  assert.ok(p.some((x) => x.startsWith("parameters: must be an object")), p.join("\n"));
  assert.ok(p.some((x) => x.startsWith("trials: a random sweep needs")), p.join("\n"));
  assert.ok(p.some((x) => x.startsWith('direction: cannot tell from "lr"')), p.join("\n"));
  assert.ok(p.some((x) => x.startsWith("pruner.reductionFactor: must be an integer >= 2")));
  assert.ok(p.some((x) => x.startsWith("pruner.warmupEpochs: unknown field for asha")));
  const spaces = problemsOf({
    parameters: {
      a: { values: [] },
      b: { uniform: [2, 1] },
      c: { logUniform: [0, 1] },
      d: { int: [1.5, 3] },
      e: { values: [1], int: [1, 2] },
      f: { uniform: [0, 1] },
    },
    metric: "val_acc",
  });
  assert.deepEqual(spaces, [
    "parameters.a.values: must be a non-empty list (an empty space)",
    "parameters.b.uniform: low 2 is above high 1 (an empty space)",
    "parameters.c.logUniform: bounds must be > 0, got 0",
    "parameters.d.int: bounds must be integers, got [1.5, 3]",
    "parameters.e: must have exactly one of values, uniform, logUniform, int (got values, int)",
    "parameters.f: a grid needs a list or an int range, not a continuous range",
  ]);
  assert.deepEqual(
    problemsOf({ parameters: { a: { values: [1] } }, metric: "val_acc", direction: "up" }),
    ['direction: must be "min" or "max", got "up"'],
  );
  assert.equal(
    validateSpec({ parameters: { a: { values: [1] } }, metric: "score", direction: "max" })
      .direction,
    "max",
  );
});

Deno.test("median rule on scripted metrics: warm-up, minimum trials, best-so-far vs median", () => {
  const cfg = { type: "median", warmupEpochs: 1, minTrials: 2 } as const;
  const others = [[0.5, 0.6, 0.7], [0.4, 0.7, 0.8], [0.1]];
  // epoch 1 is the warm-up
  assert.equal(medianRule(cfg, "max", [0.0], others).prune, false);
  // epoch 2: others' best up to 2 are 0.6 and 0.7 (the third has not reached it): median 0.65
  const d = medianRule(cfg, "max", [0.2, 0.3], others);
  assert.equal(d.prune, true);
  assert.match(d.reason, /best 0\.3 up to epoch 2 is worse than the median 0\.65 of 2/);
  assert.equal(medianRule(cfg, "max", [0.2, 0.65], others).prune, false); // equal: kept
  assert.equal(medianRule(cfg, "max", [0.66, 0.1], others).prune, false); // best so far counts
  // only one other at epoch 3: not enough
  assert.equal(medianRule(cfg, "max", [0.1, 0.1, 0.1], [[0.5, 0.6, 0.7], [0.5, 0.6]]).prune, false);
  // minimisation
  assert.equal(medianRule(cfg, "min", [2, 1.5], [[1, 0.9], [1.2, 1.1]]).prune, true);
  assert.equal(medianRule(cfg, "min", [2, 0.9], [[1, 0.9], [1.2, 1.1]]).prune, false);
  // NaN is the worst
  assert.equal(medianRule(cfg, "min", [NaN, NaN], [[1, 0.9], [1.2, 1.1]]).prune, true);
  assert.equal(decidePrune(cfg, "max", [0.2, 0.3], others).prune, true);
});

Deno.test("ASHA on scripted metrics: rungs, top 1/factor at each rung, ties promote", () => {
  const cfg = { type: "asha", minEpochs: 1, reductionFactor: 2 } as const;
  assert.deepEqual(ashaRungs(cfg, 9), [1, 2, 4, 8]);
  assert.deepEqual(ashaRungs({ ...cfg, minEpochs: 2, reductionFactor: 3 }, 20), [2, 6, 18]);
  // epoch 3 is no rung: never pruned there
  assert.equal(ashaRule(cfg, "max", [0, 0, 0], [[1, 1, 1]]).prune, false);
  // alone at a rung: promoted
  assert.equal(ashaRule(cfg, "max", [0.1], []).prune, false);
  // 2 at rung 1, factor 2: keep 1 -> must be the best
  assert.equal(ashaRule(cfg, "max", [0.1], [[0.2]]).prune, true);
  assert.equal(ashaRule(cfg, "max", [0.3], [[0.2]]).prune, false);
  assert.equal(ashaRule(cfg, "max", [0.2], [[0.2]]).prune, false); // tie
  // 4 at rung 2 (best so far up to 2): keep 2
  const others = [[0.5, 0.6], [0.3, 0.35], [0.9, 0.1]];
  assert.equal(ashaRule(cfg, "max", [0.4, 0.45], others).prune, true); // 0.9, 0.6 > 0.45
  const d = ashaRule(cfg, "max", [0.4, 0.7], others);
  assert.equal(d.prune, false);
  assert.match(d.reason, /among the top 2 of 4 .*cutoff 0\.7/);
  // minimisation, factor 3, rung 3 (minEpochs 1): 6 trials there, keep 2
  const min = { type: "asha", minEpochs: 1, reductionFactor: 3 } as const;
  const losses = [[3, 2, 1], [3, 2, 1.5], [3, 2, 2], [3, 2, 2.5], [3, 2, 3]];
  assert.equal(ashaRule(min, "min", [3, 2, 1.4], losses).prune, false);
  assert.equal(ashaRule(min, "min", [3, 2, 1.6], losses).prune, true);
  assert.equal(ashaRule(min, "min", [NaN, NaN, NaN], losses).prune, true);
});

Deno.test("a validated spec validates again to itself (sweep.json round trip)", () => {
  for (
    const raw of [
      { parameters: { w: { values: [1, 2] } }, metric: "val_acc" },
      {
        method: "random",
        trials: 3,
        parameters: { lr: { logUniform: [1e-4, 1e-2] } },
        metric: "val_loss",
        pruner: { type: "asha" },
      },
    ]
  ) {
    const spec = validateSpec(raw);
    assert.deepEqual(validateSpec(JSON.parse(JSON.stringify(spec))), spec);
  }
});

Deno.test("no pruner prunes a trial at its final epoch (it has finished: it counts for the best)", async () => {
  const median = { type: "median", warmupEpochs: 1, minTrials: 1 } as const;
  const asha = { type: "asha", minEpochs: 1, reductionFactor: 2 } as const;
  const others = [[0.5, 0.6, 0.7], [0.4, 0.7, 0.8]];
  assert.equal(decidePrune(median, "max", [0.1, 0.1], others, 3).prune, true);
  assert.equal(decidePrune(median, "max", [0.1, 0.1, 0.1], others, 3).prune, false);
  assert.match(decidePrune(median, "max", [0.1, 0.1, 0.1], others, 3).reason, /final epoch 3/);
  assert.equal(decidePrune(asha, "max", [0.1, 0.1], others, 2).prune, false);
  assert.equal(decidePrune(asha, "max", [0.1, 0.1], others, 4).prune, true);
  // The sweep's pruner callback passes the trial's planned epochs (the trainer's totalEpochs).
  const root = await Deno.makeTempDir({ prefix: "prune-final-" });
  const id = await writeFakeSweep(root);
  const spec = validateSpec({
    parameters: { width: { values: [4] } },
    metric: "val_acc",
    pruner: median,
  });
  for (const [total, pruned] of [[2, false], [3, true]] as const) {
    const ctx = new FakeContext({ totalEpochs: total, dir: root });
    ctx.history.push({ epoch: 0, step: 1, logs: { val_acc: 0 } } as HistoryEntry);
    ctx.epoch = 1;
    await prunerCallback(spec, id, "t002", join(root, "runs")).onEpochEnd!(1, { val_acc: 0 }, ctx);
    assert.equal(ctx.stopReasons.length > 0, pruned, `epoch 2 of ${total}`);
  }
  await Deno.remove(root, { recursive: true });
});
