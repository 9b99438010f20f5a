/// <reference lib="dom" />
/**
 * End-to-end: the run page's "Try it" tab in headless Debian Chromium over a real trained run:
 * images picked with the file input and dropped as a synthetic drop event, the top-k, the
 * Grad-CAM overlay and its layer picker, activation maps, a bad file's error, a run without
 * weights. Skipped, with a message, when /usr/bin/chromium is absent.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { Buffer } from "node:buffer";
import * as tf from "@tensorflow/tfjs-core";
import "@tensorflow/tfjs-backend-cpu";
import { CHROMIUM_PATH, launchChromium } from "../dashboard/chromium.ts";
import { PredictorPool, serveDashboard } from "../dashboard/mod.ts";
import { predict, Predictor } from "../core/infer/predict.ts";
import { scanImageFolder } from "../core/data/scan.ts";
import { writeFakeRun } from "./helpers/fake_run.ts";
import { trainImageFolderRun } from "./helpers/predict_runs.ts";

const hasChromium = await Deno.stat(CHROMIUM_PATH).then(() => true, () => false);
if (!hasChromium) {
  console.warn(
    `SKIPPED dashboard predict e2e test: ${CHROMIUM_PATH} not found (apt-get install chromium, or set CHROMIUM_PATH)`,
  );
}

Deno.test({
  name: "dashboard in Chromium: pick and drop images on a run page, see top-k, Grad-CAM, layers",
  ignore: !hasChromium,
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    await tf.setBackend("cpu");
    const root = await Deno.makeTempDir({ prefix: "convdeck-predict-e2e-" });
    const shots = Deno.env.get("CONVDECK_SCREENSHOTS") ?? await Deno.makeTempDir();
    const { runDir, dataDir } = await trainImageFolderRun(root);
    const runsDir = join(root, "runs");
    await writeFakeRun(runsDir, { id: "no-weights", epochs: 2 });
    const id = runDir.split("/").pop()!;
    const tests = (await scanImageFolder(dataDir)).files.filter((f) => f.split === "test");
    const a = { name: "a.jpg", bytes: await Deno.readFile(tests[0].path) };
    const b = { name: "b.jpg", bytes: await Deno.readFile(tests[tests.length - 1].path) };
    const expected = await predict(runDir, [a, b], { topK: 5 });
    const predictor = await Predictor.load(runDir);
    const convLayers = predictor.convLayers;
    predictor.dispose();

    const before = tf.memory().numTensors;
    const pool = new PredictorPool();
    const ac = new AbortController();
    const { url } = serveDashboard({
      runsDir,
      port: 0,
      signal: ac.signal,
      predictors: pool,
      // Small limits: the page splits uploads into batches of 2 and refuses big files itself.
      predictLimits: { maxImages: 2, maxImageBytes: 100 * 1024 },
    });
    const browser = await launchChromium();
    try {
      const page = await browser.newPage({ viewport: { width: 1280, height: 1100 } });
      const pageErrors: string[] = [];
      page.on("pageerror", (e) => pageErrors.push(String(e)));
      const external: string[] = [];
      await page.route("**/*", (route) => {
        const u = route.request().url();
        if (!u.startsWith(url) && !u.startsWith("blob:") && !u.startsWith("data:")) {
          external.push(u);
          return route.abort();
        }
        return route.continue();
      });

      // A run without weights says so in the tab.
      await page.goto(`${url}#/run/no-weights`);
      await page.click("[data-testid=tab-predict]");
      await page.waitForSelector("[data-testid=predict-unavailable]");
      assert.match(
        await page.textContent("[data-testid=predict-unavailable]") ?? "",
        /cannot predict with this run: no-weights\/checkpoints has no checkpoint/,
      );

      await page.goto(`${url}#/run/${encodeURIComponent(id)}`);
      await page.click("[data-testid=tab-predict]");
      await page.waitForSelector("[data-testid=predict-info]");
      assert.match(
        await page.textContent("[data-testid=predict-info]") ?? "",
        /checkpoints\/best.*16×16×3/,
      );

      // Pick four files with the file input: an image, a text file, an image too large for the
      // limit, and the image again under another name (a second batch of the upload).
      const requests: string[] = [];
      page.on("request", (r) => {
        if (r.method() === "POST") requests.push(r.url());
      });
      await page.setInputFiles("[data-testid=predict-input]", [
        { name: a.name, mimeType: "image/jpeg", buffer: Buffer.from(a.bytes) },
        { name: "notes.txt", mimeType: "text/plain", buffer: Buffer.from("hi\n") },
        { name: "big.png", mimeType: "image/png", buffer: Buffer.alloc(150 * 1024) },
        { name: "c.jpg", mimeType: "image/jpeg", buffer: Buffer.from(a.bytes) },
      ]);
      await page.waitForSelector("[data-name='c.jpg'] [data-testid=topk]");
      assert.equal(requests.length, 2, "two batches of at most 2 images");
      assert.equal(
        await page.textContent("[data-name='big.png'] [data-testid=predict-error]"),
        "big.png: 150 KB; the limit is 100 KB per image",
      );
      await page.waitForSelector("[data-name='a.jpg'] [data-testid=topk]");
      await page.waitForSelector("[data-name='notes.txt'] [data-testid=predict-error]");
      assert.match(
        await page.textContent("[data-name='notes.txt'] [data-testid=predict-error]") ?? "",
        /^notes\.txt: .*not an image/,
      );
      const want = expected.results[0];
      assert.ok(want.ok);
      const rows = await page.$$eval(
        "[data-name='a.jpg'] [data-testid=topk] tr",
        (trs) => trs.map((tr) => [...tr.querySelectorAll("td")].map((td) => td.textContent)),
      );
      assert.deepEqual(
        rows.map((r) => [r[0], r[2]]),
        want.top.map((t) => [t.name, `${(t.prob * 100).toFixed(1)}%`]),
      );

      // The Grad-CAM overlay and the activation maps are real decoded images.
      const loaded = (sel: string) =>
        page.$eval(sel, async (img) => {
          const i = img as HTMLImageElement;
          if (!i.complete) await new Promise((ok) => (i.onload = i.onerror = ok));
          return i.naturalWidth;
        });
      const camSel = "[data-name='a.jpg'] [data-testid=predict-gradcam]";
      assert.equal(await loaded(camSel), 224); // 16 px input, overlay drawn at 14x
      assert.ok(await loaded("[data-name='a.jpg'] [data-testid=predict-activations]") > 0);
      const layers = await page.$$eval(
        "[data-name='a.jpg'] [data-testid=predict-layer] option",
        (os) => os.map((o) => (o as HTMLOptionElement).value),
      );
      assert.deepEqual(layers, convLayers);
      assert.equal(await page.getAttribute(camSel, "data-layer"), convLayers.at(-1));

      // Another layer: the server is asked again for this image.
      const oldCam = await page.getAttribute(camSel, "src");
      await page.selectOption("[data-name='a.jpg'] [data-testid=predict-layer]", layers[0]);
      await page.waitForFunction(
        ([sel, layer]) => document.querySelector(sel)?.getAttribute("data-layer") === layer,
        [camSel, layers[0]],
      );
      assert.notEqual(await page.getAttribute(camSel, "src"), oldCam);
      assert.match(
        await page.textContent("[data-name='a.jpg'] h4") ?? "",
        new RegExp(`Activation maps of ${layers[0]}`),
      );

      // A synthetic drop event carrying a file (DataTransfer), as a drag from the desktop.
      await page.dispatchEvent("[data-testid=predict-drop]", "dragover");
      assert.match(await page.getAttribute("[data-testid=predict-drop]", "class") ?? "", /over/);
      await page.evaluate(([name, bytes]) => {
        const dt = new DataTransfer();
        dt.items.add(new File([new Uint8Array(bytes as number[])], name as string));
        document.querySelector("[data-testid=predict-drop]")!.dispatchEvent(
          new DragEvent("drop", { dataTransfer: dt, bubbles: true, cancelable: true }),
        );
      }, [b.name, [...b.bytes]]);
      await page.waitForSelector("[data-name='b.jpg'] [data-testid=predict-gradcam]");
      const wantB = expected.results[1];
      assert.ok(wantB.ok);
      assert.match(
        await page.textContent("[data-name='b.jpg'] [data-testid=topk] tr") ?? "",
        new RegExp(`^${wantB.top[0].name}.*${(wantB.top[0].prob * 100).toFixed(1)}%$`),
      );
      assert.equal(await page.locator("[data-testid=prediction]").count(), 5);
      await page.screenshot({ path: join(shots, "dashboard-predict.png"), fullPage: true });

      assert.deepEqual(pageErrors, []);
      assert.deepEqual(external, [], "no request leaves the dashboard");
    } finally {
      await browser.close();
      ac.abort();
      await pool.dispose();
    }
    assert.equal(tf.memory().numTensors, before, "the dashboard's models are freed");
    await Deno.remove(root, { recursive: true });
  },
});
