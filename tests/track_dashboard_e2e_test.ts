/// <reference lib="dom" />
/**
 * A tracked script's run in `deno task dashboard` (a subprocess, with its task's permissions),
 * in Chromium: the runs table shows its nested config keys, and the run page shows its logged
 * images with a step slider and its artifacts as downloads.
 */
import assert from "node:assert/strict";
import { CHROMIUM_PATH, launchChromium } from "../dashboard/chromium.ts";
import { encode } from "fast-png";
import { init } from "../track/mod.ts";
import { readUntil } from "./helpers/read_until.ts";

const hasChromium = await Deno.stat(CHROMIUM_PATH).then(() => true, () => false);

function png(shade: number): Uint8Array {
  const data = new Uint8Array(16 * 16 * 3).fill(shade);
  return encode({ width: 16, height: 16, data, channels: 3, depth: 8 });
}

Deno.test({
  name: "dashboard: a tracked run's config columns, logged images with a step slider, artifacts",
  ignore: !hasChromium,
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const runs = await Deno.makeTempDir();
    const run = await init({
      runs,
      name: "media",
      config: { hidden: 64, data: { augment: true } },
      handleExit: false,
    });
    for (let step = 1; step <= 3; step++) {
      run.log({ loss: 1 / step });
      await run.logImage("samples", png(step * 60), { step });
    }
    await run.logArtifact("confusion.csv", "a,b\n1,2\n");
    await run.finish();

    const child = new Deno.Command(Deno.execPath(), {
      args: ["task", "-q", "dashboard", "--runs", runs, "--port", "0"],
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
    const browser = await launchChromium(CHROMIUM_PATH);
    try {
      const { match: url } = await readUntil(reader, /http:\/\/\S+\//);
      assert.ok(url, "the dashboard printed no URL");
      const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
      const errors: string[] = [];
      page.on("pageerror", (e) => errors.push(String(e)));
      await page.goto(
        `${url}#/?q=${encodeURIComponent("data.augment = true")}&cols=name,hidden,data.augment`,
      );
      await page.getByText("media").first().waitFor();
      const table = await page.locator("table").first().textContent() ?? "";
      assert.match(table, /data\.augment/);
      assert.match(table, /hidden/);
      const shots = Deno.env.get("CONVDECK_SCREENSHOTS");
      if (shots) await page.screenshot({ path: `${shots}/track_table.png` });
      await page.goto(`${url}#/run/${run.id}`);
      const fig = page.getByTestId("logged-image-samples");
      await fig.waitFor();
      assert.equal(await fig.getByTestId("logged-image-step").textContent(), "3");
      await fig.getByTestId("logged-image-slider").fill("0");
      assert.equal(await fig.getByTestId("logged-image-step").textContent(), "1");
      assert.match(await page.getByTestId("config").textContent() ?? "", /data\.augment\s*true/);
      const img = fig.locator("img");
      await page.waitForFunction(
        (el) => (el as HTMLImageElement).complete && (el as HTMLImageElement).naturalWidth === 16,
        await img.elementHandle(),
      );
      const link = page.getByTestId("logged-artifacts").getByRole("link", {
        name: "confusion.csv",
      });
      const res = await page.request.get(new URL(await link.getAttribute("href") ?? "", url).href);
      assert.equal(await res.text(), "a,b\n1,2\n");
      if (shots) await page.screenshot({ path: `${shots}/track_logged.png`, fullPage: true });
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
