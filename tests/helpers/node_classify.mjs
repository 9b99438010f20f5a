// Classifies PNG files with an export, in Node with plain @tensorflow/tfjs (cpu backend) and
// the export's own preprocess.js, loading the model over HTTP from a static server of the
// export folder (what tf.loadLayersModel does in a browser). Run by tests/export_tfjs_test.ts:
//   node node_classify.mjs EXPORT_DIR IMAGE.png...   (NODE_PATH-free: imports resolve from
//   the node_modules the test installed next to a copy of this file)
// Prints one JSON document: { backend, results: [{ name, probabilities }] }.
import { createServer } from "node:http";
import { readFile } from "node:fs/promises";
import { basename, join, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import * as tf from "@tensorflow/tfjs";
import { decode } from "fast-png";

const [dir, ...images] = process.argv.slice(2);
const root = resolve(dir);
const server = createServer(async (req, res) => {
  try {
    const name = basename(new URL(req.url, "http://x").pathname);
    const body = await readFile(join(root, name));
    res.writeHead(200, {
      "Content-Type": name.endsWith(".json") ? "application/json" : "application/octet-stream",
    });
    res.end(body);
  } catch {
    res.writeHead(404);
    res.end();
  }
});
await new Promise((ok) => server.listen(0, "127.0.0.1", ok));
try {
  await tf.setBackend("cpu");
  const base = `http://127.0.0.1:${server.address().port}/`;
  const meta = await (await fetch(base + "metadata.json")).json();
  const model = await tf.loadLayersModel(base + "model.json");
  const { preprocessImage } = await import(pathToFileURL(join(root, "preprocess.js")).href);
  const { height: h, width: w, channels: c } = meta.input;
  const results = [];
  for (const file of images) {
    const png = decode(await readFile(file));
    const x = preprocessImage(
      { data: png.data, width: png.width, height: png.height, channels: png.channels },
      meta.preprocessing,
    );
    const probs = tf.tidy(() => model.predict(tf.tensor4d(x, [1, h, w, c])).dataSync());
    results.push({ name: basename(file), probabilities: Array.from(probs) });
  }
  model.dispose();
  console.log(
    JSON.stringify({ backend: tf.getBackend(), tensors: tf.memory().numTensors, results }),
  );
} finally {
  server.close();
}
