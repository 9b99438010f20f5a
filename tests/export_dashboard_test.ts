/**
 * The dashboard's "Download model": `GET /api/runs/:id/export.zip` (the export as a zip, any
 * quantization, behind the Host check like every route, 422 without absolute paths for a run
 * that cannot be exported), the runs table's `model` column, the route working in the server
 * `deno task dashboard` starts with its limited permissions, and the button on the run page in
 * Chromium.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { unzipSync } from "fflate";
import * as tf from "@tensorflow/tfjs-core";
import { createDashboardApp } from "../dashboard/app.ts";
import { CHROMIUM_PATH, launchChromium } from "../dashboard/chromium.ts";
import { trainSyntheticRun } from "./helpers/predict_runs.ts";
import { readUntil } from "./helpers/read_until.ts";
import { EXPORT_FILES, ROOT } from "./helpers/export_fixture.ts";

let shared: Promise<{ root: string; runs: string; id: string }> | undefined;
function fixture() {
  shared ??= (async () => {
    const root = await Deno.makeTempDir({ prefix: "convdeck-export-dash-" });
    globalThis.addEventListener("unload", () => Deno.removeSync(root, { recursive: true }));
    const runDir = await trainSyntheticRun(root); // root/runs/<id>, one epoch
    const id = runDir.split("/").at(-1)!;
    // A second run with no weights at all.
    await Deno.mkdir(join(root, "runs", "noweights"));
    await Deno.copyFile(join(runDir, "run.json"), join(root, "runs", "noweights", "run.json"));
    return { root, runs: join(root, "runs"), id };
  })();
  return shared;
}

Deno.test({
  name:
    "dashboard: export.zip holds the export (uint8), bad quantize 400, no weights 422 without paths, Host checked, model column",
  sanitizeResources: false,
  async fn() {
    const { runs, id, root } = await fixture();
    const app = createDashboardApp({ runsDir: runs });
    const tensors = tf.memory().numTensors;
    const res = await app.request(`/api/runs/${id}/export.zip?quantize=uint8`);
    assert.equal(res.status, 200, await res.clone().text());
    assert.equal(tf.memory().numTensors, tensors, "exporting leaves no tensors behind");
    assert.equal(res.headers.get("content-type"), "application/zip");
    assert.match(res.headers.get("content-disposition") ?? "", new RegExp(`${id}-uint8\\.zip`));
    const files = unzipSync(new Uint8Array(await res.arrayBuffer()));
    const names = Object.keys(files).map((n) => n.replace(`${id}-uint8/`, "")).sort();
    assert.deepEqual(names, [...EXPORT_FILES]);
    const meta = JSON.parse(new TextDecoder().decode(files[`${id}-uint8/metadata.json`]));
    assert.equal(meta.quantization, "uint8");
    assert.equal(meta.run.id, id);

    const bad = await app.request(`/api/runs/${id}/export.zip?quantize=int4`);
    assert.equal(bad.status, 400);
    assert.match((await bad.json()).error, /quantize must be float32, uint8, uint16, float16/);

    const none = await app.request(`/api/runs/noweights/export.zip`);
    assert.equal(none.status, 422);
    const error = (await none.json()).error as string;
    assert.match(error, /cannot export this run: .*no checkpoint/);
    assert.ok(!error.includes(root), `no absolute path in ${error}`);

    const evil = await app.request(`http://evil.example/api/runs/${id}/export.zip`, {
      headers: { Host: "evil.example" },
    });
    assert.equal(evil.status, 403);
    const gated = createDashboardApp({ runsDir: runs, requireToken: true, token: "t0ken" });
    const noToken = await gated.request(`/api/runs/${id}/export.zip`);
    assert.ok(
      noToken.status === 401 || noToken.status === 403,
      `without the token: ${noToken.status}`,
    );
    await noToken.body?.cancel();
    const withToken = await gated.request(`/api/runs/${id}/export.zip?token=t0ken`);
    assert.notEqual(withToken.status, 401);
    assert.notEqual(withToken.status, 403);
    await withToken.body?.cancel();

    const table = await (await app.request("/api/runs")).json();
    const cells = Object.fromEntries(
      table.runs.map((r: { id: string; cells: { model: string } }) => [r.id, r.cells.model]),
    );
    assert.deepEqual(cells, { [id]: "yes", noweights: "none" });
    assert.ok(table.columns.some((c: { key: string }) => c.key === "model"));
  },
});

Deno.test({
  name:
    "deno task dashboard (its limited permissions) serves export.zip; the run page shows Download model",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const { runs, id, root } = await fixture();
    const child = new Deno.Command(Deno.execPath(), {
      args: ["task", "-q", "dashboard", "--runs", runs, "--port", "0"],
      cwd: ROOT,
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
    try {
      const { match } = await readUntil(reader, /http:\/\/\S+/);
      const base = match!.replace(/\/$/, "");
      const res = await fetch(`${base}/api/runs/${id}/export.zip?quantize=float16`);
      assert.equal(res.status, 200, await res.clone().text());
      const files = unzipSync(new Uint8Array(await res.arrayBuffer()));
      assert.ok(files[`${id}-float16/model.json`]);

      if (await Deno.stat(CHROMIUM_PATH).catch(() => null)) {
        const browser = await launchChromium();
        try {
          const page = await browser.newPage({ viewport: { width: 1100, height: 700 } });
          await page.goto(`${base}/#/run/${encodeURIComponent(id)}`);
          await page.waitForSelector("[data-testid=download-model-link]", { timeout: 30_000 });
          await page.selectOption("[data-testid=download-model-quantize]", "uint8");
          const href = await page.getAttribute("[data-testid=download-model-link]", "href");
          assert.equal(href, `/api/runs/${id}/export.zip?quantize=uint8`);
          const shot = join(Deno.env.get("EXPORT_SCREENSHOTS") ?? root, "run-page-download.png");
          await page.screenshot({ path: shot });
          console.log(`screenshot: ${shot}`);
          const download = page.waitForEvent("download");
          await page.click("[data-testid=download-model-link]");
          const file = await (await download).path();
          const zip = unzipSync(await Deno.readFile(file));
          assert.ok(zip[`${id}-uint8/metadata.json`], "the browser downloaded the zip");
        } finally {
          await browser.close();
        }
      }
    } finally {
      child.kill("SIGTERM");
      await reader.cancel();
      await child.stderr.cancel();
      await child.status;
    }
  },
});
