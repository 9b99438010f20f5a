import assert from "node:assert/strict";
import { join } from "node:path";
import { init } from "../track/mod.ts";
import { readEvents, readMetrics, readRunInfo } from "../core/run/reader.ts";
import { docBlocks } from "../tools/readme_blocks.ts";

const dec = new TextDecoder();

async function sh(cmd: string, args: string[]): Promise<{ code: number; out: string }> {
  const o = await new Deno.Command(cmd, { args, stdout: "piped", stderr: "piped" }).output();
  return { code: o.code, out: dec.decode(o.stdout) + dec.decode(o.stderr) };
}

const runsList = (dir: string, ...more: string[]) =>
  sh(Deno.execPath(), ["task", "-q", "runs", "list", "--runs", dir, ...more]);

Deno.test("log() checks its input at the call; NaN is recorded as null with an event; steps and epochs continue on resume", async () => {
  const runs = await Deno.makeTempDir();
  const run = await init({ runs, name: "checks", config: { lr: 0.1 }, handleExit: false });
  run.log({ loss: 1 });
  run.log({ loss: NaN });
  assert.throws(
    () => run.log({ loss: "x" as unknown as number }),
    /"loss" is string, not a number/,
  );
  assert.throws(() => run.log({ "a\nb": 1 }), /newline/);
  assert.throws(() => run.log({ step: 3 }), /not a metric/);
  assert.throws(() => run.log({ loss: 1 }, { step: 1 }), /goes backwards/);
  run.log({ val_loss: 0.5 }, { epoch: 0 });
  assert.throws(() => run.log({ val_loss: 0.4 }, { epoch: 0 }), /epoch 0 goes backwards/);
  await run.finish();
  assert.throws(() => run.log({ loss: 1 }), /after finish/);
  const { records } = await readMetrics(run.dir);
  assert.equal(records.length, 3);
  assert.equal(records[1].loss, null);
  assert.deepEqual([records[0].step, records[1].step, records[2].step], [1, 2, 2]);
  const events = (await readEvents(run.dir)).records;
  assert.ok(events.some((e) => e.type === "nan_value" && e.metric === "loss"));

  const again = await init({ runs, resume: run.id, handleExit: false });
  assert.equal(again.step, 2);
  assert.equal(again.epoch, 1);
  again.log({ loss: 0.2 });
  again.log({ val_loss: 0.3 }, { epoch: 1 });
  await again.finish();
  const info = await readRunInfo(run.dir);
  assert.equal(info.status, "completed");
  assert.equal(info.steps, 3);
  assert.equal(info.epochs, 2);
  assert.deepEqual(info.best?.val_loss, { value: 0.3, epoch: 1 });
});

Deno.test("log() does not wait on the disk: records reach metrics.jsonl within a second, as whole lines", async () => {
  const runs = await Deno.makeTempDir();
  const run = await init({ runs, config: {}, handleExit: false });
  const t0 = performance.now();
  for (let i = 0; i < 20_000; i++) run.log({ a: i, b: i / 2 });
  assert.ok(performance.now() - t0 < 2000, "20k log() calls took more than 2 s");
  await new Promise((r) => setTimeout(r, 1300));
  const text = await Deno.readTextFile(join(run.dir, "metrics.jsonl"));
  assert.ok(text.endsWith("\n"));
  assert.equal(text.split("\n").length - 1, 20_000);
  await run.finish();
});

