/**
 * The dashboard's predict API (`dashboard/api/predict.ts`) over real trained runs: the same
 * predictions as `predict()`, per-image errors, upload caps, the Origin/token check, a run
 * without weights, the predictor LRU and tfjs memory.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { Buffer } from "node:buffer";
import * as tf from "@tensorflow/tfjs-core";
import "@tensorflow/tfjs-backend-cpu";
import { decode } from "fast-png";
import { createDashboardApp, PredictorPool } from "../dashboard/mod.ts";
import type { PredictInfoResponse, PredictResponse } from "../dashboard/api_types.ts";
import { predict } from "../core/infer/predict.ts";
import { scanImageFolder } from "../core/data/scan.ts";
import {
  hugePngHeader,
  SYNTHETIC_OPTIONS,
  trainImageFolderRun,
  trainSyntheticRun,
} from "./helpers/predict_runs.ts";
import type { Experiment } from "../core/experiment/experiment.ts";
import { runExperiment } from "../core/experiment/run_experiment.ts";
import { syntheticShapes } from "../core/data/synthetic.ts";
import { smallConvnet } from "../core/models/small_convnet.ts";
import { readMetrics } from "../core/run/reader.ts";

await tf.setBackend("cpu");

const TOKEN = "test-token";
const ORIGIN = "http://localhost";
const LIMITS = {
  maxImages: 4,
  maxImageBytes: 64 * 1024,
  maxUploadBytes: 200 * 1024,
  maxPixels: 1_000_000,
};

const root = await Deno.makeTempDir({ prefix: "convdeck-dash-predict-" });
const runsDir = join(root, "runs");
let trained: Promise<{ folderRun: string; syntheticRun: string; images: string[] }> | undefined;
/** Two tiny trained runs in one runs folder (trained once, on first use). */
const runs = () =>
  trained ??= (async () => {
    const { runDir, dataDir } = await trainImageFolderRun(root);
    const syntheticRun = await trainSyntheticRun(root);
    const images = (await scanImageFolder(dataDir)).files.filter((f) => f.split === "test")
      .map((f) => f.path);
    return { folderRun: runDir, syntheticRun, images };
  })();

const idOf = (dir: string) => dir.split("/").pop()!;

function appWith(pool: PredictorPool) {
  return createDashboardApp({ runsDir, token: TOKEN, predictors: pool, predictLimits: LIMITS });
}

function form(files: { name: string; bytes: Uint8Array }[]): FormData {
  const f = new FormData();
  for (const { name, bytes } of files) f.append("image", new File([bytes.slice()], name));
  return f;
}

async function post(
  app: ReturnType<typeof appWith>,
  id: string,
  body: BodyInit,
  query = "",
  headers: Record<string, string> = { Origin: ORIGIN, "X-Convdeck-Token": TOKEN },
) {
  const res = await app.request(`${ORIGIN}/api/runs/${encodeURIComponent(id)}/predict${query}`, {
    method: "POST",
    headers,
    body,
  });
  return { status: res.status, body: await res.json() };
}

const fromDataUrl = (url: string) =>
  new Uint8Array(Buffer.from(url.replace(/^data:image\/png;base64,/, ""), "base64"));

