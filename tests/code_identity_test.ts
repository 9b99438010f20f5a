import assert from "node:assert/strict";
import { join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import {
  codeChanges,
  formatCodeIdentity,
  gitIdentity,
  parseCodeIdentity,
} from "../core/experiment/code_identity.ts";
import { VERSION } from "../core/version.ts";
import denoJson from "../deno.json" with { type: "json" };
import { experimentFingerprint } from "../sweep/fingerprint.ts";
import type { SweepRecord } from "../sweep/store.ts";
import { checkSameCode, TrialRefused } from "../sweep/trial.ts";
import { readRunInfo } from "../core/run/reader.ts";

const CLI = fileURLToPath(new URL("../cli/train.ts", import.meta.url));
const EVAL = fileURLToPath(new URL("../cli/evaluate.ts", import.meta.url));
const RUNS = fileURLToPath(new URL("../cli/runs.ts", import.meta.url));
const TINY = pathToFileURL(fileURLToPath(new URL("./helpers/tiny_experiment.ts", import.meta.url)));

async function run(cli: string, ...args: string[]) {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", cli, ...args],
    env: { CONVDECK_NATIVE_THREADS: "1" },
  }).output();
  const d = new TextDecoder();
  return { code: out.code, text: d.decode(out.stdout) + d.decode(out.stderr) };
}

const experimentSource = (marker: string) =>
  `import { tinyExperiment } from "${TINY.href}";\n` +
  `const e = tinyExperiment(); // ${marker}\nexport default { ...e, defaults: { ...e.defaults, epochs: 1 } };\n`;

Deno.test("codeChanges names each change; parseCodeIdentity rejects malformed input", () => {
  const a = {
    experiment: { source: "/x/exp.ts", sha256: "a".repeat(64) },
    plugins: [{ source: "/p.ts", sha256: "1" }],
  };
  assert.deepEqual(codeChanges(a, a), []);
  const b = { experiment: { source: "/x/exp.ts", sha256: "b".repeat(64) }, plugins: [] };
  assert.deepEqual(codeChanges(a, b), [
    `experiment /x/exp.ts or a module it imports changed (sha256 ${"a".repeat(12)}… -> ${
      "b".repeat(12)
    }…)`,
    "plugin /p.ts was loaded when the run was trained, not now",
  ]);
  assert.equal(parseCodeIdentity({ experiment: 5, plugins: [] }), undefined);
  assert.equal(parseCodeIdentity(null), undefined);
});

Deno.test("a run folder never chooses code: resume and evaluate of a file experiment need --experiment; changed code is refused", async () => {
  const dir = await Deno.makeTempDir();
  const runs = join(dir, "runs");
  const expFile = join(dir, "exp.ts");
  await Deno.writeTextFile(expFile, experimentSource("v1"));
  const first = await run(CLI, "--experiment", expFile, "--runs", runs, "--backend", "wasm");
  assert.equal(first.code, 0, first.text);
  const runDir = join(runs, (await Array.fromAsync(Deno.readDir(runs)))[0].name);
  const info = await readRunInfo(runDir);
  const code = parseCodeIdentity(info.config.code)!;
  assert.equal(code.experiment.source, expFile);
  assert.match(code.experiment.sha256!, /^[0-9a-f]{64}$/);

  // A hand-made run.json pointing at code inside the run folder: never imported.
  const evil = join(runDir, "evil.ts");
  const marker = join(dir, "EVIL-RAN");
  await Deno.writeTextFile(evil, `await Deno.writeTextFile(${JSON.stringify(marker)}, "x");\n`);
  const edited = JSON.parse(await Deno.readTextFile(join(runDir, "run.json")));
  edited.config.experimentSource = evil;
  await Deno.writeTextFile(join(runDir, "run.json"), JSON.stringify(edited));
  const resume = await run(CLI, "--resume", runDir, "--epochs", "2");
  assert.equal(resume.code, 1);
  assert.match(resume.text, /A run folder never chooses the code to run: pass the file yourself/);
  assert.ok(!resume.text.includes(evil), "the file named by run.json is never suggested");
  const evaluate = await run(EVAL, "--run", runDir);
  assert.equal(evaluate.code, 1);
  assert.match(evaluate.text, /A run folder never chooses the code to run/);
  assert.ok(!evaluate.text.includes(evil), "the file named by run.json is never suggested");
  assert.equal(await Deno.stat(marker).then(() => true, () => false), false, "evil.ts never ran");

  // The right file, changed since: refused with what changed, unless --allow-changed-code.
  await Deno.writeTextFile(expFile, experimentSource("v2"));
  const changed = await run(CLI, "--resume", runDir, "--experiment", expFile, "--epochs", "2");
  assert.equal(changed.code, 1);
  assert.match(
    changed.text,
    /experiment .*exp\.ts or a module it imports changed \(sha256 [0-9a-f]{12}… -> [0-9a-f]{12}…\).*--allow-changed-code/,
  );
  const plugin = join(dir, "plugin.ts");
  await Deno.writeTextFile(plugin, `export default { name: "noop", onEpochEnd() {} };\n`);
  const withPlugin = await run(
    CLI,
    "--resume",
    runDir,
    "--experiment",
    expFile,
    "--epochs",
    "2",
    "--callback",
    plugin,
    "--allow-changed-code",
  );
  assert.equal(withPlugin.code, 0, withPlugin.text);
  assert.match(withPlugin.text, /continuing with changed code: .*plugin .*plugin\.ts is new/);
});