Deno.test("examples run in Deno and Node; their config keys are runs-table columns and queries on nested keys work", async () => {
  const runs = await Deno.makeTempDir();
  // Each as the README launches it (numeric.ts with the least permissions).
  const perms: Record<string, string[]> = {
    "numeric.ts": ["--allow-read", "--allow-write", "--allow-sys=hostname"],
  };
  for (const ex of ["numeric.ts", "custom_loop.ts", "fit_callback.ts"]) {
    const r = await sh(Deno.execPath(), [
      "run",
      ...(perms[ex] ?? ["-A"]),
      `examples/${ex}`,
      "--runs",
      runs,
    ]);
    assert.equal(r.code, 0, `${ex}: ${r.out}`);
    if (ex !== "numeric.ts") assert.match(r.out, /tensors left 0/, `${ex} leaks tensors`);
  }
  const built = await sh(Deno.execPath(), ["task", "-q", "build-node"]);
  assert.equal(built.code, 0, built.out);
  const node = await sh("node", ["examples/node_tracking.mjs", "--runs", runs]);
  assert.equal(node.code, 0, node.out);

  const all = await runsList(runs);
  assert.equal(all.code, 0, all.out);
  for (const name of ["rosenbrock", "linreg", "xor-mlp", "node-sgd"]) {
    assert.match(all.out, new RegExp(name));
  }
  // Nested config keys are columns (dots), in the default list (they differ between runs).
  const cols = await runsList(runs, "--columns", "name,hidden,data.augment,start.x,optimizer.name");
  assert.equal(cols.code, 0, cols.out);
  assert.match(cols.out, /node-sgd\s+48\s+true/);
  assert.match(cols.out, /xor-mlp\s+16\s+false/);
  assert.match(cols.out, /rosenbrock\s+-1\.5\s+momentum/);
  const q = await runsList(runs, "data.augment = true", "--columns", "name");
  assert.equal(q.code, 0, q.out);
  assert.match(q.out, /node-sgd/);
  assert.doesNotMatch(q.out, /xor-mlp|rosenbrock|linreg/);
  const h = await runsList(runs, "hidden > 32", "--columns", "name,hidden");
  assert.match(h.out, /node-sgd/);
  assert.doesNotMatch(h.out, /xor-mlp/);
  // The saved model is a checkpoint the trainer's readers accept.
  const fit = (await Array.fromAsync(Deno.readDir(runs))).find((e) =>
    e.name.startsWith("xor-mlp")
  )!;
  const model = JSON.parse(
    await Deno.readTextFile(join(runs, fit.name, "checkpoints/best/model.json")),
  );
  assert.equal(model.userDefinedMetadata.convdeck.format, 1);
  const info = await readRunInfo(join(runs, fit.name));
  assert.deepEqual(info.dataset?.classes, ["same", "different"]);
  assert.equal(typeof info.last?.lr, "number");
});

/**
 * Starts the numeric tracking example (`deno` or `node`) writing a long run into `runs`;
 * waits (10 s at most) until a run's metrics.jsonl holds more than `bytes`, and returns the
 * command line, the process and that run's id ("" if none came).
 */
async function startExample(runtime: "deno" | "node", runs: string, bytes: number) {
  const args = runtime === "deno"
    ? [Deno.execPath(), "run", "-A", "examples/numeric.ts"]
    : ["node", "examples/node_tracking.mjs"];
  const child = new Deno.Command(args[0], {
    args: [...args.slice(1), "--runs", runs, "--sleep-ms", "2", "--steps", "100000"],
    stdout: "null",
    stderr: "null",
  }).spawn();
  let id = "";
  for (let i = 0; i < 100 && !id; i++) {
    await new Promise((r) => setTimeout(r, 100));
    for await (const e of Deno.readDir(runs)) {
      const m = await Deno.stat(join(runs, e.name, "metrics.jsonl")).catch(() => null);
      if (m && m.size > bytes) id = e.name;
    }
  }
  return { args, child, id };
}

for (const runtime of ["deno", "node"] as const) {
  Deno.test(`a SIGKILLed ${runtime} script shows crashed with the init({ resume }) hint and resumes`, async () => {
    const runs = await Deno.makeTempDir();
    if (runtime === "node") {
      assert.equal((await sh(Deno.execPath(), ["task", "-q", "build-node"])).code, 0);
    }
    const { args, child, id } = await startExample(runtime, runs, 200);
    assert.ok(id, "the script wrote no metrics");
    child.kill("SIGKILL");
    await child.status;
    const text = await Deno.readTextFile(join(runs, id, "metrics.jsonl"));
    assert.ok(text.endsWith("\n"), "a torn line after SIGKILL");
    const list = await runsList(runs);
    assert.match(list.out, /crashed/);
    assert.match(list.out, new RegExp(`rerun your script with init\\(\\{ resume: "${id}" \\}\\)`));
    const before = (await readRunInfo(join(runs, id))).steps;
    const resumed = await sh(args[0], [
      ...args.slice(1),
      "--runs",
      runs,
      "--resume",
      id,
      "--steps",
      String(before + 50),
    ]);
    assert.equal(resumed.code, 0, resumed.out);
    const info = await readRunInfo(join(runs, id));
    assert.equal(info.status, "completed");
    const { records } = await readMetrics(join(runs, id));
    const steps = records.map((r) => r.step);
    assert.ok(steps.every((s, i) => i === 0 || s >= steps[i - 1]), "steps go backwards");
    assert.equal(steps.at(-1), before + 50);
    const events = (await readEvents(join(runs, id))).records;
    assert.ok(events.some((e) => e.type === "resumed"));
  });
}