Deno.test("predict API: same results as predict() on the same bytes; a bad file is named", async () => {
  const { folderRun, images } = await runs();
  const pool = new PredictorPool();
  const app = appWith(pool);
  const files = [
    { name: "a.jpg", bytes: await Deno.readFile(images[0]) },
    { name: "notes.txt", bytes: new TextEncoder().encode("this is not an image\n") },
    { name: "b.jpg", bytes: await Deno.readFile(images[1]) },
  ];
  const before = tf.memory().numTensors;
  try {
    const info = await app.request(`/api/runs/${idOf(folderRun)}/predict`);
    assert.equal(info.status, 200);
    const i = await info.json() as PredictInfoResponse;
    assert.deepEqual(i.classNames, ["class_0", "class_1", "class_2"]);
    assert.deepEqual(i.inputShape, [16, 16, 3]);
    assert.equal(i.weights.name, "best");
    assert.match(i.preprocessing, /cover to 16x16, RGB, x \/ 255/);
    assert.deepEqual(i.limits, LIMITS);
    const loaded = tf.memory().numTensors;
    assert.ok(loaded > before, "the model is loaded");

    const layer = i.convLayers[0];
    const res = await post(app, idOf(folderRun), form(files), `?topK=2&layer=${layer}`);
    assert.equal(res.status, 200, JSON.stringify(res.body));
    const body = res.body as PredictResponse;
    assert.deepEqual(body.results.map((r) => r.name), ["a.jpg", "notes.txt", "b.jpg"]);
    const bad = body.results[1];
    assert.ok(!bad.ok && /not an image/.test(bad.error), JSON.stringify(bad));

    const expected = await predict(folderRun, files, {
      topK: 2,
      gradCam: { layer },
      activations: { layers: [layer] },
    });
    for (const k of [0, 2]) {
      const got = body.results[k], want = expected.results[k];
      assert.ok(got.ok && want.ok);
      assert.deepEqual(got.probabilities, want.probabilities);
      assert.deepEqual(got.top, want.top);
      assert.equal(got.top.length, 2);
      assert.equal(got.gradCam!.layer, layer);
      assert.deepEqual(fromDataUrl(got.gradCam!.png), want.gradCam!.png);
      assert.deepEqual(got.activations!.map((a) => a.layer), [layer]);
      const act = got.activations![0];
      assert.deepEqual(fromDataUrl(act.png), want.activations![0].png);
      assert.equal(decode(fromDataUrl(act.png)).width, act.cols * act.tileW + act.cols - 1);
    }
    // Default: the last conv layer; activations=0 leaves the maps out.
    const plain = await post(app, idOf(folderRun), form(files.slice(0, 1)), "?activations=0");
    assert.equal(plain.body.results[0].gradCam.layer, i.convLayers.at(-1));
    assert.equal(plain.body.results[0].activations, undefined);
    assert.equal(plain.body.results[0].top.length, 3); // topK 5 capped at 3 classes

    const unknown = await post(app, idOf(folderRun), form(files.slice(0, 1)), "?layer=nope");
    assert.equal(unknown.status, 400);
    assert.match(unknown.body.error, /no conv layer "nope" in the model; its conv layers: conv2d/);
    assert.equal(tf.memory().numTensors, loaded, "tensors flat across requests");
    assert.equal(pool.loads, 1, "one load for every request");
  } finally {
    await pool.dispose();
  }
  assert.equal(tf.memory().numTensors, before, "disposing the pool frees the model");
});

Deno.test("predict API: upload caps answer 413 saying the limit; huge images are per-image errors", async () => {
  const { folderRun, images } = await runs();
  const pool = new PredictorPool();
  const app = appWith(pool);
  const id = idOf(folderRun);
  const small = { name: "a.jpg", bytes: await Deno.readFile(images[0]) };
  try {
    const many = await post(app, id, form(Array(5).fill(small)));
    assert.equal(many.status, 413);
    assert.equal(many.body.error, "5 images in one upload; the limit is 4");

    const big = { name: "big.png", bytes: new Uint8Array(70 * 1024) };
    const one = await post(app, id, form([small, big]));
    assert.equal(one.status, 413);
    assert.equal(one.body.error, "big.png is 70 KB; the limit is 64 KB per image");

    // The whole body over the cap, streamed without a Content-Length (3.2 MB offered).
    const chunk = new Uint8Array(64 * 1024);
    let sent = 0;
    const stream = new ReadableStream<Uint8Array>({
      pull(ctl) {
        if (sent++ < 50) ctl.enqueue(chunk);
        else ctl.close();
      },
    });
    const total = await post(app, id, stream, "", {
      Origin: ORIGIN,
      "X-Convdeck-Token": TOKEN,
      "Content-Type": "multipart/form-data; boundary=x",
    });
    assert.equal(total.status, 413);
    assert.match(
      total.body.error,
      /^upload too large: at most 200 KB per request \(64 KB per image, 4 images\)/,
    );
    assert.ok(sent < 10, `reading stopped at the cap (${sent} chunks of 64 KB pulled)`);

    const huge = await post(
      app,
      id,
      form([{ name: "huge.png", bytes: await hugePngHeader(5000, 5000) }]),
    );
    assert.equal(huge.status, 200);
    assert.match(huge.body.results[0].error, /too large to decode: more than 1000000 pixels/);

    const none = await post(app, id, new FormData());
    assert.equal(none.status, 400);
    assert.match(none.body.error, /no image in the upload/);
  } finally {
    await pool.dispose();
  }
});

