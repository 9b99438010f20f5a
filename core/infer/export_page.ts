/**
 * The texts of an export: its `index.html` (the page that classifies dropped or picked images;
 * its script is `app.js`, see `page/app.ts`) and its `README.md` with the Node and browser
 * snippets.
 *
 * @module
 */

/** What the texts say about the export. */
export interface ExportTexts {
  /** The run id. */
  runId: string;
  /** The checkpoint name. */
  checkpoint: string;
  /** `float32` or the quantization. */
  quantization: string;
  /** Class names. */
  classes: string[];
  /** Model input `[height, width, channels]`. */
  input: [number, number, number];
  /** The preprocessing, one line. */
  preprocessing: string;
  /** The vendored tfjs version. */
  tfjsVersion: string;
}

function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/**
 * The export's `index.html`: loads `tf.min.js` (vendored) and the module script `app.js`.
 *
 * @example
 * ```ts
 * import { exportIndexHtml } from "./export_page.ts";
 * const html = exportIndexHtml({ runId: "default-20261201-101010", checkpoint: "best", quantization: "uint8",
 *   classes: ["a", "b"], input: [32, 32, 3], preprocessing: "x / 255", tfjsVersion: "4.22.0" });
 * console.log(html.includes("app.js")); // true
 * ```
 */
export function exportIndexHtml(t: ExportTexts): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(t.runId)}: convdeck model</title>
<style>
  body { font: 15px/1.45 system-ui, sans-serif; margin: 0 auto; max-width: 860px; padding: 1.5rem;
    color: #1d2433; background: #f7f8fa; }
  h1 { font-size: 1.25rem; margin: 0 0 .25rem; }
  .facts { color: #5b6475; font-size: .85rem; margin: 0 0 1rem; }
  #drop { display: block; border: 2px dashed #9aa5b8; border-radius: 10px; padding: 2rem; text-align: center;
    background: #fff; }
  #drop.over { border-color: #2f6fde; background: #eef4ff; }
  #status { margin: .75rem 0; color: #2d6a3e; }
  #status.error { color: #b3261e; }
  .result { display: flex; gap: 1rem; align-items: flex-start; background: #fff; border-radius: 8px;
    padding: .75rem; margin: .75rem 0; box-shadow: 0 1px 2px #0001; }
  .result.error { color: #b3261e; }
  .result canvas { width: 96px; height: 96px; object-fit: contain; image-rendering: pixelated;
    border: 1px solid #dde2ea; flex: none; }
  .result h3 { margin: 0 0 .35rem; font-size: .95rem; word-break: break-all; }
  .result ol { list-style: none; margin: 0; padding: 0; min-width: 360px; }
  .result li { display: grid; grid-template-columns: 9rem 1fr 4rem; gap: .5rem; align-items: center;
    font-size: .85rem; }
  .result li.top { font-weight: 600; }
  .track { background: #e8ecf2; border-radius: 3px; height: .6rem; overflow: hidden; }
  .bar { background: #2f6fde; height: 100%; }
  .pct { text-align: right; font-variant-numeric: tabular-nums; }
</style>
<script src="tf.min.js"></script>
<script type="module" src="app.js"></script>
</head>
<body>
<h1 id="title">${escapeHtml(t.runId)}</h1>
<p class="facts">Classes: <span id="classes">${escapeHtml(t.classes.join(", "))}</span><br>
Input ${t.input.join("x")}; preprocessing: <span id="pre">${escapeHtml(t.preprocessing)}</span><br>
Everything runs in this page (TensorFlow.js ${escapeHtml(t.tfjsVersion)}); no image leaves it.</p>
<label id="drop">Drop images here, or <input id="files" type="file" accept="image/*" multiple></label>
<p id="status">loading the model...</p>
<section id="results"></section>
</body>
</html>
`;
}

/**
 * The export's `README.md`: what is in the folder and the 10-line Node and browser snippets.
 *
 * @example
 * ```ts
 * import { exportReadme } from "./export_page.ts";
 * const md = exportReadme({ runId: "r", checkpoint: "best", quantization: "float32", classes: ["a"],
 *   input: [32, 32, 3], preprocessing: "x / 255", tfjsVersion: "4.22.0" });
 * console.log(md.startsWith("# ")); // true
 * ```
 */
export function exportReadme(t: ExportTexts): string {
  const [h, w, c] = t.input;
  return `# ${t.runId} (${t.checkpoint}, ${t.quantization})

A convdeck model exported for TensorFlow.js ${t.tfjsVersion}: ${t.classes.length} classes
(${t.classes.join(", ")}), input ${h}x${w}x${c}.

| file | what |
| --- | --- |
| \`model.json\`, \`group1-shard*.bin\` | the model, as \`tf.loadLayersModel\` reads it${
    t.quantization === "float32"
      ? ""
      : ` (weights stored as ${t.quantization}, dequantized on load)`
  } |
| \`metadata.json\` | class names, input, preprocessing, run, checkpoint, versions |
| \`preprocess.js\` | decoded RGBA pixels to the model's input, exactly as training did |
| \`package.json\` | \`"type": "module"\`, so Node loads preprocess.js as an ES module |
| \`index.html\`, \`app.js\`, \`tf.min.js\` | a page that classifies dropped images, offline |

Preprocessing: ${t.preprocessing}.

## In the browser

Serve this folder with any static server (\`npx serve .\`, \`python3 -m http.server\`) and open
\`index.html\`. In your own page:

\`\`\`js
import { preprocessImage } from "./preprocess.js"; // after <script src="tf.min.js">: global tf
const meta = await (await fetch("metadata.json")).json();
const model = await tf.loadLayersModel("model.json");
const img = document.querySelector("img");
const { naturalWidth: width, naturalHeight: height } = img;
const ctx = new OffscreenCanvas(width, height).getContext("2d");
ctx.drawImage(img, 0, 0);
const { data } = ctx.getImageData(0, 0, width, height);
const x = preprocessImage({ data, width, height, channels: 4 }, meta.preprocessing);
const probs = await model.predict(tf.tensor4d(x, [1, ${h}, ${w}, ${c}])).data();
console.log(meta.classes[probs.indexOf(Math.max(...probs))]);
\`\`\`

## In Node

\`npm install @tensorflow/tfjs@${t.tfjsVersion} sharp\` (plain tfjs, its pure-JS cpu backend; any
decoder that gives RGBA pixels works, here sharp), with this folder as \`./model/\`:

\`\`\`js
import * as tf from "@tensorflow/tfjs";
import { readFile } from "node:fs/promises";
import sharp from "sharp";
import { preprocessImage } from "./model/preprocess.js";
const file = (f) => readFile(new URL(\`./model/\${f}\`, import.meta.url));
const meta = JSON.parse(await file("metadata.json")), json = JSON.parse(await file("model.json"));
const [{ paths, weights }] = json.weightsManifest;
const weightData = new Uint8Array(Buffer.concat(await Promise.all(paths.map(file)))).buffer;
const model = await tf.loadLayersModel(tf.io.fromMemory({ ...json, weightSpecs: weights, weightData }));
const img = await sharp("photo.jpg").rotate().ensureAlpha().raw().toBuffer({ resolveWithObject: true });
const x = preprocessImage({ ...img.info, data: img.data, channels: 4 }, meta.preprocessing);
const probs = await model.predict(tf.tensor4d(x, [1, ${h}, ${w}, ${c}])).data();
console.log(meta.classes[probs.indexOf(Math.max(...probs))]);
\`\`\`
`;
}