Deno.test("the README's tracking example runs as written", async () => {
  // The block as the doc-test runner (tools/readme_blocks.ts) finds it; here with a deeper look
  // at the run it writes.
  const block = docBlocks(await Deno.readTextFile("README.md"), "README.md")
    .find((b) => /from "@convdeck\/convdeck\/track"/.test(b.code));
  assert.ok(block, "the README has a tracking example");
  const code = block.code;
  const runs = await Deno.makeTempDir();
  const file = `_readme_track_${crypto.randomUUID().slice(0, 8)}.ts`;
  await Deno.writeTextFile(file, code.replace('runs: "runs"', `runs: ${JSON.stringify(runs)}`));
  try {
    const r = await sh(Deno.execPath(), ["run", "-A", file]);
    assert.equal(r.code, 0, r.out);
  } finally {
    await Deno.remove(file);
  }
  const [entry] = await Array.fromAsync(Deno.readDir(runs));
  const info = await readRunInfo(join(runs, entry.name));
  assert.equal(info.status, "completed");
  assert.equal(info.steps, 100);
  assert.deepEqual(info.best?.f1, { value: 0.7, epoch: 0 });
  assert.ok((await Deno.stat(join(runs, entry.name, "artifacts", "confusion.csv"))).isFile);
  const show = await sh(Deno.execPath(), [
    "task",
    "-q",
    "runs",
    "show",
    entry.name,
    "--runs",
    runs,
  ]);
  assert.match(show.out, /data\.augment\s+true/);
  assert.match(show.out, /baseline/);
});

/** Runs a throwaway script (in the repo, so it resolves the package) and returns its run. */
async function scriptRun(body: string, runtime: "deno" | "node" = "deno") {
  const runs = await Deno.makeTempDir();
  const ext = runtime === "deno" ? "ts" : "mjs";
  const file = `_track_script_${crypto.randomUUID().slice(0, 8)}.${ext}`;
  const from = runtime === "deno" ? "./track/mod.ts" : "./dist/node/index.js";
  await Deno.writeTextFile(
    file,
    `import { init } from "${from}";\nconst run = await init({ runs: ${
      JSON.stringify(runs)
    } });\n${body}\n`,
  );
  try {
    const r = runtime === "deno"
      ? await sh(Deno.execPath(), ["run", "-A", file])
      : await sh("node", [file]);
    const [entry] = await Array.fromAsync(Deno.readDir(runs));
    const dir = join(runs, entry.name);
    return { ...r, dir, info: await readRunInfo(dir), metrics: (await readMetrics(dir)).records };
  } finally {
    await Deno.remove(file);
  }
}

