/// <reference lib="dom" />
/**
 * The sweep pages in headless Debian Chromium: the list, the trials table with pruned trials
 * marked, the curves chart and the parallel-coordinates view; parameter values render as text.
 * Skipped, with a message, when Chromium is absent.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { CHROMIUM_PATH, launchChromium } from "../dashboard/chromium.ts";
import { serveDashboard } from "../dashboard/mod.ts";
import { writeFakeSweep } from "./helpers/fake_sweep.ts";

const hasChromium = await Deno.stat(CHROMIUM_PATH).then(() => true, () => false);
if (!hasChromium) console.warn(`SKIPPED sweep page e2e test: ${CHROMIUM_PATH} not found`);
const XSS = "<img src=x onerror=alert(1)>";

Deno.test({
  name: "sweep pages in Chromium: list, trials table, pruned marked, curves, parallel view",
  ignore: !hasChromium,
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const root = await Deno.makeTempDir();
    const id = await writeFakeSweep(root, XSS);
    const ac = new AbortController();
    const { url } = serveDashboard({ runsDir: join(root, "runs"), port: 0, signal: ac.signal });
    const browser = await launchChromium(CHROMIUM_PATH);
    try {
      const page = await browser.newPage({ viewport: { width: 1280, height: 1000 } });
      const errors: string[] = [];
      const dialogs: string[] = [];
      page.on("pageerror", (e) => errors.push(String(e)));
      page.on("dialog", (d) => {
        dialogs.push(d.message());
        void d.dismiss();
      });
      await page.goto(`${url}#/sweeps`);
      await page.waitForSelector("[data-testid=sweep-table]");
      assert.match(await page.textContent("[data-testid=sweep-table]") ?? "", new RegExp(id));
      await page.click(`text=${id}`);
      await page.waitForSelector("[data-testid=trial-table]");
      const rows = await page.$$eval(
        "[data-testid=trial-table] tbody tr",
        (trs) => trs.map((tr) => [tr.className, tr.querySelector(".status")?.textContent]),
      );
      assert.deepEqual(rows, [["", "completed"], ["pruned", "pruned"], ["", "pending"]]);
      assert.match(await page.textContent("[data-testid=sweep-best]") ?? "", /Best: t000/);
      assert.match(await page.textContent("[data-testid=trial-table]") ?? "", /<img src=x/);
      await page.waitForFunction(() =>
        Number(
          document.querySelector("[data-testid=chart-sweep-curves]")?.getAttribute(
            "data-points",
          ),
        ) === 8
      );
      const lines = await page.$$eval(
        "[data-testid=sweep-parallel] polyline",
        (ls) => ls.map((l) => l.getAttribute("stroke-dasharray")),
      );
      assert.deepEqual(lines, [null, "4 3"], "the pruned trial's line is dashed");
      assert.deepEqual(errors, []);
      assert.deepEqual(dialogs, []);
    } finally {
      await browser.close();
      ac.abort();
      await Deno.remove(root, { recursive: true });
    }
  },
});
