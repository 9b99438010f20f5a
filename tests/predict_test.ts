import assert from "node:assert/strict";
import { isAbsolute, join } from "node:path";
import { fileURLToPath } from "node:url";
import * as tf from "@tensorflow/tfjs-core";
import "@tensorflow/tfjs-backend-cpu";
import * as tfl from "@tensorflow/tfjs-layers";
import { decode } from "fast-png";
import { predict, type PredictFailure, Predictor } from "../core/infer/predict.ts";
import { evaluateModel } from "../core/infer/evaluate.ts";
import { loadModel, saveModel } from "../core/run/model_io.ts";
import { loadImageFolder } from "../core/data/image_folder.ts";
import { loadIdxFolder } from "../core/data/idx.ts";
import { scanImageFolder } from "../core/data/scan.ts";
import { syntheticShapes } from "../core/data/synthetic.ts";
import { encodePng } from "../core/viz/png.ts";
import type { Split } from "../core/data/dataset.ts";
import { expandInputs, parsePredictArgs, UsageError } from "../cli/predict.ts";
import { dirLogger } from "./helpers/dir_logger.ts";
import { writeJsonAtomic } from "./helpers/fake_run.ts";
import { imageMakers } from "./data_fixtures.ts";
import { guardFifos, makeFifo } from "./helpers/fifo.ts";
import {
  FOLDER_OPTIONS,
  grayPng,
  hugePngHeader,
  IDX_MODEL_SIZE,
  IDX_SOURCE_SIZE,
  SYNTHETIC_OPTIONS,
  type TrainedRun,
  trainIdxRun,
  trainImageFolderRun,
  trainSyntheticRun,
} from "./helpers/predict_runs.ts";

await tf.setBackend("cpu");

const root = await Deno.makeTempDir({ prefix: "convdeck-predict-test-" });
let folderRun: Promise<TrainedRun> | undefined;
const idxRuns = new Map<number, ReturnType<typeof trainIdxRun>>();
const folder = () => folderRun ??= trainImageFolderRun(root);
const idx = (channels: 1 | 3 = 1) => {
  if (!idxRuns.has(channels)) idxRuns.set(channels, trainIdxRun(root, channels));
  return idxRuns.get(channels)!;
};

/** Probabilities of every example of `split` by the evaluation path's forward pass. */
async function splitProbs(model: tfl.LayersModel, split: Split) {
  const all = await split.batch(Array.from({ length: split.size }, (_, i) => i));
  const shape = model.inputs[0].shape.slice(1) as number[];
  const t = tf.tidy(() =>
    model.predict(tf.tensor4d(all.x, [split.size, shape[0], shape[1], shape[2]])) as tf.Tensor
  );
  const p = await t.data() as Float32Array;
  t.dispose();
  const k = p.length / split.size;
  return {
    labels: all.y,
    rows: Array.from({ length: split.size }, (_, i) => p.subarray(i * k, (i + 1) * k)),
  };
}

function assertClose(a: ArrayLike<number>, b: ArrayLike<number>, what: string, tol = 1e-5) {
  assert.equal(a.length, b.length, what);
  for (let i = 0; i < a.length; i++) {
    assert.ok(Math.abs(a[i] - b[i]) <= tol, `${what}[${i}]: ${a[i]} vs ${b[i]}`);
  }
}

async function copyDir(from: string, to: string, skip: (name: string) => boolean = () => false) {
  await Deno.mkdir(to, { recursive: true });
  for await (const e of Deno.readDir(from)) {
    if (skip(e.name)) continue;
    if (e.isDirectory) await copyDir(join(from, e.name), join(to, e.name));
    else if (e.isFile) await Deno.copyFile(join(from, e.name), join(to, e.name));
  }
}

