/// <reference lib="dom" />
/**
 * End-to-end: filter patterns computed by `deno task patterns` into a trained run, served by
 * `deno task dashboard` (its own permissions) and shown in Chromium's "What it learned" tab:
 * layer picker, pattern grid, top patches on click, the receptive field as a box.
 */
import assert from "node:assert/strict";
import { join, resolve } from "node:path";
import { CHROMIUM_PATH, launchChromium } from "../dashboard/chromium.ts";
import { runExperiment } from "../core/experiment/run_experiment.ts";
import { loadExperiment } from "../experiments/registry.ts";
import { readUntil } from "./helpers/read_until.ts";

const hasChromium = await Deno.stat(CHROMIUM_PATH).then(() => true, () => false);
if (!hasChromium) console.warn(`SKIPPED patterns e2e test: ${CHROMIUM_PATH} not found`);
const EXPERIMENT = resolve("tests/helpers/patterns_experiment.ts");

Deno.test({
  name:
    "dashboard in Chromium: What it learned shows stored filter patterns, patches, receptive field box",
  ignore: !hasChromium,
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const root = await Deno.makeTempDir();
    const shots = Deno.env.get("CONVDECK_SCREENSHOTS") ?? await Deno.makeTempDir();
    const { run } = await runExperiment({
      experiment: await loadExperiment(EXPERIMENT),
      experimentSource: EXPERIMENT,
      backend: "cpu",
      runsDir: root,
      log: () => {},
      evaluate: false,
    });
    const made = await new Deno.Command(Deno.execPath(), {
      args: [
        "task",
        "-q",
        "patterns",
        "--run",
        run.id,
        "--runs",
        root,
        "--experiment",
        EXPERIMENT,
        "--layer",
        "conv2d",
        "--layer",
        "conv2d_3",
        "--filters",
        "0-3",
        "--steps",
        "8",
        "--patches",
        "4",
        "--backend",
        "cpu",
      ],
      stdout: "piped",
      stderr: "piped",
    }).output();
    assert.equal(made.code, 0, new TextDecoder().decode(made.stderr));

    const child = new Deno.Command(Deno.execPath(), {
      args: ["task", "-q", "dashboard", "--runs", root, "--port", "0"],
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
    const browser = await launchChromium(CHROMIUM_PATH);
    try {
      const { match } = await readUntil(reader, /http:\/\/\S+/);
      assert.ok(match, "the dashboard printed its URL");
      const page = await browser.newPage({ viewport: { width: 1280, height: 1100 } });
      const errors: string[] = [];
      page.on("pageerror", (e) => errors.push(e.message));
      await page.goto(`${match}#/run/${encodeURIComponent(run.id)}`);
      await page.click("[data-testid=tab-learned]");
      await page.waitForSelector("[data-testid=pattern-grid]");
      assert.equal(await page.locator("[data-testid=pattern-grid] button").count(), 4);
      assert.deepEqual(
        await page.locator("[data-testid=pattern-layer] option").allTextContents(),
        ["conv2d", "conv2d_3"],
      );
      assert.match(
        await page.locator("[data-testid=patterns] .controls").textContent() ?? "",
        /receptive field 3×3 px, 1 px apart/,
      );
      // A click on a tile shows that filter's top patches and its receptive field on an image.
      await page.click("[data-testid=pattern-2]");
      assert.match(
        await page.locator("[data-testid=pattern-detail]").textContent() ?? "",
        /filter 2/,
      );
      assert.equal(await page.locator("[data-testid=patch-row] > div").count(), 4);
      const box = await page.locator("[data-testid=field-box]").boundingBox();
      assert.ok(box && box.width > 10 && box.height > 10, JSON.stringify(box));
      // Every PNG loads (patterns, patches, the image under the box).
      await page.waitForFunction(() =>
        [...document.querySelectorAll("img")].every((i) => i.complete && i.naturalWidth > 0)
      );
      const bgOk = await page.evaluate(async () => {
        const urls = [...document.querySelectorAll<HTMLElement>(".tile")]
          .map((t) => /url\("(.*)"\)/.exec(t.style.backgroundImage)?.[1])
          .filter((u): u is string => !!u);
        const codes = await Promise.all(
          [...new Set(urls)].map(async (u) => (await fetch(u)).status),
        );
        return codes.length > 0 && codes.every((c) => c === 200);
      });
      assert.ok(bgOk, "pattern and patch mosaics are served");
      await page.screenshot({ path: join(shots, "dashboard-patterns.png"), fullPage: true });
      // The layer picker switches the grid and the receptive field.
      await page.selectOption("[data-testid=pattern-layer]", "conv2d_3");
      await page.waitForFunction(() =>
        /receptive field 14×14 px, 2 px apart/.test(
          document.querySelector("[data-testid=patterns] .controls")?.textContent ?? "",
        )
      );
      assert.deepEqual(errors, []);
    } finally {
      await browser.close();
      child.kill("SIGTERM");
      await reader.cancel();
      await child.stderr.cancel();
      await child.status;
    }
  },
});