const modelSource = (kernelSize: number) =>
  `import * as tfl from "@tensorflow/tfjs-layers";\n` +
  `export function convnet(shape: [number, number, number], classes: number) {\n` +
  `  const m = tfl.sequential();\n` +
  `  m.add(tfl.layers.conv2d({ inputShape: shape, filters: 4, kernelSize: ${kernelSize}, ` +
  `padding: "same", activation: "relu" }));\n` +
  `  m.add(tfl.layers.globalAveragePooling2d({}));\n` +
  `  m.add(tfl.layers.dense({ units: classes, activation: "softmax" }));\n` +
  `  return m;\n}\n`;

async function git(dir: string, ...args: string[]): Promise<void> {
  const out = await new Deno.Command("git", { args: ["-C", dir, ...args], stdout: "null" })
    .output();
  assert.ok(out.success, `git ${args.join(" ")}`);
}

Deno.test("code identity covers the experiment's module graph, git commit and version; a changed model file is refused on resume and by a sweep worker", async () => {
  const dir = await Deno.makeTempDir({ prefix: "code-graph-" });
  const runs = join(dir, "runs");
  const expFile = join(dir, "exp.ts");
  await Deno.writeTextFile(join(dir, "model.ts"), modelSource(3));
  await Deno.writeTextFile(
    expFile,
    `import { tinyExperiment } from "${TINY.href}";\nimport { convnet } from "./model.ts";\n` +
      `const e = tinyExperiment();\n` +
      `export default { ...e, model: convnet, defaults: { ...e.defaults, epochs: 1 } };\n`,
  );
  await git(dir, "init", "-q");
  await git(dir, "add", "exp.ts", "model.ts");
  await git(dir, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "-m", "one");
  const first = await run(CLI, "--experiment", expFile, "--runs", runs, "--backend", "wasm");
  assert.equal(first.code, 0, first.text);
  const runDir = join(runs, (await Array.fromAsync(Deno.readDir(runs)))[0].name);
  const code = parseCodeIdentity((await readRunInfo(runDir)).config.code)!;
  assert.ok(code.experiment.modules! >= 3, JSON.stringify(code)); // exp, model, tiny helper...
  assert.equal(code.convdeck, denoJson.version);
  assert.equal(VERSION, denoJson.version);
  assert.match(code.git!.commit, /^[0-9a-f]{40}$/);
  assert.equal(code.git!.dirty, false);
  assert.match(
    formatCodeIdentity(code),
    /exp\.ts sha256 [0-9a-f]{12} \(\d+ modules\).*git [0-9a-f]{8}$/,
  );
  const show = await run(RUNS, "show", runDir, "--runs", runs);
  assert.equal(show.code, 0, show.text);
  assert.match(
    show.text,
    /\n {2}code {11}\S*exp\.ts sha256 [0-9a-f]{12} \(\d+ modules\); convdeck /,
  );
  const planned = await experimentFingerprint(expFile);
  assert.equal(planned.sha256, code.experiment.sha256);

  // Kernel size 3 -> 5 in the imported model file only: the resume is refused, and so is a
  // sweep worker holding this code for a sweep planned before.
  await Deno.writeTextFile(join(dir, "model.ts"), modelSource(5));
  const changed = await run(CLI, "--resume", runDir, "--experiment", expFile, "--epochs", "2");
  assert.equal(changed.code, 1, changed.text);
  assert.match(changed.text, /experiment .*exp\.ts or a module it imports changed/);
  const sweep = {
    id: "s-1",
    convdeckVersion: VERSION,
    experimentSource: expFile,
    experimentSha256: planned.sha256,
  } as SweepRecord;
  await assert.rejects(
    checkSameCode(sweep),
    (e) => e instanceof TrialRefused && /or a module it imports differs/.test(e.message),
  );
  assert.equal((await gitIdentity(expFile))!.dirty, true);
  await Deno.remove(dir, { recursive: true });
});