for (const runtime of ["deno", "node"] as const) {
  Deno.test(`${runtime}: an unhandled error ends the run failed with its message, once; an exit without finish() completes it`, async () => {
    if (runtime === "node") {
      assert.equal((await sh(Deno.execPath(), ["task", "-q", "build-node"])).code, 0);
    }
    const thrown = await scriptRun(
      `run.log({ loss: 1 });\nawait new Promise((r) => setTimeout(r, 10));\nthrow new Error("boom at step 1");`,
      runtime,
    );
    assert.notEqual(thrown.code, 0);
    assert.equal(thrown.info.status, "failed");
    assert.match(thrown.info.error ?? "", /boom at step 1/);
    assert.equal(thrown.metrics.length, 1, "the buffered record was lost");
    const rejected = await scriptRun(
      `run.log({ loss: 1 });\nPromise.reject(new Error("lost promise"));`,
      runtime,
    );
    assert.equal(rejected.info.status, "failed");
    assert.match(rejected.info.error ?? "", /lost promise/);
    const forgot = await scriptRun(`for (let i = 0; i < 10; i++) run.log({ loss: i });`, runtime);
    assert.equal(forgot.code, 0, forgot.out);
    assert.equal(forgot.info.status, "completed");
    assert.equal(forgot.metrics.length, 10);
    assert.equal(forgot.info.steps, 10);
    const heartbeat = await Deno.stat(join(forgot.dir, "heartbeat")).catch(() => null);
    assert.equal(heartbeat, null, "the lock was not released");
  });

  Deno.test(`${runtime}: Ctrl-C (SIGINT) ends the run stopped`, async () => {
    if (runtime === "node") {
      assert.equal((await sh(Deno.execPath(), ["task", "-q", "build-node"])).code, 0);
    }
    const runs = await Deno.makeTempDir();
    const { child, id } = await startExample(runtime, runs, 100);
    const dir = id ? join(runs, id) : "";
    assert.ok(dir, "the script wrote no metrics");
    child.kill("SIGINT");
    const status = await child.status;
    assert.equal(status.code, 130);
    const info = await readRunInfo(dir);
    assert.equal(info.status, "stopped");
    assert.match(info.stopReason ?? "", /Ctrl-C/);
    const { records } = await readMetrics(dir);
    assert.equal(records.at(-1)?.step, info.steps, "records after the last one written were lost");
  });
}

Deno.test("the Node bundle imports node: built-ins only and declares its types", async () => {
  const out = await Deno.makeTempDir();
  const r = await sh(Deno.execPath(), ["run", "-A", "tools/build_node.ts", "--out", out]);
  assert.equal(r.code, 0, r.out);
  const js = await Deno.readTextFile(join(out, "index.js"));
  const specifiers = [...js.matchAll(/(?:^|\n)\s*import\s[^;]*?from\s+"([^"]+)"/g)].map((m) =>
    m[1]
  );
  assert.ok(specifiers.length > 0);
  assert.deepEqual(specifiers.filter((s) => !s.startsWith("node:")), []);
  assert.doesNotMatch(js, /\bimport\(\s*"(?!node:)/, "a dynamic import of a package");
  const pkg = JSON.parse(await Deno.readTextFile(join(out, "package.json")));
  assert.equal(pkg.type, "module");
  const dts = await Deno.readTextFile(join(out, pkg.types));
  assert.match(dts, /export declare function init\(/);
  assert.doesNotMatch(dts, /from "\.[^"]*\.ts"/, "declarations point at .ts files");

  // A TypeScript Node project that installed it type-checks against the declarations.
  const app = await Deno.makeTempDir();
  await Deno.mkdir(join(app, "node_modules"));
  await Deno.rename(out, join(app, "node_modules", "convdeck-track"));
  await Deno.writeTextFile(join(app, "package.json"), '{"type":"module"}');
  await Deno.writeTextFile(
    join(app, "tsconfig.json"),
    JSON.stringify({
      compilerOptions: {
        module: "nodenext",
        moduleResolution: "nodenext",
        target: "es2022",
        strict: true,
        noEmit: true,
        skipLibCheck: true,
        types: [],
      },
      files: ["use.ts"],
    }),
  );
  const use = `import { init, type Run } from "convdeck-track";
const run: Run = await init({ runs: "runs", config: { lr: 0.1 }, metrics: { f1: "max" } });
run.log({ loss: 0.5 }, { step: 1 });
await run.finish({ status: "completed" });
`;
  const tsc = (dir: string) =>
    sh(Deno.execPath(), [
      "run",
      "-A",
      "npm:typescript@5.7.3/tsc",
      "-p",
      join(dir, "tsconfig.json"),
    ]);
  await Deno.writeTextFile(join(app, "use.ts"), use);
  const ok = await tsc(app);
  assert.equal(ok.code, 0, ok.out);
  await Deno.writeTextFile(
    join(app, "use.ts"),
    use + `run.log({ loss: "x" });\nrun.log({ loss: 1 }, { stp: 2 });\n`,
  );
  const bad = await tsc(app);
  assert.notEqual(bad.code, 0);
  assert.match(bad.out, /Type 'string' is not assignable to type 'number'/);
  assert.match(bad.out, /'stp' does not exist in type 'LogPosition'/);
});

Deno.test("charts of a tracked run that logs steps only: x is the step, and per-step metrics get charts", async () => {
  const { extraKeys, metricSeries } = await import("../dashboard/ui/curves.ts");
  const steps = [1, 2, 3].map((s) => ({
    epoch: 0,
    step: s,
    time: s,
    batch: s - 1,
    loss: 1 / s,
    wer: s,
  }));
  assert.deepEqual(metricSeries("loss", [], steps, 0)[0].x, [1, 2, 3]);
  assert.deepEqual(extraKeys([], steps), ["wer"]);
  const withEpoch = [{ epoch: 0, step: 3, time: 3, loss: 0.3 }];
  assert.deepEqual(metricSeries("loss", withEpoch, steps, 0)[0].x, [1 / 3, 2 / 3, 1]);
});

Deno.test("a tracked run is an ordinary run for tag, note and delete (refused while its script runs)", async () => {
  const runs = await Deno.makeTempDir();
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      "examples/numeric.ts",
      "--runs",
      runs,
      "--sleep-ms",
      "2",
      "--steps",
      "100000",
    ],
    stdout: "null",
    stderr: "null",
  }).spawn();
  let id = "";
  for (let i = 0; i < 100 && !id; i++) {
    await new Promise((r) => setTimeout(r, 100));
    for await (const e of Deno.readDir(runs)) {
      if (e.isDirectory && !e.name.startsWith(".")) id = e.name;
    }
  }
  assert.ok(id);
  const runsCli = (...a: string[]) =>
    sh(Deno.execPath(), ["task", "-q", "runs", "--runs", runs, ...a]);
  try {
    const refused = await runsCli("delete", id);
    assert.notEqual(refused.code, 0);
    assert.match(refused.out, /running|live|being written/i);
    assert.equal((await runsCli("tag", id, "live-tag")).code, 0);
  } finally {
    child.kill("SIGINT");
    await child.status;
  }
  assert.equal((await runsCli("note", id, "checked by hand")).code, 0);
  const tagged = await runsList(runs, "tag = live-tag and tag = numeric", "--columns", "id,note");
  assert.match(tagged.out, new RegExp(`${id}\\s+checked by hand`));
  const del = await runsCli("delete", id);
  assert.equal(del.code, 0, del.out);
  assert.doesNotMatch((await runsList(runs)).out, new RegExp(id));
});

