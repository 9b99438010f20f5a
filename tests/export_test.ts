/**
 * `deno task export` as users run it (a subprocess with its deno.json permissions): the files
 * it writes, `--force`, every kind of bad input (exit 1 naming the thing and the fix, 2 for bad
 * flags), runs of the three built-in experiments and of an experiment file; the shared
 * preprocessing against predict's on the same decoded pixels; the quantized weights against
 * tfjs's own decoder.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import * as tf from "@tensorflow/tfjs-core";
import "@tensorflow/tfjs-backend-cpu";
import { decodeImage } from "../core/data/decode.ts";
import { normalizePixels } from "../core/data/normalize.ts";
import { Predictor } from "../core/infer/predict.ts";
import { preprocessImage } from "../core/infer/preprocess.ts";
import { quantizeWeights, toFloat16Bits } from "../core/infer/quantize.ts";
import { type ExportBundle, writeExport } from "../core/infer/export.ts";
import {
  EXPORT_FILES,
  exportTask,
  ROOT,
  task,
  trainTinyDefault,
} from "./helpers/export_fixture.ts";
import { idxBytes, trainIdxRun, trainImageFolderRun } from "./helpers/predict_runs.ts";
import { writeSampleImageFolder } from "./data_fixtures.ts";

await tf.setBackend("cpu");

let shared: Promise<{ tmp: string; runs: string; id: string }> | undefined;
function tinyRun() {
  shared ??= (async () => {
    const tmp = await Deno.makeTempDir({ prefix: "convdeck-export-" });
    globalThis.addEventListener("unload", () => Deno.removeSync(tmp, { recursive: true }));
    const runs = join(tmp, "runs");
    return { tmp, runs, id: await trainTinyDefault(runs) };
  })();
  return shared;
}

async function copyRun(runs: string, id: string, to: string): Promise<void> {
  const out = await new Deno.Command("cp", { args: ["-r", join(runs, id), to] }).output();
  assert.ok(out.success);
}

async function listNames(dir: string): Promise<string[]> {
  const names = [];
  for await (const e of Deno.readDir(dir)) names.push(e.name);
  return names.sort();
}

Deno.test("export writes model.json + shards, metadata, page, tfjs, README; uint8 is ~4x smaller; --force replaces", async () => {
  const { tmp, runs, id } = await tinyRun();
  const out = join(tmp, "web");
  const r = await exportTask(runs, id, out);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /checkpoint best .*float32/);
  assert.deepEqual(await listNames(out), [...EXPORT_FILES]);
  const meta = JSON.parse(await Deno.readTextFile(join(out, "metadata.json")));
  assert.equal(meta.run.id, id);
  assert.equal(meta.run.experiment, "default");
  assert.equal(meta.checkpoint.name, "best");
  assert.equal(meta.checkpoint.chosenBy.metric, "val_loss");
  assert.equal(typeof meta.checkpoint.chosenBy.value, "number");
  assert.deepEqual(meta.input, {
    height: 32,
    width: 32,
    channels: 3,
    layout: "NHWC",
    dtype: "float32",
  });
  assert.equal(meta.preprocessing.fit, "squash");
  assert.equal(meta.classes.length, 8);
  const denoJson = JSON.parse(await Deno.readTextFile(join(ROOT, "deno.json")));
  assert.equal(meta.versions.convdeck, denoJson.version);
  assert.equal(meta.versions.tfjs, "4.22.0");
  const modelJson = JSON.parse(await Deno.readTextFile(join(out, "model.json")));
  assert.equal(modelJson.format, "layers-model");
  assert.deepEqual(modelJson.weightsManifest[0].paths, ["group1-shard1of1.bin"]);
  const f32 = (await Deno.stat(join(out, "group1-shard1of1.bin"))).size;
  const tfMin = await Deno.readTextFile(join(out, "tf.min.js"));
  assert.match(tfMin.slice(0, 600), /Google LLC.*Apache License/s);
  assert.ok(tfMin.length > 1_000_000, "the whole tfjs bundle is vendored");
  assert.match(
    await Deno.readTextFile(join(out, "index.html")),
    /<script type="module" src="app.js">/,
  );
  assert.match(
    await Deno.readTextFile(join(out, "preprocess.js")),
    /export\s*\{[^}]*preprocessImage/,
  );

  // An existing non-empty --out needs --force.
  const again = await exportTask(runs, id, out, "--quantize", "uint8");
  assert.equal(again.code, 1);
  assert.match(again.stderr, /exists and is not empty: add --force/);
  const forced = await exportTask(runs, id, out, "--quantize", "uint8", "--force");
  assert.equal(forced.code, 0, forced.stderr);
  const u8 = (await Deno.stat(join(out, "group1-shard1of1.bin"))).size;
  assert.equal(u8 * 4, f32, "uint8 weights take a quarter of float32's bytes");
  const spec =
    JSON.parse(await Deno.readTextFile(join(out, "model.json"))).weightsManifest[0].weights[0];
  assert.equal(spec.quantization.dtype, "uint8");
  // The export loaded back (dequantized as tfjs does) evaluates on the run's data; the run's
  // own evaluation.json is left alone.
  const evalFile = join(runs, id, "evaluation.json");
  const before = await Deno.readTextFile(evalFile);
  const ev = await task("evaluate", "--run", join(runs, id), "--export", out);
  assert.equal(ev.code, 0, ev.stderr);
  assert.match(ev.stdout, /test accuracy \d+\.\d\d% on 600 images \(loss [\d.]+, export uint8\)/);
  assert.equal(await Deno.readTextFile(evalFile), before);
  // Nothing left beside --out (the temp folder was renamed).
  assert.deepEqual((await listNames(tmp)).filter((n) => n.includes("export")), []);
});

Deno.test("export: bad flags exit 2 naming the flag", async () => {
  const { runs, id, tmp } = await tinyRun();
  const q = await exportTask(runs, id, join(tmp, "q"), "--quantize", "int4");
  assert.equal(q.code, 2);
  assert.match(q.stderr, /--quantize must be one of uint8, uint16, float16, got "int4"/);
  const noOut = await task("export", "--runs", runs, "--run", id);
  assert.equal(noOut.code, 2);
  assert.match(noOut.stderr, /--out DIR is required/);
  const help = await task("export", "--help");
  assert.equal(help.code, 0);
  assert.match(help.stdout, /--quantize/);
});

Deno.test("export: bad runs and destinations exit 1 naming the thing and the fix", async () => {
  const { runs, id, tmp } = await tinyRun();
  const inRuns = await exportTask(runs, id, join(runs, "web"));
  assert.equal(inRuns.code, 1);
  assert.match(inRuns.stderr, /inside the runs folder .*export somewhere else/);

  const unknown = await exportTask(runs, "nope-123", join(tmp, "x"));
  assert.equal(unknown.code, 1);
  assert.match(unknown.stderr, /no run nope-123/);

  const bad = join(tmp, "bad-runs");
  await Deno.mkdir(bad, { recursive: true });
  // No weights at all.
  await copyRun(runs, id, join(bad, "noweights"));
  await Deno.remove(join(bad, "noweights", "checkpoints"), { recursive: true });
  const none = await exportTask(bad, "noweights", join(tmp, "o1"));
  assert.equal(none.code, 1);
  assert.match(none.stderr, /has no checkpoint .*train the run for at least one epoch/);

  // Only the untrained starting point (a resume point at epoch 0, batch 0).
  await copyRun(runs, id, join(bad, "untrained"));
  const ck = join(bad, "untrained", "checkpoints");
  await Deno.remove(join(ck, "best"), { recursive: true });
  // Training saves resume/e0000 before the first batch; keep only that one.
  const points = await listNames(join(ck, "resume"));
  assert.ok(points.includes("e0000"), `resume points: ${points}`);
  for (const p of points) {
    if (p !== "e0000") await Deno.remove(join(ck, "resume", p), { recursive: true });
  }
  const untrained = await exportTask(bad, "untrained", join(tmp, "o2"));
  assert.equal(untrained.code, 1);
  assert.match(untrained.stderr, /resume\/e0000, the untrained starting point .*train the run/);

  // A resume point whose weights no longer match its manifest.
  await copyRun(runs, id, join(bad, "corrupt"));
  const point = points.at(-1)!;
  const rp = join(bad, "corrupt", "checkpoints", "resume", point);
  const w = await Deno.readFile(join(rp, "weights.bin"));
  w[100] ^= 0xff;
  await Deno.writeFile(join(rp, "weights.bin"), w);
  const corrupt = await exportTask(
    bad,
    "corrupt",
    join(tmp, "o3"),
    "--checkpoint",
    `resume/${point}`,
  );
  assert.equal(corrupt.code, 1);
  assert.match(
    corrupt.stderr,
    new RegExp(`checkpoint resume/${point} .*fails its manifest check .*--checkpoint NAME`),
  );
  for (const o of ["o1", "o2", "o3", "x"]) {
    assert.equal(await Deno.stat(join(tmp, o)).catch(() => null), null, `${o} was not written`);
  }
});

Deno.test("export works on runs of fashion_mnist, snacks and an experiment file (--run as a path)", async () => {
  const { tmp } = await tinyRun();
  const runs = join(tmp, "more-runs");
  // Fashion-MNIST's format at 28x28, tiny.
  const idx = join(tmp, "fm-data");
  await Deno.mkdir(idx, { recursive: true });
  for (const [prefix, n] of [["train", 40], ["t10k", 10]] as const) {
    const labels = Array.from({ length: n }, (_, i) => i % 10);
    const flat = Uint8Array.from(
      { length: n * 784 },
      (_, j) => (j * 37 + labels[Math.floor(j / 784)] * 50) % 256,
    );
    await Deno.writeFile(join(idx, `${prefix}-images-idx3-ubyte`), idxBytes([n, 28, 28], flat));
    await Deno.writeFile(join(idx, `${prefix}-labels-idx1-ubyte`), idxBytes([n], labels));
  }
  const folder = join(tmp, "snack-data");
  await writeSampleImageFolder(folder, { classes: 3, perClass: 4, maxSide: 48 });
  const expFile = join(tmp, "my_experiment.ts");
  await Deno.writeTextFile(
    expFile,
    `import { syntheticShapes } from "${
      new URL("../core/data/synthetic.ts", import.meta.url).href
    }";
import { smallConvnet } from "${new URL("../core/models/small_convnet.ts", import.meta.url).href}";
export default {
  name: "mine", description: "export test", numClasses: 3,
  defaults: { epochs: 1, batchSize: 16, learningRate: 0.01, imageSize: 16, seed: 2 },
  dataset: () => Promise.resolve(syntheticShapes({ imageSize: 16, numClasses: 3, trainSize: 48, valSize: 12, testSize: 12 })),
  model: (shape: [number, number, number], k: number) => smallConvnet(shape, k, [4, 8, 8]),
};
`,
  );
  const trains: [string, string[], number[], number][] = [
    ["fashion_mnist", ["--data", idx], [28, 28, 1], 10],
    ["snacks", ["--data", folder, "--image-size", "32", "--batch-size", "4"], [32, 32, 3], 3],
    [expFile, [], [16, 16, 3], 3],
  ];
  for (const [experiment, extra, input, classes] of trains) {
    const before = new Set(await listNames(runs).catch(() => []));
    const t = await task(
      "train",
      "--runs",
      runs,
      "--experiment",
      experiment,
      "--epochs",
      "1",
      ...extra,
    );
    assert.equal(t.code, 0, `${experiment}: ${t.stderr}`);
    const id = (await listNames(runs)).find((n) => !before.has(n) && !n.startsWith("."))!;
    const out = join(tmp, "exports", id);
    const r = await task("export", "--run", join(runs, id), "--out", out, "--quantize", "float16");
    assert.equal(r.code, 0, `${experiment}: ${r.stderr}`);
    const meta = JSON.parse(await Deno.readTextFile(join(out, "metadata.json")));
    assert.deepEqual([meta.input.height, meta.input.width, meta.input.channels], input, experiment);
    assert.equal(meta.classes.length, classes);
    assert.equal(meta.quantization, "float16");
    if (experiment === expFile) {
      assert.equal(typeof meta.code?.experiment?.sha256, "string", "code identity");
    }
  }
});

Deno.test("preprocess.ts gives predict's input on the same decoded pixels (max |diff| <= 1e-6)", async () => {
  const root = await Deno.makeTempDir({ prefix: "convdeck-preprocess-" });
  try {
    const folder = await trainImageFolderRun(root); // 16x16 RGB, cover
    const idx = await trainIdxRun(root, 3); // gray 10x10 -> 12x12, copied to RGB
    for (const runDir of [folder.runDir, idx.runDir]) {
      const p = await Predictor.load(runDir);
      try {
        const spec = p.preprocessing;
        const files = runDir === folder.runDir
          ? [
            ...(await listNames(join(folder.dataDir, "test", "class_0"))).map((n) =>
              join(folder.dataDir, "test", "class_0", n)
            ),
          ]
          : [];
        const inputs: Uint8Array[] = await Promise.all(files.map((f) => Deno.readFile(f)));
        if (runDir === idx.runDir) {
          const { grayPng } = await import("./helpers/predict_runs.ts");
          for (const im of idx.testImages.slice(0, 4)) inputs.push(await grayPng(im, 10));
        }
        assert.ok(inputs.length >= 2);
        for (const bytes of inputs) {
          const predicted = normalizePixels(await p.prepare(bytes));
          // The same decoded pixels, handed over as RGBA (as a canvas gives them).
          const px = await decodeImage(bytes, {
            size: spec.decodeSize,
            fit: spec.fit,
            channels: spec.decodeChannels,
          });
          const n = spec.decodeSize * spec.decodeSize;
          const rgba = new Uint8ClampedArray(n * 4);
          for (let i = 0; i < n; i++) {
            for (let c = 0; c < 3; c++) {
              rgba[i * 4 + c] = px[i * spec.decodeChannels + (spec.decodeChannels === 3 ? c : 0)];
            }
            rgba[i * 4 + 3] = 255;
          }
          const ours = preprocessImage({
            data: rgba,
            width: spec.decodeSize,
            height: spec.decodeSize,
            channels: 4,
          }, spec);
          assert.equal(ours.length, predicted.length);
          let max = 0;
          for (let i = 0; i < ours.length; i++) {
            max = Math.max(max, Math.abs(ours[i] - predicted[i]));
          }
          assert.ok(max <= 1e-6, `max |diff| ${max}`);
        }
      } finally {
        p.dispose();
      }
    }
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("preprocess.ts: fit, resize, alpha and gray on known pixels", () => {
  const spec = {
    height: 2,
    width: 2,
    channels: 3,
    decodeChannels: 3,
    decodeSize: 2,
    fit: "cover",
  } as const;
  // 4x2: left half red, right half blue, so cover keeps the centre columns 1..2.
  const img = new Uint8Array(4 * 2 * 3);
  for (let y = 0; y < 2; y++) {
    for (let x = 0; x < 4; x++) img.set(x < 2 ? [255, 0, 0] : [0, 0, 255], (y * 4 + x) * 3);
  }
  const x = preprocessImage({ data: img, width: 4, height: 2, channels: 3 }, spec);
  assert.deepEqual(Array.from(x.subarray(0, 3)), [1, 0, 0]);
  assert.deepEqual(Array.from(x.subarray(3, 6)), [0, 0, 1]);
  // squash averages pairs of columns (area): red and blue 50/50 -> 128, 0, 128.
  const sq = preprocessImage({ data: img, width: 4, height: 2, channels: 3 }, {
    ...spec,
    fit: "squash",
  });
  assert.deepEqual(Array.from(sq.subarray(0, 3)).map((v) => Math.round(v * 255)), [255, 0, 0]);
  const mixed = preprocessImage({ data: img, width: 4, height: 2, channels: 3 }, {
    ...spec,
    decodeSize: 1,
    height: 1,
    width: 1,
    fit: "squash",
  });
  assert.deepEqual(Array.from(mixed).map((v) => Math.round(v * 255)), [128, 0, 128]);
  // Transparent over white; gray by luma.
  const rgba = new Uint8Array([0, 0, 0, 0, 0, 0, 0, 255, 255, 0, 0, 255, 10, 20, 30, 255]);
  const g = preprocessImage({ data: rgba, width: 2, height: 2, channels: 4 }, {
    ...spec,
    channels: 1,
    decodeChannels: 1,
  });
  assert.deepEqual(Array.from(g).map((v) => Math.round(v * 255)), [255, 0, 76, 18]);
});

Deno.test("quantize: tfjs's decodeWeights reads our uint8, uint16 and float16 weights back", () => {
  const tensorsBefore = tf.memory().numTensors;
  const values = Float32Array.from({ length: 1000 }, (_, i) => Math.sin(i) * 3 - 0.5);
  const specs = [
    { name: "w", shape: [10, 100], dtype: "float32" as const },
    { name: "n", shape: [2], dtype: "int32" as const },
  ];
  const data = new Uint8Array(4000 + 8);
  data.set(new Uint8Array(values.buffer), 0);
  data.set(new Uint8Array(Int32Array.from([7, -9]).buffer), 4000);
  for (
    const [q, tol] of [["uint8", 6 / 255 / 2 + 1e-6], ["uint16", 6 / 65535 / 2 + 1e-6], [
      "float16",
      2e-3,
    ]] as const
  ) {
    const out = quantizeWeights(data.buffer, specs, q);
    const map = tf.io.decodeWeights(out.data, out.specs as tf.io.WeightsManifestEntry[]);
    const got = map.w.dataSync();
    let max = 0;
    for (let i = 0; i < values.length; i++) max = Math.max(max, Math.abs(got[i] - values[i]));
    assert.ok(max <= tol, `${q}: max error ${max} > ${tol}`);
    assert.deepEqual(Array.from(map.n.dataSync()), [7, -9]);
    tf.dispose(Object.values(map));
  }
  assert.equal(toFloat16Bits(1), 0x3c00);
  assert.equal(toFloat16Bits(-2), 0xc000);
  assert.equal(toFloat16Bits(65520), 0x7c00); // rounds to infinity
  assert.equal(toFloat16Bits(5.960464477539063e-8), 1); // smallest subnormal
  assert.equal(tf.memory().numTensors, tensorsBefore);
});

Deno.test("the committed export page scripts are what `deno task build-export-page` produces", async () => {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "tools/build_export_page.ts", "--check"],
    cwd: ROOT,
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
});

Deno.test("writeExport: a write failing half-way leaves --out as it was and no temp folder", async () => {
  const root = await Deno.makeTempDir({ prefix: "convdeck-export-write-" });
  try {
    const bytes = new TextEncoder().encode("x");
    // The second file cannot be written (its folder does not exist in the temp folder).
    const failing = {
      files: new Map([["a.txt", bytes], ["missing/b.txt", bytes]]),
    } as unknown as ExportBundle;
    const fresh = join(root, "fresh");
    await assert.rejects(writeExport(failing, fresh));
    assert.equal(await Deno.stat(fresh).catch(() => null), null);
    const old = join(root, "old");
    await Deno.mkdir(old);
    await Deno.writeTextFile(join(old, "keep.txt"), "previous export");
    await assert.rejects(writeExport(failing, old));
    assert.equal(await Deno.readTextFile(join(old, "keep.txt")), "previous export");
    assert.deepEqual(await listNames(root), ["old"]);
    // A complete one replaces it.
    await writeExport({ files: new Map([["a.txt", bytes]]) } as unknown as ExportBundle, old);
    assert.deepEqual(await listNames(old), ["a.txt"]);
    assert.deepEqual(await listNames(root), ["old"]);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});