Deno.test("predict: same probabilities as the evaluation path on an image-folder run's test images", async () => {
  const { runDir, dataDir } = await folder();
  const testFiles = (await scanImageFolder(dataDir)).files.filter((f) => f.split === "test");
  assert.ok(testFiles.length >= 6);
  const before = tf.memory().numTensors;
  const report = await predict(runDir, testFiles.map((f) => f.path), { topK: 3, batchSize: 4 });
  assert.equal(tf.memory().numTensors, before, "predict leaves no tensors behind");
  assert.equal(report.weights.kind, "best");
  assert.equal(report.weights.name, "best");
  assert.deepEqual(report.classNames, ["class_0", "class_1", "class_2"]);
  assert.equal(report.preprocessing.fit, "cover");
  assert.equal(report.preprocessing.channels, 3);
  assert.equal(report.preprocessing.height, 16);
  assert.deepEqual(report.notes, []);

  const ds = await loadImageFolder(dataDir, FOLDER_OPTIONS);
  const model = await loadModel(report.weights.dir);
  try {
    const evalDir = await Deno.makeTempDir({ dir: root });
    const evaluation = await evaluateModel(model, ds.test!, ds.classNames, dirLogger(evalDir), {
      batchSize: 5,
    });
    const { labels, rows } = await splitProbs(model, ds.test!);
    assert.equal(report.results.length, rows.length);
    const confusion = ds.classNames.map(() => ds.classNames.map(() => 0));
    let loss = 0;
    report.results.forEach((r, i) => {
      assert.ok(r.ok, `${r.name} failed: ${(r as PredictFailure).error}`);
      assert.equal(r.name, testFiles[i].path);
      assertClose(r.probabilities, rows[i], r.name);
      assert.equal(r.top.length, 3);
      assert.ok(r.top[0].prob >= r.top[1].prob && r.top[1].prob >= r.top[2].prob);
      assert.equal(r.top[0].name, ds.classNames[r.top[0].class]);
      confusion[labels[i]][r.top[0].class]++;
      loss -= Math.log(Math.min(1 - 1e-7, Math.max(1e-7, r.probabilities[labels[i]])));
    });
    assert.deepEqual(confusion, evaluation.confusion);
    assert.ok(Math.abs(loss / rows.length - evaluation.loss) < 1e-5);
  } finally {
    model.dispose();
    await ds.close();
  }
});

Deno.test("predict: bytes in memory equal the file; Grad-CAM overlay and activation PNGs decode", async () => {
  const { dataDir, runDir } = await folder();
  const file = (await scanImageFolder(dataDir)).files.find((f) => f.split === "test")!.path;
  const before = tf.memory().numTensors;
  const predictor = await Predictor.load(runDir);
  const loaded = tf.memory().numTensors;
  try {
    const [fromPath, fromBytes] = await predictor.predict(
      [file, { name: "upload.jpg", bytes: await Deno.readFile(file) }],
      { gradCam: true, activations: { maxChannels: 4 } },
    );
    assert.ok(fromPath.ok && fromBytes.ok);
    assert.equal(fromBytes.name, "upload.jpg");
    assert.deepEqual(fromBytes.probabilities, fromPath.probabilities);
    const cam = fromBytes.gradCam!;
    assert.ok(cam, fromBytes.gradCamError ?? "no Grad-CAM");
    assert.equal(cam.layer, predictor.convLayers.at(-1));
    assert.equal(cam.class, fromBytes.top[0].class);
    const png = decode(cam.png);
    assert.deepEqual([png.width, png.height, png.channels], [224, 224, 3]); // 16 px x 14
    assert.deepEqual([cam.width, cam.height], [224, 224]);
    assert.equal(cam.heatmap.length, cam.shape[0] * cam.shape[1]);
    assert.ok(cam.heatmap.every((v) => v >= 0 && v <= 1));
    assert.deepEqual(fromBytes.activations!.map((a) => a.layer), predictor.convLayers);
    const act = fromBytes.activations![0];
    const actPng = decode(act.png);
    assert.equal(act.count, 4);
    assert.equal(actPng.width, act.cols * act.tileW + (act.cols - 1));
    // Another layer for Grad-CAM; an unknown one is a clear error.
    assert.equal(tf.memory().numTensors, loaded, "flat across predict calls");
    const [first] = await predictor.predict([file], {
      gradCam: { layer: predictor.convLayers[0] },
    });
    assert.ok(first.ok && first.gradCam?.layer === predictor.convLayers[0]);
    await assert.rejects(
      () => predictor.predict([file], { gradCam: { layer: "nope" } }),
      /no conv layer "nope" in the model; its conv layers: conv2d/,
    );
  } finally {
    predictor.dispose();
  }
  assert.equal(tf.memory().numTensors, before, "Predictor.dispose frees every tensor");
});

