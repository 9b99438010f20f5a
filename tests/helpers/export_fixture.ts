/**
 * What the export tests share: the `deno task` entries run as users run them (subprocesses
 * with their deno.json permissions), a tiny default-experiment run trained by
 * `deno task train`, test images written as PNG files (the default experiment's own test
 * images, at the model's size, plus one larger photo-like image that takes the resize path),
 * and `predict --json` on them.
 *
 * @module
 */
import { join } from "node:path";
import { syntheticShapes } from "../../core/data/synthetic.ts";
import { encodePng } from "../../core/viz/png.ts";

/** The repository root. */
export const ROOT = new URL("../../", import.meta.url).pathname;

/** What a `deno task` subprocess did. */
export interface TaskResult {
  /** Exit code. */
  code: number;
  /** Standard output. */
  stdout: string;
  /** Standard error. */
  stderr: string;
}

/** Runs `deno task NAME ...args` in the repository root. */
export async function task(name: string, ...args: string[]): Promise<TaskResult> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["task", "-q", name, ...args],
    cwd: ROOT,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  const dec = new TextDecoder();
  return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
}

/** `deno task export --runs RUNS --run RUN --out OUT ...extra`, as users run it. */
export function exportTask(
  runs: string,
  run: string,
  out: string,
  ...extra: string[]
): Promise<TaskResult> {
  return task("export", "--runs", runs, "--run", run, "--out", out, ...extra);
}

/** The files of an export folder, sorted. */
export const EXPORT_FILES = [
  "README.md",
  "app.js",
  "group1-shard1of1.bin",
  "index.html",
  "metadata.json",
  "model.json",
  "package.json",
  "preprocess.js",
  "tf.min.js",
] as const;

/** Trains the default experiment for one small epoch into `runsDir`; returns the run id. */
export async function trainTinyDefault(runsDir: string, ...extra: string[]): Promise<string> {
  const r = await task(
    "train",
    "--runs",
    runsDir,
    "--epochs",
    "1",
    "--set",
    "width=4",
    ...extra,
  );
  if (r.code !== 0) throw new Error(`train failed (${r.code}):\n${r.stderr}`);
  const ids = [];
  for await (const e of Deno.readDir(runsDir)) if (e.isDirectory) ids.push(e.name);
  return ids.sort().at(-1)!;
}

/**
 * Writes `n` of the default experiment's test images (32x32) as PNG files into `dir`, and one
 * 80x60 RGBA image with transparent corners (the resize, fit and alpha path); returns the
 * paths, the larger one last.
 */
export async function writeTestImages(dir: string, n: number): Promise<string[]> {
  await Deno.mkdir(dir, { recursive: true });
  const ds = syntheticShapes({ imageSize: 32, seed: 7, testSize: n });
  const { x } = await ds.test!.batch(Array.from({ length: n }, (_, i) => i));
  const paths: string[] = [];
  for (let i = 0; i < n; i++) {
    const bytes = ds.denormalize!(x.subarray(i * 32 * 32 * 3, (i + 1) * 32 * 32 * 3));
    const path = join(dir, `shape-${String(i).padStart(2, "0")}.png`);
    await Deno.writeFile(path, encodePng(bytes, 32, 32, 3));
    paths.push(path);
  }
  const w = 80, h = 60;
  const big = new Uint8Array(w * h * 4);
  for (let y = 0; y < h; y++) {
    for (let xx = 0; xx < w; xx++) {
      const d = (y * w + xx) * 4;
      const inCircle = (xx - 40) ** 2 + (y - 30) ** 2 < 22 ** 2;
      big[d] = inCircle ? 30 : 220;
      big[d + 1] = inCircle ? 60 : 210;
      big[d + 2] = inCircle ? 200 : 190;
      big[d + 3] = (xx < 6 && y < 6) ? 0 : 255;
    }
  }
  const bigPath = join(dir, "photo-80x60.png");
  await Deno.writeFile(bigPath, encodePng(big, w, h, 4));
  paths.push(bigPath);
  return paths;
}

/** Runs `deno task predict --json` on `images`; results by basename. */
export async function predictJson(
  runDir: string,
  images: string[],
): Promise<Map<string, number[]>> {
  // --top-k above the class count lists every class with its probability.
  const r = await task(
    "predict",
    "--run",
    runDir,
    "--json",
    "--top-k",
    "1000",
    "--backend",
    "cpu",
    ...images,
  );
  if (r.code !== 0) throw new Error(`predict failed (${r.code}):\n${r.stderr}`);
  const doc = JSON.parse(r.stdout);
  const out = new Map<string, number[]>();
  for (const res of doc.results) {
    const probs = new Array<number>(doc.classNames.length).fill(NaN);
    for (const t of res.top) probs[t.class] = t.prob;
    out.set(String(res.file).split("/").at(-1)!, probs);
  }
  return out;
}

/** Index of the largest value (first on ties). */
export function argmax(values: readonly number[]): number {
  let best = 0;
  for (let i = 1; i < values.length; i++) if (values[i] > values[best]) best = i;
  return best;
}
