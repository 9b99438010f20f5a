/// <reference lib="dom" />
/**
 * End-to-end in headless Debian Chromium: the runs table (filter by query, sort, group,
 * column chooser, archived hidden, state in the URL), tags and notes edited from the page, a
 * killed run shown as crashed with its resume command, and the comparison (metric picker,
 * differing-parameters table, parallel coordinates with brushing). Skipped when Chromium is
 * absent.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { CHROMIUM_PATH, launchChromium } from "../dashboard/chromium.ts";
import { serveDashboard } from "../dashboard/mod.ts";
import { DEAD_PID, FIXTURE_IDS as F, writeRunsFixture } from "./helpers/runs_fixture.ts";
import { writeFakeRun } from "./helpers/fake_run.ts";
import { thisHost } from "../core/run/lock.ts";
import type { Page } from "playwright-core";

const hasChromium = await Deno.stat(CHROMIUM_PATH).then(() => true, () => false);
if (!hasChromium) console.warn(`SKIPPED runs table e2e test: ${CHROMIUM_PATH} not found`);

/** Ids of the table's rows, in order. */
function rowIds(page: Page): Promise<string[]> {
  return page.$$eval(
    "[data-testid=run-table] tbody tr",
    (trs) => trs.map((tr) => tr.getAttribute("data-run")!),
  );
}

async function waitRows(page: Page, ids: string[]) {
  await page.waitForFunction(
    (want) =>
      JSON.stringify(
        [...document.querySelectorAll("[data-testid=run-table] tbody tr")].map((tr) =>
          tr.getAttribute("data-run")
        ),
      ) === want,
    JSON.stringify(ids),
    { timeout: 5000 },
  ).catch(async () => {
    assert.deepEqual(await rowIds(page), ids);
  });
}

