import assert from "node:assert/strict";
import { join } from "node:path";
import { RunWriter, safeName, timestampId } from "../core/run/writer.ts";
import { metricDirection } from "../core/metric_direction.ts";

Deno.test("ids, safe names and metric directions", () => {
  assert.equal(timestampId(new Date(2026, 0, 2, 3, 4, 5)), "20260102-030405");
  assert.equal(safeName("../my exp/<x>"), "my_exp_x_");
  assert.equal(metricDirection("val_loss"), "min");
  assert.equal(metricDirection("val_acc"), "max");
  assert.equal(metricDirection("lr"), undefined);
});

Deno.test("epoch metrics are whole lines with scalars merged, and best values tracked", async () => {
  const run = await RunWriter.create({
    runsDir: await Deno.makeTempDir(),
    experiment: "w",
    config: {},
  });
  run.scalar("custom", 7);
  await run.writeEpochMetrics({ epoch: 0, step: 0 }, { loss: 1, val_loss: 2, val_acc: 0.5 });
  await run.writeEpochMetrics({ epoch: 1, step: 0 }, { loss: 0.5, val_loss: 3, val_acc: 0.75 });
  const lines = (await Deno.readTextFile(join(run.dir, "metrics.jsonl"))).trim().split("\n");
  assert.equal(lines.length, 2);
  assert.equal(JSON.parse(lines[0]).custom, 7);
  assert.equal(JSON.parse(lines[1]).custom, undefined);
  assert.deepEqual(run.info.best?.val_loss, { value: 2, epoch: 0 });
  assert.deepEqual(run.info.best?.val_acc, { value: 0.75, epoch: 1 });
  await run.close();
});

Deno.test("artifacts cannot leave the run directory", async () => {
  const run = await RunWriter.create({
    runsDir: await Deno.makeTempDir(),
    experiment: "w",
    config: {},
  });
  const p = await run.artifact("viz/a/b.txt", "hi");
  assert.equal(await Deno.readTextFile(p), "hi");
  await assert.rejects(run.artifact("../escape.txt", "x"), /outside the run directory/);
  await assert.rejects(run.artifact("/etc/passwd", "x"), /outside the run directory/);
  await run.close();
});

Deno.test("reopening after a crash ends a torn line and removes temp files", async () => {
  const run = await RunWriter.create({
    runsDir: await Deno.makeTempDir(),
    experiment: "w",
    config: {},
  });
  await run.writeEpochMetrics({ epoch: 0, step: 0 }, { loss: 1 });
  await run.close();
  await Deno.writeTextFile(join(run.dir, "metrics.jsonl"), '{"epoch":1,"lo', { append: true });
  await Deno.writeTextFile(join(run.dir, "run.json.123.deadbeef.tmp"), "{");
  const again = await RunWriter.open(run.dir);
  await again.writeEpochMetrics({ epoch: 1, step: 0 }, { loss: 0.5 });
  await again.close();
  const lines = (await Deno.readTextFile(join(run.dir, "metrics.jsonl"))).split("\n");
  assert.deepEqual(lines.map((l) => l.slice(0, 14)), [
    '{"epoch":0,"st',
    '{"epoch":1,"lo',
    '{"epoch":1,"st',
    "",
  ]);
  await assert.rejects(Deno.stat(join(run.dir, "run.json.123.deadbeef.tmp")), Deno.errors.NotFound);
});

Deno.test("open() refuses a folder that is not a run", async () => {
  const dir = await Deno.makeTempDir();
  await assert.rejects(RunWriter.open(dir), /is not a run directory \(no readable run\.json\)/);
  await Deno.writeTextFile(join(dir, "run.json"), "{oops");
  await assert.rejects(RunWriter.open(dir), /run\.json is not valid JSON/);
});