for (const channels of [1, 3] as const) {
  Deno.test(`predict: an IDX-trained run (${channels} channel${channels > 1 ? "s" : ""}) gets gray input, resized as the dataset did`, async () => {
    const { runDir, dataDir, testImages } = await idx(channels);
    const s = IDX_SOURCE_SIZE;
    const gray = await Promise.all(testImages.map((px) => grayPng(px, s)));
    const rgb = await Promise.all(testImages.map((px) => grayPng(px, s, true)));
    const inputs = [
      ...gray.map((bytes, i) => ({ name: `gray-${i}.png`, bytes })),
      ...rgb.map((bytes, i) => ({ name: `rgb-${i}.png`, bytes })),
    ];
    const before = tf.memory().numTensors;
    const report = await predict(runDir, inputs, { batchSize: 5 });
    assert.equal(tf.memory().numTensors, before);
    assert.equal(report.weights.kind, "resume", "no best checkpoint: the newest resume point");
    assert.match(report.weights.name, /^resume\/e\d+/);
    const p = report.preprocessing;
    assert.deepEqual(
      [p.channels, p.decodeChannels, p.decodeSize, p.height],
      [channels, 1, s, IDX_MODEL_SIZE],
    );
    assert.match(p.description, channels === 1 ? /gray, x/ : /gray copied to RGB/);
    const ds = await loadIdxFolder(dataDir, {
      imageSize: IDX_MODEL_SIZE,
      channels,
      classNames: report.classNames,
      log: () => {},
    });
    const model = await loadModel(report.weights.dir);
    try {
      const { rows } = await splitProbs(model, ds.test!);
      const n = testImages.length;
      for (let i = 0; i < n; i++) {
        const g = report.results[i], c = report.results[n + i];
        assert.ok(g.ok && c.ok);
        assertClose(g.probabilities, rows[i], g.name);
        assertClose(c.probabilities, g.probabilities, c.name, 0);
      }
    } finally {
      model.dispose();
    }
  });
}

Deno.test("predict: a synthetic-shapes run (the default experiment's data) needs no fallback", async () => {
  const runDir = await trainSyntheticRun(root);
  const ds = syntheticShapes(SYNTHETIC_OPTIONS);
  const test = ds.test!;
  const all = await test.batch(Array.from({ length: test.size }, (_, i) => i));
  const s = SYNTHETIC_OPTIONS.imageSize, px = s * s * 3;
  const inputs = Array.from({ length: test.size }, (_, i) => ({
    name: `shape-${i}.png`,
    bytes: encodePng(ds.denormalize!(all.x.subarray(i * px, (i + 1) * px)), s, s, 3),
  }));
  const report = await predict(runDir, inputs);
  assert.deepEqual(report.notes, [], "run.json records everything predict needs");
  assert.equal(report.preprocessing.description, "sharp squash to 16x16, RGB, x / 255");
  const model = await loadModel(report.weights.dir);
  try {
    const { rows } = await splitProbs(model, test);
    report.results.forEach((r, i) => {
      assert.ok(r.ok);
      assertClose(r.probabilities, rows[i], r.name);
    });
  } finally {
    model.dispose();
  }
});

Deno.test("predict() and Predictor.load initialise a backend when the program set none, and keep one it set", async () => {
  const runDir = await trainSyntheticRun(root);
  const image = join(root, "backend-probe.png");
  await Deno.writeFile(image, encodePng(new Uint8Array(16 * 16 * 3).fill(90), 16, 16, 3));
  // A program of its own (in the repo root, so ./mod.ts resolves), as the README shows one.
  const script = `_predict_backend_${crypto.randomUUID().slice(0, 8)}.ts`;
  await Deno.writeTextFile(
    script,
    `import * as tf from "@tensorflow/tfjs-core";
import { initBackend, predict, Predictor } from "./mod.ts";
const [runDir, image, chosen] = Deno.args;
if (chosen) await initBackend(chosen as "cpu");
const report = await predict(runDir, [image]);
const predictor = await Predictor.load(runDir);
predictor.dispose();
console.log(JSON.stringify({ backend: tf.getBackend(), ok: report.results[0].ok }));
`,
  );
  try {
    // auto as found here; auto without oneDNN (wasm: its worker threads must not keep the
    // program from ending); a backend the program chose.
    const cases: { env: Record<string, string>; chosen?: string; want: string[] }[] = [
      { env: {}, want: ["native", "wasm", "cpu"] },
      { env: { CONVDECK_DNNL: join(root, "no-libdnnl.so") }, want: ["wasm"] },
      { env: {}, chosen: "cpu", want: ["cpu"] },
    ];
    for (const { env, chosen, want } of cases) {
      const out = await new Deno.Command(Deno.execPath(), {
        args: ["run", "-A", script, runDir, image, ...(chosen ? [chosen] : [])],
        env,
        stdout: "piped",
        stderr: "piped",
        signal: AbortSignal.timeout(60_000), // killed: it did not end by itself
      }).output();
      const err = new TextDecoder().decode(out.stderr);
      assert.equal(out.code, 0, `${JSON.stringify({ env, chosen })} exit ${out.code}: ${err}`);
      const r = JSON.parse(new TextDecoder().decode(out.stdout));
      assert.equal(r.ok, true);
      assert.ok(want.includes(r.backend), `${r.backend}, expected one of ${want}`);
    }
  } finally {
    await Deno.remove(script);
  }
});

