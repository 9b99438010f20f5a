/// <reference lib="dom" />
/**
 * End-to-end: the dashboard in headless Debian Chromium (`apt-get install chromium`; no test
 * tool downloads a browser). Skipped, with a message, when /usr/bin/chromium is absent.
 */
import { CHROMIUM_PATH, launchChromium } from "../dashboard/chromium.ts";
import assert from "node:assert/strict";
import { join } from "node:path";
import { serveDashboard } from "../dashboard/mod.ts";
import { appendEpoch, appendLines, writeFakeRun } from "./helpers/fake_run.ts";
import { thisHost } from "../core/run/lock.ts";
import { RUN_FILES } from "../core/run/format.ts";

const CHROMIUM = CHROMIUM_PATH;
const hasChromium = await Deno.stat(CHROMIUM).then(() => true, () => false);
if (!hasChromium) {
  console.warn(
    `SKIPPED dashboard e2e test: ${CHROMIUM} not found (apt-get install chromium, or set CHROMIUM_PATH)`,
  );
}
const XSS = "<img src=x onerror=alert(1)>";

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

Deno.test({
  name: "dashboard in Chromium: run list, live curves, heatmaps, evaluation, XSS-safe, 100k points",
  ignore: !hasChromium,
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const root = await Deno.makeTempDir();
    // Screenshots of the fixture go to a temp folder (docs/ holds real runs' screenshots,
    // made with dashboard/screenshot.ts); set CONVDECK_SCREENSHOTS=DIR to keep them.
    const shots = Deno.env.get("CONVDECK_SCREENSHOTS") ?? await Deno.makeTempDir();
    const live = await writeFakeRun(root, {
      id: "convnet-20250101-120000",
      experiment: "convnet",
      status: "running",
      epochs: 14,
      batchesPerEpoch: 20,
      viz: true,
      evaluation: true,
      startTime: Date.UTC(2025, 0, 1, 12),
      config: { epochs: 30, batchSize: 32, learningRate: 0.001, imageSize: 224, seed: 1 },
      events: [
        { type: "overfitting_detected", epoch: 10, step: 220, time: 0, monitor: "val_loss" },
      ],
    });
    // A live process's heartbeat (this one's): the run is running, so its page says "live".
    const beat = {
      host: thisHost(),
      pid: Deno.pid,
      token: "t",
      since: Date.now(),
      time: Date.now(),
    };
    await Deno.writeTextFile(join(live, RUN_FILES.heartbeat), JSON.stringify(beat));
    await writeFakeRun(root, { id: XSS, experiment: XSS, config: { note: XSS }, epochs: 3 });
    const big = await writeFakeRun(root, { id: "big-100k", epochs: 100, startTime: 0 });
    const recs = [];
    for (let i = 0; i < 100_000; i++) {
      recs.push({
        epoch: Math.floor(i / 1000),
        step: i + 1,
        time: i,
        batch: i % 1000,
        loss: 1 + Math.sin(i) * 0.1,
        acc: 0.5,
      });
    }
    await appendLines(join(big, "metrics.jsonl"), recs);

    const ac = new AbortController();
    const { url } = serveDashboard({ runsDir: root, port: 0, signal: ac.signal });
    const browser = await launchChromium(CHROMIUM);
    try {
      const page = await browser.newPage({ viewport: { width: 1280, height: 1000 } });
      const dialogs: string[] = [];
      const pageErrors: string[] = [];
      page.on("dialog", (d) => {
        dialogs.push(d.message());
        d.dismiss();
      });
      page.on("pageerror", (e) => pageErrors.push(String(e)));
      // block anything not served by the dashboard itself: it must work offline
      const external: string[] = [];
      await page.route("**/*", (route) => {
        const u = route.request().url();
        if (!u.startsWith(url)) {
          external.push(u);
          return route.abort();
        }
        return route.continue();
      });

      // run list: the XSS run name is shown as text, never as HTML
      await page.goto(url);
      await page.waitForSelector("[data-testid=run-table]");
      assert.ok(await page.getByText(XSS, { exact: true }).first().isVisible());
      assert.equal(await page.locator("img[src=x]").count(), 0);
      await page.goto(`${url}#/run/${encodeURIComponent(XSS)}`);
      await page.waitForSelector("[data-testid=config]");
      assert.match(
        await page.textContent("[data-testid=config]") ?? "",
        /<img src=x onerror=alert\(1\)>/,
      );
      assert.equal(await page.locator("img[src=x]").count(), 0);

      // the live run page: curves render
      const t0 = performance.now();
      await page.goto(`${url}#/run/${live.split("/").pop()}`);
      await page.waitForFunction(() => {
        const el = document.querySelector("[data-testid=chart-loss]");
        return el && Number(el.getAttribute("data-points")) > 0 && el.querySelector("canvas");
      });
      console.log(
        `run page (14 epochs, 280 batch points): ${
          (performance.now() - t0).toFixed(0)
        } ms to curves`,
      );
      const inked = await page.evaluate(() => {
        const c = document.querySelector("[data-testid=chart-loss] canvas") as HTMLCanvasElement;
        const d = c.getContext("2d")!.getImageData(0, 0, c.width, c.height).data;
        let n = 0;
        for (let i = 3; i < d.length; i += 4) if (d[i] > 0) n++;
        return n;
      });
      assert.ok(inked > 1000, `loss chart has ${inked} drawn pixels`);
      assert.match(await page.textContent("[data-testid=chart-lr]") ?? "", /Learning rate/);
      await page.waitForSelector(".live.on");

      // append a metric line to the run directory: the chart updates live
      const before = Number(await page.getAttribute("[data-testid=chart-loss]", "data-points"));
      const latencies: number[] = [];
      for (let k = 0; k < 3; k++) {
        const written = Date.now();
        await appendEpoch(live, 14 + k, { loss: 0.2 - k * 0.01 });
        await page.waitForFunction(
          (n) =>
            Number(
              document.querySelector("[data-testid=chart-loss]")!.getAttribute("data-points"),
            ) >= n,
          before + 2 * (k + 1),
          { timeout: 5000, polling: 20 },
        );
        const shownAt = await page.evaluate(() =>
          (globalThis as unknown as { __chartUpdatedAt: number }).__chartUpdatedAt
        );
        latencies.push(shownAt - written);
      }
      console.log(
        `metric written -> chart updated: ${
          latencies.map((l) => l.toFixed(0)).join(", ")
        } ms (median ${median(latencies)} ms, poll 250 ms)`,
      );
      assert.ok(median(latencies) < 1000, `latency ${latencies}`);
      assert.match(await page.textContent("[data-testid=last-epoch]") ?? "", /last epoch 17/);
      // a status change in run.json shows up too
      const info = JSON.parse(await Deno.readTextFile(join(live, "run.json")));
      await Deno.writeTextFile(
        join(live, "run.json.tmp"),
        JSON.stringify({ ...info, status: "completed" }),
      );
      await Deno.rename(join(live, "run.json.tmp"), join(live, "run.json"));
      await page.waitForFunction(
        () => document.querySelector("[data-testid=run-status]")?.textContent === "completed",
        null,
        { timeout: 3000 },
      );
      await page.screenshot({ path: join(shots, "dashboard.png"), fullPage: false });

      // what the network learned: heatmap over the image, Grad-CAM, filters
      await page.click("[data-testid=tab-learned]");
      await page.waitForSelector("[data-testid=activation-overlay]");
      const images = await page.evaluate(async () => {
        const imgs = [...document.querySelectorAll(".viz img")] as HTMLImageElement[];
        await Promise.all(
          imgs.map((i) => i.complete ? 0 : new Promise((ok) => (i.onload = i.onerror = ok))),
        );
        return imgs.map((i) => [i.getAttribute("data-testid"), i.naturalWidth]);
      });
      assert.ok(images.every(([, w]) => (w as number) > 0), JSON.stringify(images));
      assert.ok(images.some(([t]) => t === "gradcam"));
      const bg = await page.evaluate(() =>
        getComputedStyle(document.querySelector("[data-testid=activation-overlay]")!)
          .backgroundImage
      );
      assert.match(bg, /act-0-conv2d\.png/);
      const overlayOk = await page.evaluate(async (src) => {
        const res = await fetch(src);
        return res.ok && res.headers.get("content-type") === "image/png";
      }, bg.replace(/^url\("?|"?\)$/g, ""));
      assert.ok(overlayOk);
      assert.match(
        await page.textContent("[data-testid=gradcam-caption]") ?? "",
        /predicted .* true/,
      );
      await page.fill("[data-testid=epoch-slider]", "0");
      await page.selectOption("[data-testid=layer-select]", "conv2d_1");
      await page.waitForFunction(() =>
        getComputedStyle(document.querySelector("[data-testid=activation-overlay]")!)
          .backgroundImage.includes("epoch-0/act-0-conv2d_1")
      );
      await page.screenshot({ path: join(shots, "dashboard-learned.png") });

      await page.click("[data-testid=tab-evaluation]");
      await page.waitForSelector("[data-testid=evaluation]");
      assert.match(
        await page.textContent("[data-testid=evaluation]") ?? "",
        /test accuracy 70\.00%/,
      );

      // comparison overlay
      await page.goto(
        `${url}#/compare?runs=${encodeURIComponent(live.split("/").pop()!)},${
          encodeURIComponent(XSS)
        }`,
      );
      await page.waitForFunction(() =>
        Number(
          document.querySelector("[data-testid=chart-compare-val_loss]")?.getAttribute(
            "data-points",
          ),
        ) > 10
      );

      // page load with 100k metric points (downsampled by the API)
      const loads: number[] = [];
      for (let k = 0; k < 3; k++) {
        await page.goto("about:blank");
        const s = performance.now();
        await page.goto(`${url}#/run/big-100k`);
        await page.waitForFunction(() =>
          Number(document.querySelector("[data-testid=chart-loss]")?.getAttribute("data-points")) >
            1000
        );
        loads.push(performance.now() - s);
      }
      console.log(
        `run page with 100k points: ${loads.map((l) => l.toFixed(0)).join(", ")} ms (median ${
          median(loads).toFixed(0)
        } ms)`,
      );
      assert.ok(median(loads) < 10_000);

      assert.deepEqual(dialogs, [], "no alert() from injected HTML");
      assert.deepEqual(pageErrors, []);
      assert.deepEqual(external, [], "no request leaves the dashboard");
    } finally {
      await browser.close();
      ac.abort();
    }
  },
});
