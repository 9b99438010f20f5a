/**
 * Exports checked by plain tfjs, not by convdeck's loader: a run trained by `deno task train`
 * is exported by `deno task export` (float32, float16, uint8), then
 * - Node 20 with `@tensorflow/tfjs` from npm (cpu backend, installed into
 *   `.cache/node-export/`) loads each export over HTTP with `tf.loadLayersModel`, preprocesses
 *   PNG files with the export's own `preprocess.js`, and must match `deno task predict --json`
 *   on the same files: float32 with the same top-1 and probabilities within 1e-4; the
 *   quantized exports' top-1 agreement is printed, and their probabilities must stay near
 *   float32's (a wrong dequantization gives noise);
 * - Chromium serves the float32 export statically, opens index.html, drops one image and picks
 *   the others, and reads the same top-1 (and probabilities within 1e-4) from the page as
 *   predict.
 *
 * The 32x32 images have the model's size (decode and preprocessing identical everywhere);
 * the 80x60 one takes the resize path (sharp's lanczos3 in predict, preprocess.js's area
 * average elsewhere): its agreement is printed, not required.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { CHROMIUM_PATH, launchChromium } from "../dashboard/chromium.ts";
import {
  argmax,
  exportTask,
  predictJson,
  ROOT,
  trainTinyDefault,
  writeTestImages,
} from "./helpers/export_fixture.ts";

const NODE_DIR = join(ROOT, ".cache", "node-export");
const TFJS = "4.22.0";
/** The sharp the README's Node snippet uses (the one convdeck pins). */
const SHARP = "0.35.5";

/** Installs plain tfjs and a PNG decoder for Node into .cache/node-export (once). */
async function ensureNodeTfjs(): Promise<void> {
  const pkg = join(NODE_DIR, "node_modules", "@tensorflow", "tfjs", "package.json");
  const have = await Deno.readTextFile(pkg).then((t) => JSON.parse(t).version).catch(() => null);
  const missing = async (name: string) =>
    !(await Deno.stat(join(NODE_DIR, "node_modules", name)).catch(() => null));
  if (have !== TFJS || await missing("fast-png") || await missing("sharp")) {
    await Deno.mkdir(NODE_DIR, { recursive: true });
    const out = await new Deno.Command("npm", {
      args: [
        "install",
        "--no-audit",
        "--no-fund",
        "--save-exact",
        "--loglevel=error",
        "--prefix",
        NODE_DIR,
        `@tensorflow/tfjs@${TFJS}`,
        "fast-png@8.0.0",
        `sharp@${SHARP}`,
      ],
      stdout: "piped",
      stderr: "piped",
    }).output();
    if (!out.success) {
      throw new Error(`npm install failed: ${new TextDecoder().decode(out.stderr)}`);
    }
  }
  await Deno.copyFile(
    join(ROOT, "tests", "helpers", "node_classify.mjs"),
    join(NODE_DIR, "node_classify.mjs"),
  );
}