Deno.test("predict: bad images give per-file errors and do not stop the others", async () => {
  const { runDir, dataDir } = await folder();
  const good = (await scanImageFolder(dataDir)).files.find((f) => f.split === "test")!.path;
  const dir = await Deno.makeTempDir({ dir: root });
  const notImage = join(dir, "notes.txt");
  await Deno.writeTextFile(notImage, "this is not an image\n");
  // A FIFO given as an image is refused, never waited on (issue 25).
  const fifo = await makeFifo(join(dir, "pipe.png"));
  const unguard = guardFifos([fifo]);
  const before = tf.memory().numTensors;
  const report = await predict(runDir, [
    fifo,
    notImage,
    { name: "empty.png", bytes: new Uint8Array() },
    { name: "cut.jpg", bytes: new Uint8Array(await imageMakers.truncatedJpeg()) },
    { name: "huge.png", bytes: await hugePngHeader(20000, 20000) },
    join(dir, "missing.jpg"),
    dir,
    good,
    { name: "gray.png", bytes: new Uint8Array(await imageMakers.grayPng(90)) },
    { name: "rgba.png", bytes: new Uint8Array(await imageMakers.rgbaPng([200, 10, 10], 128)) },
  ]);
  assert.equal(tf.memory().numTensors, before);
  const byName = new Map(report.results.map((r) => [r.name, r]));
  const err = (name: string) => {
    const r = byName.get(name)!;
    assert.ok(!r.ok, `${name} should fail`);
    return r.error;
  };
  unguard();
  assert.match(err(fifo), /refused: not a regular file \(a FIFO\)/);
  assert.match(err(notImage), /not an image/);
  assert.match(err("empty.png"), /empty file/);
  assert.match(err("cut.jpg"), /corrupt or truncated jpeg/);
  assert.match(err("huge.png"), /too large to decode: more than 268402689 pixels/);
  assert.match(err(join(dir, "missing.jpg")), /file not found/);
  assert.match(err(dir), /is a folder/);
  for (const name of [good, "gray.png", "rgba.png"]) assert.ok(byName.get(name)!.ok, name);
  // A smaller cap (an upload limit) refuses ordinary images too.
  const [capped] = await predict(runDir, [good], { maxPixels: 100 }).then((r) => r.results);
  assert.ok(!capped.ok && /more than 100 pixels/.test(capped.error));
});

