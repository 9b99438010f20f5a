/// <reference lib="dom" />
/**
 * The script of an exported model's page (`index.html` of `deno task export`), bundled into
 * the export as `app.js` by `deno task build-export-page`: loads `model.json` with the vendored
 * tfjs (`tf.min.js`, the global `tf`), reads `metadata.json`, and classifies dropped or picked
 * images with the shared preprocessing (`core/infer/preprocess.ts`), showing the top-k classes
 * with bars. Runs from any static server, offline.
 *
 * @module
 */
import type * as tfc from "@tensorflow/tfjs-core";
import type * as tfl from "@tensorflow/tfjs-layers";
import { preprocessImage, type PreprocessSpec } from "../preprocess.ts";

declare const tf: typeof tfc & { loadLayersModel: typeof tfl.loadLayersModel };

/** What the page reads from metadata.json. */
interface PageMetadata {
  classes: string[];
  input: { height: number; width: number; channels: 1 | 3 };
  preprocessing: PreprocessSpec & { description: string };
  run: { id: string };
  checkpoint: { name: string };
  quantization: string;
}

const TOP_K = 5;

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;

function el<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  props: Partial<HTMLElementTagNameMap[K]> = {},
  ...children: (Node | string)[]
): HTMLElementTagNameMap[K] {
  const e = Object.assign(document.createElement(tag), props);
  e.append(...children);
  return e;
}

/** Decodes a file to RGBA at its natural size (EXIF orientation applied). */
async function decode(file: Blob): Promise<ImageData> {
  const bitmap = await createImageBitmap(file, {
    imageOrientation: "from-image",
    premultiplyAlpha: "none",
    colorSpaceConversion: "none",
  });
  try {
    const canvas = new OffscreenCanvas(bitmap.width, bitmap.height);
    const ctx = canvas.getContext("2d", { willReadFrequently: true })!;
    ctx.drawImage(bitmap, 0, 0);
    return ctx.getImageData(0, 0, bitmap.width, bitmap.height);
  } finally {
    bitmap.close();
  }
}

async function classify(
  model: tfl.LayersModel,
  meta: PageMetadata,
  file: File,
): Promise<{ probs: Float32Array; image: ImageData }> {
  const image = await decode(file);
  const { height: h, width: w, channels: c } = meta.input;
  const x = preprocessImage(
    { data: image.data, width: image.width, height: image.height, channels: 4 },
    meta.preprocessing,
  );
  const input = tf.tensor4d(x, [1, h, w, c]);
  try {
    const out = model.predict(input) as tfc.Tensor;
    const probs = await out.data() as Float32Array;
    out.dispose();
    return { probs, image };
  } finally {
    input.dispose();
  }
}

function resultCard(name: string, probs: Float32Array, classes: string[], image: ImageData) {
  const order = Array.from(probs.keys()).sort((a, b) => probs[b] - probs[a] || a - b);
  const canvas = el("canvas", { width: image.width, height: image.height });
  canvas.getContext("2d")!.putImageData(image, 0, 0);
  const rows = order.slice(0, Math.min(TOP_K, classes.length)).map((i, rank) => {
    const pct = (probs[i] * 100).toFixed(1);
    const bar = el("div", { className: "bar" });
    bar.style.width = `${Math.max(0.5, probs[i] * 100)}%`;
    return el(
      "li",
      { className: rank === 0 ? "top" : "" },
      el("span", { className: "cls" }, classes[i]),
      el("span", { className: "track" }, bar),
      el("span", { className: "pct" }, `${pct}%`),
    );
  });
  const card = el(
    "article",
    { className: "result" },
    canvas,
    el("div", {}, el("h3", {}, name), el("ol", {}, ...rows)),
  );
  card.dataset.top1 = classes[order[0]];
  card.dataset.probs = JSON.stringify(Array.from(probs));
  card.dataset.name = name;
  return card;
}

async function main(): Promise<void> {
  const status = $("status");
  try {
    const meta: PageMetadata = await (await fetch("metadata.json")).json();
    $("title").textContent = `${meta.run.id} (${meta.checkpoint.name}, ${meta.quantization})`;
    $("classes").textContent = meta.classes.join(", ");
    $("pre").textContent = meta.preprocessing.description;
    try {
      await tf.setBackend("webgl");
    } catch {
      await tf.setBackend("cpu");
    }
    await tf.ready();
    const model = await tf.loadLayersModel("model.json");
    status.textContent = `ready (${tf.getBackend()} backend): drop images or pick files`;
    document.body.dataset.ready = "true";
    const results = $("results");
    const run = async (files: FileList | File[]) => {
      for (const file of Array.from(files)) {
        try {
          const { probs, image } = await classify(model, meta, file);
          results.prepend(resultCard(file.name, probs, meta.classes, image));
        } catch (err) {
          const card = el("article", { className: "result error" }, `${file.name}: ${err}`);
          card.dataset.name = file.name;
          card.dataset.error = String(err);
          results.prepend(card);
        }
      }
      document.body.dataset.done = String(results.children.length);
    };
    const input = $<HTMLInputElement>("files");
    input.addEventListener("change", () => input.files && run(input.files));
    const drop = $("drop");
    drop.addEventListener("dragover", (e) => {
      e.preventDefault();
      drop.classList.add("over");
    });
    drop.addEventListener("dragleave", () => drop.classList.remove("over"));
    drop.addEventListener("drop", (e) => {
      e.preventDefault();
      drop.classList.remove("over");
      if (e.dataTransfer?.files.length) run(e.dataTransfer.files);
    });
  } catch (err) {
    status.textContent = `cannot load the model: ${err}`;
    status.className = "error";
  }
}

main();
