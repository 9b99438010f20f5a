/// <reference lib="dom" />
/**
 * Acceptance: the dashboard as users launch it. `deno task dashboard --runs <fixture> --port 0`
 * runs as a subprocess with its deno.json permissions (the launcher and its server child), and
 * headless Debian Chromium goes through every page: the runs table, a grouped table, the
 * comparison, a run's tabs (curves, what it learned, evaluation, Try it with a real upload to
 * a really trained run), the sweeps and a sweep, and a run that dies while its page is open
 * (crashed arrives over the live stream). Any console error, page error, failed request,
 * 4xx/5xx answer or missing element fails it, and each page's screenshot is compared with its
 * baseline in `tests/baselines/` (`deno task baseline-ui` re-baselines). Skipped when Chromium
 * is absent.
 */
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { join } from "node:path";
import type { Page } from "playwright-core";
import { CHROMIUM_PATH, launchChromium } from "../dashboard/chromium.ts";
import { FIXTURE_IDS as F } from "./helpers/runs_fixture.ts";
import { TRAINED_ID, writeAcceptanceRuns } from "./helpers/acceptance_runs.ts";
import { checkBaseline } from "./helpers/screenshot_baseline.ts";
import { readUntil } from "./helpers/read_until.ts";
import { writeFakeRun } from "./helpers/fake_run.ts";
import { HEARTBEAT_STALE_MS, thisHost } from "../core/run/lock.ts";
import { RUN_FILES } from "../core/run/format.ts";

const REPO = fileURLToPath(new URL("..", import.meta.url));
const hasChromium = await Deno.stat(CHROMIUM_PATH).then(() => true, () => false);
if (!hasChromium) console.warn(`SKIPPED dashboard acceptance test: ${CHROMIUM_PATH} not found`);