Deno.test({
  name: "runs table and comparison in Chromium",
  ignore: !hasChromium,
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const root = await writeRunsFixture(await Deno.makeTempDir());
    await Deno.writeTextFile(join(root, F.lrBig, "meta.json"), "{broken");
    const ac = new AbortController();
    const { url } = serveDashboard({ runsDir: root, port: 0, signal: ac.signal });
    const browser = await launchChromium();
    try {
      const page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
      const pageErrors: string[] = [];
      page.on("pageerror", (e) => pageErrors.push(String(e)));
      page.on("dialog", (d) => d.accept());

      // The table: newest first, archived hidden, the killed run crashed.
      await page.goto(url);
      await waitRows(page, [F.killed, F.sgd, F.lrBig, F.lrMid, F.lrSmall]);
      assert.match(await page.textContent("[data-testid=list-summary]") ?? "", /1 archived hidden/);
      const killedStatus = page.locator(`tr[data-run="${F.killed}"] td[data-col=status] span`);
      assert.equal(await killedStatus.textContent(), "crashed");
      assert.match(await killedStatus.getAttribute("title") ?? "", /deno task train --resume /);
      // Hyperparameter and metric columns are there by default.
      assert.equal(
        await page.textContent(`tr[data-run="${F.sgd}"] td[data-col=optimizer]`),
        "sgd",
      );
      assert.equal(
        await page.textContent(`tr[data-run="${F.lrSmall}"] td[data-col="best.val_acc"]`),
        "0.945",
      );

      // A corrupt sidecar: the run is listed, with the problem under its id; editing it from
      // its page is refused with the reason, and nothing is written.
      assert.match(
        await page.textContent(`tr[data-run="${F.lrBig}"] [data-testid=meta-problem]`) ?? "",
        /meta\.json is corrupt/,
      );
      await page.goto(`${url}#/run/${F.lrBig}`);
      await page.waitForSelector("[data-testid=meta-error]");
      await page.fill("[data-testid=tag-input]", "x");
      await page.click("[data-testid=add-tag]");
      await page.waitForFunction(() =>
        /nothing was changed/.test(
          document.querySelector("[data-testid=meta-error]")?.textContent ?? "",
        )
      );
      assert.equal(await Deno.readTextFile(join(root, F.lrBig, "meta.json")), "{broken");
      await Deno.remove(join(root, F.lrBig, "meta.json"));
      await page.goto(url);
      await waitRows(page, [F.killed, F.sgd, F.lrBig, F.lrMid, F.lrSmall]);

      // Filter by query; a bad query shows the error pointing at the token.
      await page.fill(
        "[data-testid=query]",
        "lr < 0.01 and val_acc > 0.9 and tag = baseline and status != crashed",
      );
      await page.click("[data-testid=apply-query]");
      await waitRows(page, [F.lrMid, F.lrSmall]);
      assert.equal(
        new URLSearchParams(new URL(page.url()).hash.split("?")[1]).get("q"),
        "lr < 0.01 and val_acc > 0.9 and tag = baseline and status != crashed",
      );
      await page.fill("[data-testid=query]", "lr < < 1");
      await page.click("[data-testid=apply-query]");
      await page.waitForSelector("[data-testid=query-error]");
      assert.match(
        await page.textContent("[data-testid=query-error]") ?? "",
        /expected a value, got "<" \(at character 6: "< 1"\)/,
      );
      await page.fill("[data-testid=query]", "");
      await page.click("[data-testid=apply-query]");
      await waitRows(page, [F.killed, F.sgd, F.lrBig, F.lrMid, F.lrSmall]);

      // Sort by a hyperparameter column, ascending then descending.
      await page.click("[data-testid=sort-learningRate]");
      await waitRows(page, [F.lrBig, F.sgd, F.lrMid, F.killed, F.lrSmall]);
      await page.click("[data-testid=sort-learningRate]");
      await waitRows(page, [F.lrSmall, F.killed, F.lrMid, F.sgd, F.lrBig]);
      assert.match(page.url(), /sort=learningRate/);

      // The state lives in the URL: a fresh page with the same URL shows the same view.
      const shared = page.url();
      const other = await browser.newPage();
      await other.goto(shared);
      await waitRows(other, [F.lrSmall, F.killed, F.lrMid, F.sgd, F.lrBig]);
      await other.close();

      // Column chooser: hide optimizer, show last.images_per_s.
      await page.click("[data-testid=column-chooser] summary");
      await page.click("[data-testid=column-chooser] input[data-column=optimizer]");
      await page.click('[data-testid=column-chooser] input[data-column="last.images_per_s"]');
      await page.waitForSelector(`tr[data-run="${F.sgd}"] td[data-col="last.images_per_s"]`);
      assert.equal(await page.locator("td[data-col=optimizer]").count(), 0);
      assert.equal(
        await page.textContent(`tr[data-run="${F.sgd}"] td[data-col="last.images_per_s"]`),
        "732",
      );
      assert.match(page.url(), /cols=/);
      await page.click("[data-testid=column-chooser] summary");

      // Group by optimizer: count and mean/min/max.
      await page.selectOption("[data-testid=group-by]", "optimizer");
      await page.waitForSelector("[data-testid=group-table]");
      const adam = page.locator('tr[data-group="adam"]');
      assert.equal(await adam.locator("td[data-col=count]").textContent(), "4");
      assert.match(
        await adam.locator("td[data-col=learningRate]").textContent() ?? "",
        /0\.01475 \(0\.001–0\.05\)/,
      );
      await page.selectOption("[data-testid=group-by]", "");
      await page.waitForSelector("[data-testid=run-table]");

      // Tag and note from the run page; both show up in the table and in queries.
      await page.goto(`${url}#/run/${F.lrBig}`);
      await page.waitForSelector("[data-testid=run-meta]");
      await page.fill("[data-testid=tag-input]", "too-fast");
      await page.click("[data-testid=add-tag]");
      await page.waitForSelector("[data-testid=untag-too-fast]");
      await page.fill("[data-testid=note-input]", "loss exploded at epoch 2");
      await page.click("[data-testid=save-note]");
      await page.waitForFunction(() =>
        document.querySelector("[data-testid=meta-message]")?.textContent === "note saved"
      );
      const meta = JSON.parse(await Deno.readTextFile(join(root, F.lrBig, "meta.json")));
      assert.deepEqual(meta.tags, ["too-fast"]);
      assert.equal(meta.note, "loss exploded at epoch 2");
      await page.goto(`${url}#/?q=${encodeURIComponent('tag = too-fast and note ~ "exploded"')}`);
      await waitRows(page, [F.lrBig]);

      // Archive from the page: the run disappears from the table unless archived are shown.
      await page.goto(`${url}#/run/${F.lrBig}`);
      await page.waitForSelector("[data-testid=archive]");
      await page.click("[data-testid=archive]");
      await page.waitForFunction(() =>
        document.querySelector("[data-testid=archive]")?.textContent === "Unarchive"
      );
      await page.goto(url);
      await waitRows(page, [F.killed, F.sgd, F.lrMid, F.lrSmall]);
      await page.check("[data-testid=show-archived]");
      await waitRows(page, [F.killed, F.archived, F.sgd, F.lrBig, F.lrMid, F.lrSmall]);

      // The killed run's page: crashed with the resume command; delete is refused for
      // nothing here (it is crashed, so it may be deleted), but a running run's button is off.
      await page.goto(`${url}#/run/${F.killed}`);
      await page.waitForSelector("[data-testid=crashed-banner]");
      assert.equal(await page.textContent("[data-testid=run-status]"), "crashed");
      assert.match(
        await page.textContent("[data-testid=resume-command]") ?? "",
        new RegExp(`^deno task train --resume \\S*${F.killed}$`),
      );

      // Compare: select three runs from the table.
      await page.goto(url);
      await waitRows(page, [F.killed, F.sgd, F.lrMid, F.lrSmall]);
      for (const id of [F.sgd, F.lrMid, F.lrSmall]) {
        await page.check(`tr[data-run="${id}"] input[type=checkbox]`);
      }
      await page.click("[data-testid=compare-link]");
      await page.waitForSelector("[data-testid=diff-table] tbody tr");
      // Only the hyperparameters that differ: lr, width, optimizer, epochs; not seed etc.
      const headers = await page.$$eval(
        "[data-testid=diff-table] th",
        (ths) => ths.map((t) => t.textContent),
      );
      assert.deepEqual(headers, [
        "run",
        "epochs",
        "learningRate",
        "optimizer",
        "width",
        "best.val_acc",
      ]);
      assert.match(await page.textContent("h2") ?? "", /4 differ, \d+ the same/);
      // Any metric the runs have.
      const options = await page.$$eval(
        "[data-testid=metric-picker] option",
        (os) => os.map((o) => o.textContent),
      );
      assert.ok(options.includes("val_acc") && options.includes("lr"), String(options));
      await page.selectOption("[data-testid=metric-picker]", "val_acc");
      await page.waitForFunction(() =>
        Number(
          document.querySelector("[data-testid=chart-compare-val_acc]")?.getAttribute(
            "data-points",
          ),
        ) > 20
      );
      await page.check("[data-testid=log-y]");
      await page.selectOption("[data-testid=x-axis]", "wall");
      await page.waitForFunction(() =>
        location.hash.includes("x=wall") && location.hash.includes("log=1")
      );

      // Parallel coordinates: one line per run, brushing the metric axis filters the table.
      await page.waitForSelector("[data-testid=parallel-coords] polyline");
      assert.equal(await page.locator("[data-testid=parallel-coords] polyline").count(), 3);
      const axis = page.locator('[data-testid="axis-best.val_acc"]');
      const box = (await axis.boundingBox())!;
      // Drag from 30% below the top past the top: val_acc 0.945 (top) only; 0.9 and 0.925 lie
      // at the bottom and the middle.
      await page.mouse.move(box.x + box.width / 2, box.y + box.height * 0.3);
      await page.mouse.down();
      await page.mouse.move(box.x + box.width / 2, box.y - 10, { steps: 5 });
      await page.mouse.up();
      await page.waitForSelector('[data-testid="brush-best.val_acc"]');
      await page.waitForFunction(() =>
        document.querySelectorAll("[data-testid=diff-table] tbody tr").length === 1
      );
      assert.equal(
        await page.getAttribute("[data-testid=diff-table] tbody tr", "data-run"),
        F.lrSmall,
      );
      assert.equal(
        await page.locator('[data-testid=parallel-coords] polyline[data-selected="1"]').count(),
        1,
      );
      await axis.dblclick();
      await page.waitForFunction(() =>
        document.querySelectorAll("[data-testid=diff-table] tbody tr").length === 3
      );

      // A run whose process dies while its page is open turns crashed there (nothing is
      // written to the run: the page asks for the derived state).
      const live = await writeFakeRun(root, { id: "live-run", status: "running", epochs: 2 });
      const beat = (pid: number) =>
        Deno.writeTextFile(
          join(live, "heartbeat"),
          JSON.stringify({
            host: thisHost(),
            pid,
            token: "t",
            since: Date.now(),
            time: Date.now(),
          }),
        );
      await beat(Deno.pid);
      await page.goto(`${url}#/run/live-run`);
      await page.waitForSelector("[data-testid=run-status]");
      assert.equal(await page.textContent("[data-testid=run-status]"), "running");
      assert.ok(await page.isDisabled("[data-testid=delete]"), "a running run cannot be deleted");
      await beat(DEAD_PID);
      await page.waitForSelector("[data-testid=crashed-banner]", { timeout: 15_000 });
      assert.equal(await page.textContent("[data-testid=run-status]"), "crashed");
      assert.match(await page.textContent("[data-testid=resume-command]") ?? "", /live-run$/);

      assert.deepEqual(pageErrors, []);
    } finally {
      await browser.close();
      ac.abort();
    }
  },
});