Deno.test("node: saveModel writes the trainer's checkpoint format (model.json with the weights' sha256, weights.bin)", async () => {
  assert.equal((await sh(Deno.execPath(), ["task", "-q", "build-node"])).code, 0);
  // What tfjs's model.save hands a save handler (a fake model: no tfjs in this Node).
  const r = await scriptRun(
    `const model = { save: (h) => h.save({ modelTopology: { class_name: "Sequential" }, format: "layers-model",
  weightSpecs: [{ name: "w", shape: [2], dtype: "float32" }], weightData: new Float32Array([1, 2]).buffer }) };
await run.saveModel(model, { classes: ["a", "b"], input: [2, 2, 1] });
await run.finish();`,
    "node",
  );
  assert.equal(r.code, 0, r.out);
  const ckpt = join(r.dir, "checkpoints", "best");
  const weights = await Deno.readFile(join(ckpt, "weights.bin"));
  assert.deepEqual([...new Float32Array(weights.buffer)], [1, 2]);
  const model = JSON.parse(await Deno.readTextFile(join(ckpt, "model.json")));
  const { sha256Hex } = await import("../core/sha256.ts");
  assert.equal(model.userDefinedMetadata.convdeck.weightsSha256, await sha256Hex(weights));
  assert.deepEqual(model.weightsManifest[0].paths, ["weights.bin"]);
  assert.deepEqual(r.info.dataset, { classes: ["a", "b"], imageShape: [2, 2, 1] });
});

Deno.test("deno task build-node: --help exits 0, a bad flag exits 2 with the usage", async () => {
  const help = await sh(Deno.execPath(), ["task", "-q", "build-node", "--help"]);
  assert.equal(help.code, 0);
  assert.match(help.out, /Usage: deno task build-node \[--out DIR\]/);
  const bad = await sh(Deno.execPath(), ["task", "-q", "build-node", "--outt", "x"]);
  assert.equal(bad.code, 2);
  assert.match(bad.out, /error: Unknown option '--outt'/);
});
