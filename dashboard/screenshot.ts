/**
 * Screenshots of the dashboard for a real run, for the README:
 * `deno run -A dashboard/screenshot.ts --runs runs --run <run-id> [--out docs] [--image FILE]...`
 * (with `--image`, also the "Try it" tab after picking those files: dashboard-predict.png).
 * Uses Debian's Chromium (`apt-get install chromium`) through playwright-core; downloads nothing.
 *
 * @module
 */
import { parseArgs } from "node:util";
import { join } from "node:path";
import { serveDashboard } from "./serve.ts";
import { CHROMIUM_PATH, launchChromium } from "./chromium.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    runs: { type: "string", default: "runs" },
    run: { type: "string" },
    out: { type: "string", default: "docs" },
    chromium: { type: "string", default: CHROMIUM_PATH },
    image: { type: "string", multiple: true },
  },
});
if (!values.run) {
  console.error("usage: deno run -A dashboard/screenshot.ts --runs DIR --run RUN_ID [--out docs]");
  Deno.exit(2);
}
const ac = new AbortController();
const { url } = serveDashboard({ runsDir: values.runs, port: 0, signal: ac.signal });
const browser = await launchChromium(values.chromium);
try {
  const page = await browser.newPage({ viewport: { width: 1280, height: 1000 } });
  await page.goto(`${url}#/run/${encodeURIComponent(values.run)}`);
  await page.waitForSelector("[data-testid=chart-loss]");
  await page.waitForTimeout(800);
  await page.screenshot({ path: join(values.out, "dashboard.png") });
  await page.click("[data-testid=tab-learned]");
  await page.waitForSelector("[data-testid=activation-overlay]");
  await page.waitForTimeout(800);
  await page.screenshot({ path: join(values.out, "dashboard-learned.png") });
  console.log(`wrote ${join(values.out, "dashboard.png")} and dashboard-learned.png`);
  if (await page.locator("[data-testid=pattern-grid]").count()) {
    // Filter patterns (deno task patterns): a middle layer, one filter picked.
    const layers = await page.locator("[data-testid=pattern-layer] option").allTextContents();
    await page.selectOption("[data-testid=pattern-layer]", layers[Math.floor(layers.length / 2)]);
    await page.locator("[data-testid=pattern-grid] button").nth(3).click();
    await page.waitForTimeout(800);
    await page.locator("[data-testid=patterns]").screenshot({
      path: join(values.out, "dashboard-patterns.png"),
    });
    console.log(`wrote ${join(values.out, "dashboard-patterns.png")}`);
  }
  if (values.image?.length) {
    await page.click("[data-testid=tab-predict]");
    await page.waitForSelector("[data-testid=predict-info]");
    await page.setInputFiles("[data-testid=predict-input]", values.image);
    // Every file shown, with its Grad-CAM or its error.
    await page.locator(
      "[data-testid=prediction] :is([data-testid=predict-gradcam], [data-testid=predict-error])",
    ).nth(values.image.length - 1).waitFor();
    await page.waitForTimeout(800);
    await page.screenshot({ path: join(values.out, "dashboard-predict.png"), fullPage: true });
    console.log(`wrote ${join(values.out, "dashboard-predict.png")}`);
  }
} finally {
  await browser.close();
  ac.abort();
}
// A prediction started a tfjs backend (native or wasm threads), which would keep the process up.
Deno.exit(0);
