/**
 * `deno task predict` and `deno task evaluate`, launched as users launch them, on a run whose
 * only weights are the untrained starting point (`checkpoints/resume/e0000`): a clear error
 * saying the run has no trained weights yet and how to get them, exit 1; `--allow-untrained`
 * uses them anyway. The trained run they were copied from is not refused.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { task, trainTinyDefault, writeTestImages } from "./helpers/export_fixture.ts";

const tmp = await Deno.makeTempDir({ prefix: "convdeck-untrained-" });
const runs = join(tmp, "runs");
let fixture: Promise<{ trained: string; images: string[] }> | undefined;

/** A trained run and its copy cut back to the untrained starting point (made once). */
const setup = () =>
  fixture ??= (async () => {
    const trained = await trainTinyDefault(runs);
    const untrained = join(runs, "untrained");
    await Deno.mkdir(untrained);
    for await (const e of Deno.readDir(join(runs, trained))) {
      if (e.isFile) await Deno.copyFile(join(runs, trained, e.name), join(untrained, e.name));
    }
    const from = join(runs, trained, "checkpoints", "resume", "e0000");
    const to = join(untrained, "checkpoints", "resume", "e0000");
    await Deno.mkdir(to, { recursive: true });
    for await (const e of Deno.readDir(from)) {
      await Deno.copyFile(join(from, e.name), join(to, e.name));
    }
    return { trained, images: await writeTestImages(join(tmp, "images"), 2) };
  })();

const REFUSED =
  /the run has no trained weights yet: its only weights are checkpoints\/resume\/e0000, the untrained starting point.*wait until its first epoch ends, or train it \(deno task train --resume \S*untrained\).*--allow-untrained/;

Deno.test("deno task predict refuses the untrained starting point (exit 1) unless --allow-untrained", async () => {
  const { trained, images } = await setup();
  const refused = await task("predict", "--runs", runs, "--run", "untrained", images[0]);
  assert.equal(refused.code, 1, refused.stderr);
  assert.match(refused.stderr, REFUSED);
  assert.doesNotMatch(refused.stderr, /\n\s+at /, "no stack trace");
  assert.doesNotMatch(refused.stderr, /(^|[\s(])\/tmp\//m, "no absolute path");
  assert.equal(refused.stdout, "", "no prediction printed");

  const forced = await task(
    "predict",
    "--runs",
    runs,
    "--run",
    "untrained",
    "--allow-untrained",
    "--json",
    ...images,
  );
  assert.equal(forced.code, 0, forced.stderr);
  const doc = JSON.parse(forced.stdout);
  assert.equal(doc.weights.name, "resume/e0000");
  assert.equal(doc.results.length, images.length);

  const ok = await task("predict", "--runs", runs, "--run", trained, images[0]);
  assert.equal(ok.code, 0, ok.stderr);
  assert.match(ok.stderr, /weights: checkpoints\/best/);
});

Deno.test("deno task evaluate refuses the untrained starting point (exit 1) unless --allow-untrained", async () => {
  await setup();
  const report = join(runs, "untrained", "evaluation.json"); // copied from the trained run
  const before = await Deno.readTextFile(report);
  const refused = await task("evaluate", "--runs", runs, "--run", "untrained");
  assert.equal(refused.code, 1, refused.stderr);
  assert.match(refused.stderr, REFUSED);
  assert.doesNotMatch(refused.stderr, /\n\s+at /, "no stack trace");
  assert.equal(await Deno.readTextFile(report), before, "no report from random weights");

  const forced = await task("evaluate", "--runs", runs, "--run", "untrained", "--allow-untrained");
  assert.equal(forced.code, 0, forced.stderr);
  assert.match(forced.stderr, /weights: checkpoints\/resume\/e0000/);
});