Deno.test("predict API: no token or a foreign Origin is 403; a run without weights is a clear 422", async () => {
  const { folderRun, images } = await runs();
  const pool = new PredictorPool();
  const app = appWith(pool);
  const id = idOf(folderRun);
  const files = [{ name: "a.jpg", bytes: await Deno.readFile(images[0]) }];
  try {
    const noToken = await post(app, id, form(files), "", { Origin: ORIGIN });
    assert.equal(noToken.status, 403);
    assert.match(noToken.body.error, /X-Convdeck-Token/);
    const foreign = await post(app, id, form(files), "", {
      Origin: "http://evil.example",
      "X-Convdeck-Token": TOKEN,
    });
    assert.equal(foreign.status, 403);
    assert.match(foreign.body.error, /cross-origin/);
    assert.equal(pool.loads, 0, "refused before any model is loaded");

    const empty = join(runsDir, "no-weights");
    await Deno.mkdir(empty, { recursive: true });
    await Deno.copyFile(join(folderRun, "run.json"), join(empty, "run.json"));
    const getInfo = await app.request("/api/runs/no-weights/predict");
    const infoRes = { status: getInfo.status, body: await getInfo.json() };
    for (const res of [infoRes, await post(app, "no-weights", form(files))]) {
      assert.equal(res.status, 422);
      assert.match(
        res.body.error,
        /^cannot predict with this run: no-weights\/checkpoints has no checkpoint .*train the run for at least one epoch first/,
      );
      assert.ok(!res.body.error.includes(root), "no absolute path");
    }
    assert.equal((await post(app, "nope", form(files))).status, 404);
    assert.equal((await post(app, "x/y", form(files))).status, 400);
  } finally {
    await pool.dispose();
  }
});

Deno.test("predict API: a run whose only weights are the untrained starting point is a 422 saying so", async () => {
  const { folderRun, images } = await runs();
  const pool = new PredictorPool();
  const app = appWith(pool);
  const files = [{ name: "a.jpg", bytes: await Deno.readFile(images[0]) }];
  const id = "untrained-start";
  const dir = join(runsDir, id);
  const point = join("checkpoints", "resume", "e0000");
  await Deno.mkdir(join(dir, point), { recursive: true });
  await Deno.copyFile(join(folderRun, "run.json"), join(dir, "run.json"));
  for await (const e of Deno.readDir(join(folderRun, point))) {
    await Deno.copyFile(join(folderRun, point, e.name), join(dir, point, e.name));
  }
  try {
    const getInfo = await app.request(`/api/runs/${id}/predict`);
    const infoRes = { status: getInfo.status, body: await getInfo.json() };
    for (const res of [infoRes, await post(app, id, form(files))]) {
      assert.equal(res.status, 422);
      assert.match(
        res.body.error,
        /^cannot predict with this run: the run has no trained weights yet: its only weights are checkpoints\/resume\/e0000, the untrained starting point .*wait until its first epoch ends/,
      );
      assert.ok(!res.body.error.includes(root), "no absolute path");
    }
  } finally {
    await pool.dispose();
  }
});