Deno.test("predict: runs without weights, without class names, or with a model it cannot feed", async () => {
  const { runDir } = await folder();
  const runJson = JSON.parse(await Deno.readTextFile(join(runDir, "run.json")));

  // A named checkpoint instead of the default choice.
  const resumeDir = join(runDir, "checkpoints", "resume");
  const point = (await Array.fromAsync(Deno.readDir(resumeDir))).map((e) => e.name)
    .find((n) => /^e\d+$/.test(n))!;
  const named = await predict(runDir, [], { checkpoint: `resume/${point}` });
  assert.deepEqual(named.weights, {
    name: `resume/${point}`,
    dir: join(resumeDir, point),
    kind: "resume",
  });
  await assert.rejects(
    () => predict(runDir, [], { checkpoint: "nope" }),
    /checkpoints\/nope\/model\.json does not exist: no checkpoint "nope"/,
  );
  await assert.rejects(() => predict(runDir, [], { checkpoint: "../x" }), /bad checkpoint name/);

  const noWeights = join(root, "no-weights");
  await Deno.mkdir(noWeights);
  await Deno.copyFile(join(runDir, "run.json"), join(noWeights, "run.json"));
  await assert.rejects(
    () => predict(noWeights, []),
    (e: Error) =>
      e.message.includes(join(noWeights, "checkpoints")) && /no checkpoint/.test(e.message),
  );

  await assert.rejects(
    () => predict(join(root, "nothing-here"), []),
    /cannot read .*nothing-here.*run\.json/,
  );

  const noClasses = join(root, "no-classes");
  await copyDir(runDir, noClasses, (n) => n === "evaluation.json");
  await writeJsonAtomic(join(noClasses, "run.json"), { ...runJson, dataset: undefined });
  await assert.rejects(
    () => predict(noClasses, []),
    (e: Error) =>
      e.message.includes(join(noClasses, "run.json")) &&
      e.message.includes(join(noClasses, "evaluation.json")) &&
      /records no class names/.test(e.message),
  );
  // An older run: classes from evaluation.json, the rest from the model, said in notes.
  await Deno.copyFile(join(runDir, "evaluation.json"), join(noClasses, "evaluation.json"));
  const report = await predict(noClasses, []);
  assert.deepEqual(report.classNames, ["class_0", "class_1", "class_2"]);
  assert.ok(report.notes.some((n) => /class names taken from evaluation\.json/.test(n)));
  assert.ok(report.notes.some((n) => /no fit mode: using squash/.test(n)));

  // A model taking 4 channels: predict cannot make such images.
  const rgbaRun = join(root, "rgba-run");
  await Deno.mkdir(rgbaRun);
  await writeJsonAtomic(join(rgbaRun, "run.json"), {
    ...runJson,
    dataset: { classes: ["a", "b"], imageShape: [8, 8, 4] },
  });
  const model = tfl.sequential({
    layers: [
      tfl.layers.conv2d({ inputShape: [8, 8, 4], filters: 2, kernelSize: 3 }),
      tfl.layers.flatten(),
      tfl.layers.dense({ units: 2, activation: "softmax" }),
    ],
  });
  await saveModel(model, join(rgbaRun, "checkpoints", "best"));
  model.dispose();
  const before = tf.memory().numTensors;
  await assert.rejects(
    () => predict(rgbaRun, []),
    /takes 4-channel images; predict can give it gray \(1\) or RGB \(3\)/,
  );
  assert.equal(tf.memory().numTensors, before, "a refused model is disposed");
});

const CLI = fileURLToPath(new URL("../cli/predict.ts", import.meta.url));

/** Runs the predict CLI as a process; a hang (the process not exiting) fails the test. */
async function cli(...args: string[]) {
  const started = performance.now();
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", CLI, ...args],
    signal: AbortSignal.timeout(60_000),
  }).output();
  const d = new TextDecoder();
  return {
    code: out.code,
    stdout: d.decode(out.stdout),
    stderr: d.decode(out.stderr),
    seconds: (performance.now() - started) / 1000,
  };
}

Deno.test("predict CLI: bad flags exit 2 with one line naming the flag", async () => {
  assert.throws(() => parsePredictArgs(["--run", "r", "a.jpg", "--top-k", "0"]), UsageError);
  assert.deepEqual(parsePredictArgs(["--run", "r", "a.jpg", "dir/", "--top-k", "5"]).paths, [
    "a.jpg",
    "dir/",
  ]);
  for (
    const args of [
      ["--run", "r", "a.jpg", "--topk", "2"],
      ["a.jpg"],
      ["--run", "r"],
      ["--run", "r", "a.jpg", "--batch-size", "1.5"],
      ["--run", "r", "a.jpg", "--backend", "tpu"],
    ]
  ) {
    const r = await cli(...args);
    assert.equal(r.code, 2, `${args.join(" ")}: ${r.stderr}`);
    assert.match(r.stderr, /^error: [^\n]+\n$/);
    assert.equal(r.stdout, "");
  }
});

