/**
 * Screenshots of the runs table and the comparison for the README:
 * `deno run -A tools/screenshot_runs.ts --runs DIR [--out docs]` (Debian's Chromium through
 * playwright-core, as `dashboard/screenshot.ts`). The comparison shows every run of the folder.
 *
 * @module
 */
import { join } from "node:path";
import { serveDashboard } from "../dashboard/serve.ts";
import { CHROMIUM_PATH, launchChromium } from "../dashboard/chromium.ts";
import { RunIndex } from "../core/run/index.ts";
import { parseFlagsOrExit } from "../core/flags.ts";

const { values: flags } = parseFlagsOrExit(
  Deno.args,
  "Usage: deno run -A tools/screenshot_runs.ts [--runs DIR] [--out DIR] [--chromium PATH]",
  {
    runs: { type: "string" },
    out: { type: "string" },
    chromium: { type: "string" },
    help: { type: "boolean", short: "h" },
  },
);
const values = {
  runs: flags.runs ?? "runs",
  out: flags.out ?? "docs",
  chromium: flags.chromium ?? CHROMIUM_PATH,
};
const ids = (await new RunIndex(values.runs).summaries()).map((s) => s.id).slice(0, 10);
const ac = new AbortController();
const { url } = serveDashboard({ runsDir: values.runs, port: 0, signal: ac.signal });
const browser = await launchChromium(values.chromium);
try {
  const page = await browser.newPage({ viewport: { width: 1600, height: 520 } });
  await page.goto(url);
  await page.waitForSelector("[data-testid=run-table] tbody tr");
  await page.waitForTimeout(300);
  await page.screenshot({ path: join(values.out, "runs-table.png") });
  await page.setViewportSize({ width: 1280, height: 1250 });
  await page.goto(`${url}#/compare?runs=${ids.map(encodeURIComponent).join(",")}&metric=val_acc`);
  await page.waitForSelector("[data-testid=parallel-coords] polyline");
  await page.waitForTimeout(800);
  await page.screenshot({ path: join(values.out, "runs-compare.png"), fullPage: true });
  console.log(`wrote ${join(values.out, "runs-table.png")} and runs-compare.png`);
} finally {
  await browser.close();
  ac.abort();
}