Deno.test("predictor pool: LRU evicts and disposes, reloads changed weights, runs one call at a time", async () => {
  const { folderRun, syntheticRun, images } = await runs();
  const pool = new PredictorPool({ capacity: 1 });
  const app = appWith(pool);
  const files = [{ name: "a.jpg", bytes: await Deno.readFile(images[0]) }];
  const before = tf.memory().numTensors;
  try {
    const counts: number[] = [];
    for (const run of [folderRun, syntheticRun, folderRun, syntheticRun, folderRun]) {
      const res = await post(app, idOf(run), form(files));
      assert.equal(res.status, 200, JSON.stringify(res.body));
      assert.deepEqual(pool.loaded, [run]);
      counts.push(tf.memory().numTensors);
    }
    assert.equal(pool.loads, 5);
    assert.equal(counts[0], counts[2]);
    assert.equal(counts[2], counts[4]);
    assert.equal(counts[1], counts[3]);

    // best/ saved again (a running run): the next request loads it again.
    const stamped = pool.loads;
    await post(app, idOf(folderRun), form(files));
    assert.equal(pool.loads, stamped, "unchanged weights stay loaded");
    const { findRunWeights } = await import("../core/run/checkpoints.ts");
    const w = await findRunWeights(folderRun);
    const later = new Date(Date.now() + 5000);
    for await (const e of Deno.readDir(w.dir)) await Deno.utime(join(w.dir, e.name), later, later);
    await post(app, idOf(folderRun), form(files));
    assert.equal(pool.loads, stamped + 1);
    assert.equal(tf.memory().numTensors, counts[0], "the old model was disposed");

    // One call at a time, in order.
    let active = 0, most = 0;
    const order: number[] = [];
    await Promise.all([0, 1, 2].map((k) =>
      pool.use(folderRun, async () => {
        active++;
        most = Math.max(most, active);
        await new Promise((r) => setTimeout(r, 20));
        order.push(k);
        active--;
      })
    ));
    assert.equal(most, 1);
    assert.deepEqual(order, [0, 1, 2]);
  } finally {
    await pool.dispose();
  }
  assert.equal(tf.memory().numTensors, before);
  await assert.rejects(() => pool.use(folderRun, () => Promise.resolve()), /disposed/);
});

Deno.test("predict API: predictions while a run trains in the same process change none of its numbers", async () => {
  const { folderRun, images } = await runs();
  const files = [{ name: "a.jpg", bytes: await Deno.readFile(images[0]) }];
  const experiment: Experiment = {
    name: "sharedtfjs",
    description: "trains while the dashboard predicts",
    defaults: { epochs: 3, batchSize: 6, learningRate: 3e-3, imageSize: 16, seed: 7 },
    dataset: () => Promise.resolve(syntheticShapes(SYNTHETIC_OPTIONS)),
    model: (shape, k) => smallConvnet(shape, k, [4, 8, 8]),
    callbacks: () => [],
  };
  const train = async (during?: () => Promise<void>) => {
    let busy: Promise<void> | undefined;
    let stop = false;
    const { run } = await runExperiment({
      experiment,
      backend: "cpu",
      runsDir: join(root, "shared-runs"),
      log: () => {},
      onRunCreated: () => {
        if (during) {
          busy = (async () => {
            while (!stop) await during();
          })();
        }
      },
    });
    stop = true;
    await busy;
    const { records } = await readMetrics(run.dir);
    return records.filter((r) => r.batch === undefined)
      .map(({ epoch, loss, acc, val_loss, val_acc }) => ({ epoch, loss, acc, val_loss, val_acc }));
  };
  const alone = await train();
  const pool = new PredictorPool();
  const app = appWith(pool);
  let requests = 0;
  const expected = (await predict(folderRun, files)).results[0];
  const shared = await train(async () => {
    const res = await post(app, idOf(folderRun), form(files));
    assert.equal(res.status, 200);
    assert.deepEqual(res.body.results[0].probabilities, expected.ok && expected.probabilities);
    requests++;
  });
  await pool.dispose();
  console.log(`${requests} predictions while training 3 epochs (cpu backend)`);
  assert.ok(requests >= 3, `${requests} predictions during training`);
  assert.equal(alone.length, 3);
  assert.deepEqual(shared, alone);
});

Deno.test({
  name: "predict API: clean up",
  fn: async () => {
    await Promise.allSettled([trained]);
    await Deno.remove(root, { recursive: true });
  },
});