Deno.test("predict CLI: --json over a folder with a bad file, --cam PNGs, exit 1 then 0", async () => {
  const { runDir, dataDir } = await folder();
  const images = join(root, "cli-images");
  await copyDir(join(dataDir, "test"), images);
  const bad = join(images, "class_0", "readme.txt");
  await Deno.writeTextFile(bad, "not an image");
  await Deno.writeTextFile(join(images, ".DS_Store"), "ignored");
  const cams = join(root, "cams");
  const r = await cli(
    "--run",
    runDir,
    images,
    "--json",
    "--top-k",
    "2",
    "--batch-size",
    "4",
    "--cam",
    cams,
    "--backend",
    "cpu",
  );
  assert.equal(r.code, 1, r.stderr);
  const doc = JSON.parse(r.stdout);
  assert.deepEqual(Object.keys(doc).sort(), [
    "classNames",
    "notes",
    "preprocessing",
    "results",
    "run",
    "summary",
    "weights",
  ]);
  assert.deepEqual(doc.weights, { name: "best", kind: "best" });
  assert.ok(!isAbsolute(doc.run), `the run is shown relative: ${doc.run}`);
  assert.deepEqual(doc.classNames, ["class_0", "class_1", "class_2"]);
  assert.equal(doc.preprocessing.fit, "cover");
  const files = (await expandInputs([images])).files;
  assert.equal(files.length, 7, "6 test images and readme.txt; .DS_Store skipped");
  assert.deepEqual(doc.results.map((x: { file: string }) => x.file), files);
  assert.deepEqual(doc.summary, { images: 7, classified: 6, failed: 1 });
  const failed = doc.results.filter((x: { ok: boolean }) => !x.ok);
  assert.deepEqual(failed, [{
    file: bad,
    ok: false,
    error: "not an image (unrecognised content)",
  }]);
  assert.ok(r.stderr.includes(`${bad}`), "the error names the file on stderr too");
  assert.match(r.stderr, /weights: checkpoints\/best/);
  assert.match(r.stderr, /predicting {2}7\/7/);
  const lib = await predict(runDir, files.filter((f) => f !== bad), { topK: 2 });
  for (const x of doc.results.filter((x: { ok: boolean }) => x.ok)) {
    assert.equal(x.top.length, 2);
    for (const t of x.top) {
      assert.deepEqual(Object.keys(t).sort(), ["class", "name", "prob"]);
      assert.ok(t.prob >= 0 && t.prob <= 1);
    }
    const same = lib.results.find((l) => l.name === x.file)!;
    assert.ok(same.ok);
    assert.deepEqual(x.top, same.top);
    const png = decode(await Deno.readFile(x.cam));
    assert.deepEqual([png.width, png.height], [224, 224]);
  }
  assert.equal(new Set(doc.results.map((x: { cam?: string }) => x.cam)).size, 7);

  // Without the bad file: exit 0, one text line per image on stdout.
  await Deno.remove(bad);
  // wasm's worker threads keep a process alive unless the CLI exits explicitly: this must end.
  const ok = await cli("--run", runDir, images, "--backend", "wasm");
  assert.equal(ok.code, 0, ok.stderr);
  assert.match(ok.stderr, /backend: wasm/);
  assert.ok(ok.seconds < 30, `the process ended after ${ok.seconds} s`);
  const lines = ok.stdout.trim().split("\n");
  assert.equal(lines.length, 6);
  assert.match(
    lines[0],
    /class_0\/test_0\.jpg +class_\d \d+\.\d% {2}class_\d \d+\.\d% {2}class_\d/,
  );
});

Deno.test("predict CLI: a run without weights or a missing image exits 1 naming it", async () => {
  const { runDir, dataDir } = await folder();
  const noWeights = join(root, "cli-no-weights");
  await Deno.mkdir(noWeights);
  await Deno.copyFile(join(runDir, "run.json"), join(noWeights, "run.json"));
  const image = (await scanImageFolder(dataDir)).files[0].path;
  const r = await cli("--run", noWeights, image, "--backend", "cpu");
  assert.equal(r.code, 1);
  assert.match(r.stderr, /error: .*cli-no-weights.*checkpoints has no checkpoint/);
  const missing = join(root, "nope.jpg");
  const m = await cli("--run", runDir, missing, image, "--backend", "cpu");
  assert.equal(m.code, 1);
  assert.ok(m.stderr.includes(`error: ${missing}: file not found`), m.stderr);
  assert.equal(m.stdout.trim().split("\n").length, 1, "the good image is still classified");
});

Deno.test({
  name: "predict: clean up",
  fn: async () => {
    await Promise.allSettled([folderRun, ...idxRuns.values()]);
    await Deno.remove(root, { recursive: true });
  },
});