/** Starts `deno task dashboard` the way a user does; resolves with its URL. */
async function startDashboardTask(runsDir: string) {
  const child = new Deno.Command("deno", {
    args: ["task", "dashboard", "--runs", runsDir, "--port", "0"],
    cwd: REPO,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const stderr: string[] = [];
  const errDone = child.stderr.pipeThrough(new TextDecoderStream()).pipeTo(
    new WritableStream({ write: (t) => void stderr.push(t) }),
  );
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  const { match } = await readUntil(reader, /http:\/\/127\.0\.0\.1:\d+\//);
  if (!match) throw new Error(`deno task dashboard printed no URL:\n${stderr.join("")}`);
  return {
    url: match,
    stderr,
    async stop() {
      child.kill("SIGINT");
      await child.status;
      await reader.cancel().catch(() => {});
      await errDone.catch(() => {});
    },
  };
}

/** Everything that went wrong on the page, collected while the test walks it. */
function watch(page: Page, base: string, expected: (url: string, status: number) => boolean) {
  const problems: string[] = [];
  page.on("console", (m) => {
    if (m.type() !== "error") return;
    // An intended error answer is also logged by Chromium, naming its status.
    const status = /status of (\d{3})/.exec(m.text())?.[1];
    if (status && expected(m.location().url, Number(status))) return;
    problems.push(`console error: ${m.text()} (${m.location().url})`);
  });
  page.on("pageerror", (e) => problems.push(`page error: ${e.message}`));
  page.on("requestfailed", (r) => {
    const err = r.failure()?.errorText ?? "";
    // The page closes its own live stream when it leaves a run page.
    if (err === "net::ERR_ABORTED" && /\/stream(\?|$)/.test(r.url())) return;
    problems.push(`request failed: ${r.method()} ${r.url()} ${err}`);
  });
  page.on("response", (r) => {
    if (r.status() >= 400 && !expected(r.url(), r.status())) {
      problems.push(`HTTP ${r.status()}: ${r.request().method()} ${r.url()}`);
    }
  });
  page.on("request", (r) => {
    const u = r.url();
    if (!u.startsWith(base) && !u.startsWith("blob:") && !u.startsWith("data:")) {
      problems.push(`request outside the dashboard: ${u}`);
    }
  });
  return problems;
}

Deno.test({
  name: "deno task dashboard in Chromium: every page, Try it with a real upload, screenshots",
  ignore: !hasChromium,
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const root = await Deno.makeTempDir({ prefix: "convdeck-acceptance-" });
    const { runsDir, testImages } = await writeAcceptanceRuns(root);
    const dash = await startDashboardTask(runsDir);
    const browser = await launchChromium();
    const mismatches: string[] = [];
    try {
      const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
      // The one intended error answer: the bad query of a shared link (checked below).
      let badQueryAllowed = false;
      const problems = watch(
        page,
        dash.url,
        (u, s) => badQueryAllowed && s === 400 && /\/api\/runs\?.*q=/.test(u),
      );
      const shot = async (name: string, tolerance?: number) => {
        await page.evaluate(() => document.fonts.ready);
        await page.waitForTimeout(300);
        const png = await page.screenshot({ fullPage: true, animations: "disabled" });
        const problem = await checkBaseline(name, png, tolerance);
        if (problem) mismatches.push(problem);
      };
      const see = (selector: string) => page.waitForSelector(selector, { timeout: 15_000 });

      // The runs table.
      await page.goto(dash.url);
      await see(`[data-testid=run-table] tbody tr[data-run="${TRAINED_ID}"]`);
      assert.ok((await page.$$("[data-testid=run-table] tbody tr")).length >= 8);
      await see(`tr[data-run="${F.killed}"] .status.crashed`);
      // The stylesheet is whole: a crashed status is red (a rule after the old missing `}`).
      const crashedColor = await page.$eval(
        `tr[data-run="${F.killed}"] .status.crashed`,
        (e) => getComputedStyle(e).color,
      );
      assert.equal(crashedColor, "rgb(191, 54, 12)", "the stylesheet's rules all apply");
      await shot("runs-table");

      // Grouped.
      await page.goto(`${dash.url}#/?group=optimizer`);
      await see("[data-testid=group-table] tbody tr");
      await shot("runs-grouped");

      // A shared link with a bad query shows the error, not "Loading..." for ever.
      badQueryAllowed = true;
      await page.goto(`${dash.url}#/?q=${encodeURIComponent("lr <")}`);
      await see("[data-testid=query-error]");
      await page.waitForTimeout(3500); // the list used to poll again every 3 s
      assert.doesNotMatch(await page.textContent("main") ?? "", /Loading/);
      badQueryAllowed = false;

      // The comparison.
      const ids = [F.lrSmall, F.lrMid, F.lrBig, F.sgd, TRAINED_ID];
      await page.goto(`${dash.url}#/compare?runs=${ids.join(",")}&metric=val_acc`);
      await see("[data-testid=parallel-coords] polyline");
      await see("[data-testid=diff-table]");
      // Every axis name of the parallel coordinates inside the chart, none over another.
      const labels = await page.$$eval("[data-testid=parallel-coords] .pc-label", (ts) => {
        const svg = ts[0].closest("svg")!.getBoundingClientRect();
        return ts.map((t) => {
          const r = t.getBoundingClientRect();
          return {
            l: r.left - svg.left,
            r: r.right - svg.left,
            t: r.top,
            b: r.bottom,
            w: svg.width,
          };
        });
      });
      assert.ok(labels.length >= 5);
      for (const [i, a] of labels.entries()) {
        assert.ok(a.l >= 0 && a.r <= a.w, `axis name ${i} clipped: ${JSON.stringify(a)}`);
        for (const b of labels.slice(i + 1)) {
          const overlap = a.l < b.r && b.l < a.r && a.t < b.b && b.t < a.b;
          assert.ok(!overlap, `axis names overlap: ${JSON.stringify([a, b])}`);
        }
      }
      // The learning rate's axis is logarithmic: 0.001..0.05 has its middle tick near 0.007.
      const lrTicks = await page.$$eval(
        "[data-testid=parallel-coords] [data-axis=learningRate] .pc-tick",
        (ts) => ts.map((t) => Number(t.textContent)),
      );
      assert.ok(lrTicks.includes(0.00707), JSON.stringify(lrTicks));
      await shot("compare");

      // The trained run's page and its tabs.
      await page.goto(`${dash.url}#/run/${TRAINED_ID}`);
      await see("[data-testid=chart-loss]");
      await see("[data-testid=events]");
      assert.equal(await page.$("[data-testid=run-live]"), null, "no '● live' on a completed run");
      await shot("run-curves");
      await page.click("[data-testid=tab-learned]");
      await see("[data-testid=filters-mosaic]");
      await shot("run-learned");
      await page.click("[data-testid=tab-evaluation]");
      await see("[data-testid=evaluation]");
      await shot("run-evaluation");
      await page.click("[data-testid=tab-predict]");
      await see("[data-testid=predict-info]");
      await page.setInputFiles("[data-testid=predict-input]", testImages.slice(0, 2));
      await page.locator("[data-testid=prediction] [data-testid=predict-gradcam]").nth(1).waitFor({
        timeout: 60_000,
      });
      assert.equal(await page.$$eval("[data-testid=topk]", (t) => t.length), 2);
      assert.equal(await page.$("[data-testid=predict-error]"), null);
      await shot("run-predict");

      // A class without test images reads "no images", not 0%.
      await page.goto(`${dash.url}#/run/${F.lrMid}`);
      await page.click("[data-testid=tab-evaluation]");
      await see("[data-testid=class-no-images]");
      assert.equal(await page.textContent("[data-testid=class-no-images]"), "no images");

      // Sweeps.
      await page.goto(`${dash.url}#/sweeps`);
      await see("[data-testid=sweep-table] tbody tr");
      await shot("sweeps");
      await page.goto(`${dash.url}#/sweep/s-0123abcd`);
      await see("[data-testid=trial-table] tbody tr");
      await shot("sweep");

      // A run whose process dies while its page is open turns crashed by itself (the live
      // stream's state event; the page polls nothing). Its heartbeat goes stale in a few
      // seconds (the server may not look into /proc under its permissions).
      const dying = await writeFakeRun(runsDir, { id: "dying", status: "running", epochs: 2 });
      const beat = {
        host: thisHost(),
        pid: 2 ** 22 + 77,
        token: "t",
        since: Date.now() - HEARTBEAT_STALE_MS + 6000,
        time: Date.now() - HEARTBEAT_STALE_MS + 6000,
      };
      await Deno.writeTextFile(join(dying, RUN_FILES.heartbeat), JSON.stringify(beat));
      await page.goto(`${dash.url}#/run/dying`);
      await see("[data-testid=run-live]");
      assert.equal(await page.textContent("[data-testid=run-status]"), "running");
      await page.waitForSelector("[data-testid=crashed-banner]", { timeout: 20_000 });
      assert.equal(await page.textContent("[data-testid=run-status]"), "crashed");
      assert.equal(await page.$("[data-testid=run-live]"), null);
      assert.match(
        await page.textContent("[data-testid=resume-command]") ?? "",
        /^deno task train --resume \S*dying$/,
      );

      assert.deepEqual(problems, [], problems.join("\n"));
      assert.deepEqual(mismatches, [], mismatches.join("\n"));
    } finally {
      await browser.close();
      await dash.stop();
    }
  },
});
