/**
 * The tracking client writes its runs through core/fs like the trainer does, in Deno and in
 * Node: a run folder deleted under a tracking script is never re-created, and a run file
 * swapped for a symlink is never written through.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { init } from "../track/mod.ts";

const ROOT = fileURLToPath(new URL("..", import.meta.url));

const exists = (p: string) => Deno.lstat(p).then(() => true, () => false);

Deno.test("track (deno): a run folder deleted under the script stops it and is not re-created", async () => {
  const runs = await Deno.makeTempDir();
  const run = await init({ runs, name: "gone", config: { lr: 0.1 }, handleExit: false });
  run.log({ loss: 1 });
  await Deno.remove(run.dir, { recursive: true });
  await new Promise((r) => setTimeout(r, 300)); // past the hot path's re-check interval
  assert.throws(() => run.log({ loss: 0.5 }), /was deleted or moved/);
  await assert.rejects(run.finish(), /was deleted or moved/);
  assert.equal(await exists(run.dir), false, "the run folder is not re-created");
});

Deno.test("track (deno): a resumed run whose metrics.jsonl is a symlink writes nothing through it", async () => {
  const runs = await Deno.makeTempDir();
  const first = await init({ runs, name: "link", config: {}, handleExit: false });
  first.log({ loss: 1 });
  await first.finish();
  const outside = join(await Deno.makeTempDir(), "outside.txt");
  await Deno.writeTextFile(outside, "keep\n");
  await Deno.remove(join(first.dir, "metrics.jsonl"));
  await Deno.symlink(outside, join(first.dir, "metrics.jsonl"));
  const again = await init({ runs, resume: first.id, handleExit: false });
  again.log({ loss: 0.5 });
  await assert.rejects(again.finish(), /symlink inside a run is never followed/);
  assert.equal(await Deno.readTextFile(outside), "keep\n", "nothing written outside the run");
});

Deno.test("track (node): a run folder deleted under the script is not re-created", async () => {
  const build = await new Deno.Command(Deno.execPath(), {
    args: ["task", "-q", "build-node"],
    cwd: ROOT,
    stdout: "null",
    stderr: "piped",
  }).output();
  assert.ok(build.success, new TextDecoder().decode(build.stderr));
  const runs = await Deno.makeTempDir();
  const script = `
    import { rmSync } from "node:fs";
    import { init } from ${JSON.stringify(join(ROOT, "dist/node/index.js"))};
    const run = await init({ runs: ${JSON.stringify(runs)}, name: "gone", config: {} });
    run.log({ loss: 1 });
    rmSync(run.dir, { recursive: true });
    console.log(run.dir);
    await new Promise((r) => setTimeout(r, 300));
    try { run.log({ loss: 0.5 }); console.log("logged"); } catch (e) { console.log(e.message); }
  `;
  const out = await new Deno.Command("node", {
    args: ["--input-type=module", "-e", script],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const [dir, logged] = new TextDecoder().decode(out.stdout).trim().split("\n");
  assert.match(logged ?? "", /was deleted or moved/, new TextDecoder().decode(out.stderr));
  // The exit hook ends the run (synchronously) after the error: still nothing re-created.
  assert.equal(await exists(dir), false, "the run folder is not re-created");
});