/** Classifies `images` with the export in `dir` in Node. */
async function nodeClassify(dir: string, images: string[]): Promise<Map<string, number[]>> {
  const out = await new Deno.Command("node", {
    args: [join(NODE_DIR, "node_classify.mjs"), dir, ...images],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder().decode(out.stdout);
  if (!out.success) throw new Error(`node failed: ${new TextDecoder().decode(out.stderr)}`);
  const doc = JSON.parse(text.split("\n").find((l) => l.startsWith("{"))!);
  assert.equal(doc.backend, "cpu");
  assert.equal(doc.tensors, 0, "the Node script leaves no tensors");
  return new Map(
    doc.results.map((r: { name: string; probabilities: number[] }) => [r.name, r.probabilities]),
  );
}

interface Fixture {
  tmp: string;
  runDir: string;
  images: string[];
  predicted: Map<string, number[]>;
  exports: Record<string, string>;
}

let fixture: Promise<Fixture> | undefined;

/** Trains, writes the images, predicts, exports three ways (once for this file). */
function setUp(): Promise<Fixture> {
  fixture ??= (async () => {
    const tmp = await Deno.makeTempDir({ prefix: "convdeck-export-tfjs-" });
    if (!Deno.env.get("KEEP_EXPORT_TEST")) {
      globalThis.addEventListener("unload", () => Deno.removeSync(tmp, { recursive: true }));
    }
    const runs = join(tmp, "runs");
    const id = await trainTinyDefault(runs);
    const images = await writeTestImages(join(tmp, "images"), 8);
    const predicted = await predictJson(join(runs, id), images);
    const exports: Record<string, string> = {};
    for (const q of ["float32", "float16", "uint8"]) {
      const out = join(tmp, "exports", q);
      const r = await exportTask(runs, id, out, ...(q === "float32" ? [] : ["--quantize", q]));
      assert.equal(r.code, 0, r.stderr);
      exports[q] = out;
    }
    return { tmp, runDir: join(runs, id), images, predicted, exports };
  })();
  return fixture;
}

const exact = (name: string) => !name.startsWith("photo");

Deno.test({
  name:
    "Node + plain @tensorflow/tfjs: float32 export = predict (top-1, probs within 1e-4); float16/uint8 top-1 agreement",
  sanitizeResources: false,
  async fn() {
    const f = await setUp();
    await ensureNodeTfjs();
    const report: string[] = [];
    for (const [q, dir] of Object.entries(f.exports)) {
      const got = await nodeClassify(dir, f.images);
      assert.equal(got.size, f.images.length);
      let agree = 0, maxDiff = 0;
      for (const [name, want] of f.predicted) {
        const probs = got.get(name)!;
        assert.ok(probs, `no Node result for ${name}`);
        assert.ok(
          Math.abs(probs.reduce((a, b) => a + b, 0) - 1) < 1e-4,
          `${q} ${name}: probabilities sum to 1`,
        );
        const same = argmax(probs) === argmax(want);
        if (same) agree++;
        if (exact(name)) maxDiff = Math.max(maxDiff, ...probs.map((p, i) => Math.abs(p - want[i])));
        if (q === "float32" && exact(name)) {
          assert.ok(
            same,
            `float32 ${name}: Node top-1 ${argmax(probs)} != predict's ${argmax(want)}`,
          );
          probs.forEach((p, i) =>
            assert.ok(
              Math.abs(p - want[i]) <= 1e-4,
              `float32 ${name} class ${i}: ${p} vs ${want[i]}`,
            )
          );
        }
      }
      report.push(
        `${q}: top-1 agreement with predict ${agree}/${f.predicted.size}, max |prob diff| ${
          maxDiff.toExponential(2)
        } (model-size images)`,
      );
      // A wrong dequantization gives noise, not near-equal probabilities.
      if (q === "float16") assert.ok(maxDiff < 0.02, `float16 probabilities drift ${maxDiff}`);
      if (q === "uint8") assert.ok(maxDiff < 0.25, `uint8 probabilities drift ${maxDiff}`);
    }
    console.log(report.join("\n"));
  },
});

Deno.test({
  name:
    "Chromium: the exported page, served statically, shows predict's top-1 (probs within 1e-4) for dropped and picked images; the README's browser snippet runs",
  ignore: !(await Deno.stat(CHROMIUM_PATH).catch(() => null)),
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const f = await setUp();
    const dir = f.exports.float32;
    // The export README's browser snippet, as written, in a page with one image.
    const readme = await Deno.readTextFile(join(dir, "README.md"));
    const inBrowser = readme.slice(readme.indexOf("## In the browser"));
    const snippet = inBrowser.slice(inBrowser.indexOf("```js\n") + 6, inBrowser.indexOf("```\n\n"));
    const extra = new Map<string, Uint8Array<ArrayBuffer>>([
      ["snippet-image.png", await Deno.readFile(f.images[0])],
      [
        "snippet.html",
        new TextEncoder().encode(
          `<!doctype html><img src="snippet-image.png"><script src="tf.min.js"></script>` +
            `<script type="module">${snippet}</script>`,
        ),
      ],
    ]);
    const ac = new AbortController();
    const server = Deno.serve(
      { port: 0, hostname: "127.0.0.1", signal: ac.signal, onListen() {} },
      async (req) => {
        const name = new URL(req.url).pathname.slice(1) || "index.html";
        if (name.includes("/") || name.startsWith(".")) return new Response("no", { status: 404 });
        const body = extra.get(name) ?? await Deno.readFile(join(dir, name)).catch(() => null);
        if (!body) return new Response("not found", { status: 404 });
        const type = name.endsWith(".html")
          ? "text/html"
          : name.endsWith(".js")
          ? "text/javascript"
          : name.endsWith(".json")
          ? "application/json"
          : "application/octet-stream";
        return new Response(body, { headers: { "Content-Type": type } });
      },
    );
    const browser = await launchChromium();
    try {
      const page = await browser.newPage();
      const errors: string[] = [];
      page.on("pageerror", (e) => errors.push(e.message));
      await page.goto(`http://127.0.0.1:${server.addr.port}/index.html`);
      await page.waitForSelector("body[data-ready=true]", { timeout: 60_000 });
      // One image dropped on the drop zone (a real DataTransfer with a File), the rest picked.
      const [first, ...rest] = f.images;
      const dropped = {
        name: first.split("/").at(-1)!,
        b64: btoa(String.fromCharCode(...await Deno.readFile(first))),
      };
      // (A string: this file is type-checked without the DOM library.)
      await page.evaluate(`(() => {
        const bytes = Uint8Array.from(atob(${JSON.stringify(dropped.b64)}), (c) => c.charCodeAt(0));
        const dt = new DataTransfer();
        dt.items.add(new File([bytes], ${JSON.stringify(dropped.name)}, { type: "image/png" }));
        document.getElementById("drop").dispatchEvent(
          new DragEvent("drop", { dataTransfer: dt, bubbles: true, cancelable: true }),
        );
      })()`);
      await page.waitForSelector(`body[data-done="1"]`, { timeout: 60_000 });
      await page.setInputFiles("#files", rest);
      await page.waitForSelector(`body[data-done="${f.images.length}"]`, { timeout: 60_000 });
      type Card = { dataset: Record<string, string | undefined> };
      const shown = await page.$$eval("article.result", (els) =>
        els.map((e) => {
          const d = (e as unknown as Card).dataset;
          return [d.name, d.top1 ?? `error: ${d.error}`, d.probs ?? "[]"];
        }));
      await page.screenshot({ path: join(f.tmp, "export-page.png"), fullPage: true });
      const classes = JSON.parse(await Deno.readTextFile(join(dir, "metadata.json"))).classes;
      const byName = new Map(
        shown.map(([n, top1, probs]) => [n, { top1, probs: JSON.parse(probs!) }]),
      );
      let agree = 0, maxDiff = 0;
      for (const [name, want] of f.predicted) {
        const got = byName.get(name);
        assert.ok(got, `no card for ${name}`);
        if (got.top1 === classes[argmax(want)]) agree++;
        else if (exact(name)) {
          assert.fail(`page shows ${got.top1} for ${name}, predict ${classes[argmax(want)]}`);
        }
        if (exact(name)) {
          maxDiff = Math.max(maxDiff, ...want.map((p, i) => Math.abs(p - got.probs[i])));
        }
      }
      console.log(
        `page top-1 = predict's for ${agree}/${f.predicted.size} images, max |prob diff| ` +
          `${maxDiff.toExponential(2)} on model-size images (screenshot ${
            join(f.tmp, "export-page.png")
          })`,
      );
      // The page's backend (webgl, else cpu) computes in float32 like predict's cpu.
      assert.ok(maxDiff <= 1e-4, `page probabilities differ from predict's by ${maxDiff}`);
      assert.deepEqual(errors, []);

      const snippetPage = await browser.newPage();
      const said: string[] = [];
      snippetPage.on("console", (m) => said.push(m.text()));
      const snippetErrors: string[] = [];
      snippetPage.on("pageerror", (e) => snippetErrors.push(e.message));
      await snippetPage.goto(`http://127.0.0.1:${server.addr.port}/snippet.html`);
      const name0 = f.images[0].split("/").at(-1)!;
      const want0 = classes[argmax(f.predicted.get(name0)!)];
      for (let i = 0; i < 600 && !said.includes(want0) && snippetErrors.length === 0; i++) {
        await new Promise((r) => setTimeout(r, 100));
      }
      assert.deepEqual(snippetErrors, [], "the README's browser snippet runs");
      assert.ok(
        said.includes(want0),
        `the browser snippet printed ${said.join(" | ")}, not ${want0}`,
      );
    } finally {
      await browser.close();
      ac.abort();
      await server.finished;
    }
  },
});

Deno.test({
  name:
    "the export's README Node snippet runs as written (plain tfjs + sharp from npm) and prints predict's top-1",
  sanitizeResources: false,
  async fn() {
    const f = await setUp();
    await ensureNodeTfjs();
    // An app folder inside .cache/node-export (so Node finds its node_modules), the export as
    // ./model/ as the snippet says, and the photo it reads.
    const app = await Deno.makeTempDir({ dir: NODE_DIR, prefix: "snippet-" });
    try {
      const dir = f.exports.float32;
      await Deno.mkdir(join(app, "model"));
      for await (const e of Deno.readDir(dir)) {
        await Deno.copyFile(join(dir, e.name), join(app, "model", e.name));
      }
      const readme = await Deno.readTextFile(join(dir, "README.md"));
      const node = readme.slice(readme.indexOf("## In Node"));
      const code = node.slice(
        node.indexOf("```js\n") + 6,
        node.indexOf("```", node.indexOf("```js") + 5),
      );
      assert.ok(code.split("\n").filter(Boolean).length <= 14, "a short snippet");
      await Deno.writeTextFile(join(app, "snippet.mjs"), code);
      const image = f.images[0];
      const { default: sharp } = await import("sharp");
      await sharp(await Deno.readFile(image)).jpeg({ quality: 100 }).toFile(join(app, "photo.jpg"));
      const out = await new Deno.Command("node", {
        args: ["snippet.mjs"],
        cwd: app,
        stdout: "piped",
        stderr: "piped",
      }).output();
      const printed = new TextDecoder().decode(out.stdout).trim().split("\n").at(-1);
      assert.ok(out.success, new TextDecoder().decode(out.stderr));
      // The JPEG is not the PNG predict saw: compare with predict on the JPEG itself.
      const jpeg = await predictJson(f.runDir, [join(app, "photo.jpg")]);
      const classes = JSON.parse(await Deno.readTextFile(join(dir, "metadata.json"))).classes;
      assert.equal(printed, classes[argmax(jpeg.get("photo.jpg")!)]);
    } finally {
      await Deno.remove(app, { recursive: true });
    }
  },
});
