/**
 * `deno task evaluate --run DIR [--checkpoint NAME] [--experiment NAME|PATH] [--split test|val]`:
 * loads the run's latest (or named) checkpoint, rebuilds its experiment's dataset with the
 * run's config, evaluates the test split (else val) and writes `evaluation.json` into the run.
 *
 * @module
 */
import { parseArgs } from "node:util";
import { dirname, isAbsolute, join, resolve } from "node:path";
import { pathToFileURL as toFileUrl } from "node:url";
import * as tf from "@tensorflow/tfjs-core";
import "@tensorflow/tfjs-backend-cpu";
import * as tfl from "@tensorflow/tfjs-layers";
import type { Experiment, TrainOptions } from "../experiment.ts";
import type { RunLogger } from "../run/logger.ts";
import { readRunInfo } from "../run/reader.ts";
import { RUN_FILES } from "../run/format.ts";
import { evaluateModel } from "../evaluate.ts";

const USAGE =
  `Usage: deno task evaluate --run DIR [--checkpoint NAME] [--experiment NAME|PATH] [--split test|val] [--batch-size N]

  --run DIR          the run directory (runs/<run-id>)
  --checkpoint NAME  checkpoint folder under DIR/checkpoints (default: the most recent one)
  --experiment X     experiment name (experiments/X.ts) or module path (default: run.json's)
  --split S          test (default; falls back to val when the dataset has no test split) or val
  --batch-size N     examples per forward pass (default 32)`;

/** Parsed command line. */
export interface EvaluateArgs {
  run: string;
  checkpoint?: string;
  experiment?: string;
  split: "test" | "val";
  batchSize: number;
}

/** Parses the command line; throws with the usage on a bad flag. */
export function parseEvaluateArgs(args: string[]): EvaluateArgs {
  let values;
  try {
    ({ values } = parseArgs({
      args,
      options: {
        run: { type: "string" },
        checkpoint: { type: "string" },
        experiment: { type: "string" },
        split: { type: "string", default: "test" },
        "batch-size": { type: "string", default: "32" },
      },
      strict: true,
      allowPositionals: false,
    }));
  } catch (err) {
    throw new Error(`${(err as Error).message}\n\n${USAGE}`);
  }
  if (!values.run) throw new Error(`--run DIR is required\n\n${USAGE}`);
  if (values.split !== "test" && values.split !== "val") {
    throw new Error(`--split must be test or val, got "${values.split}"\n\n${USAGE}`);
  }
  const batchSize = Number(values["batch-size"]);
  if (!Number.isInteger(batchSize) || batchSize < 1) {
    throw new Error(`--batch-size must be a positive integer, got "${values["batch-size"]}"`);
  }
  return {
    run: values.run,
    checkpoint: values.checkpoint,
    experiment: values.experiment,
    split: values.split,
    batchSize,
  };
}

/** The most recently written checkpoint folder (by model.json mtime) of a run. */
export async function latestCheckpoint(runDir: string): Promise<string> {
  const root = join(runDir, RUN_FILES.checkpoints);
  let best: { name: string; mtime: number } | null = null;
  try {
    for await (const e of Deno.readDir(root)) {
      if (!e.isDirectory) continue;
      const st = await Deno.stat(join(root, e.name, "model.json")).catch(() => null);
      const mtime = st?.mtime?.getTime() ?? -1;
      if (st && (!best || mtime > best.mtime)) best = { name: e.name, mtime };
    }
  } catch (err) {
    if (!(err instanceof Deno.errors.NotFound)) throw err;
  }
  if (!best) {
    throw new Error(`${root} has no checkpoint (no <name>/model.json): train with checkpoints on`);
  }
  return best.name;
}

/**
 * Loads a tfjs-format model (model.json + the weight files its manifest names) from `dir`.
 * A minimal loader: replace with core/model_io.ts `loadModel` once it exists.
 */
export async function loadModelDir(dir: string): Promise<tfl.LayersModel> {
  const file = join(dir, "model.json");
  let json: tf.io.ModelJSON;
  try {
    json = JSON.parse(await Deno.readTextFile(file));
  } catch (err) {
    throw new Error(`cannot read ${file}: ${(err as Error).message}`);
  }
  const specs: tf.io.WeightsManifestEntry[] = [];
  const buffers: Uint8Array[] = [];
  for (const group of json.weightsManifest ?? []) {
    specs.push(...group.weights);
    for (const p of group.paths) {
      if (isAbsolute(p) || p.split(/[\\/]/).includes("..")) {
        throw new Error(`${file}: weight path ${p} must stay inside ${dir}`);
      }
      buffers.push(await Deno.readFile(join(dir, p)));
    }
  }
  const total = buffers.reduce((n, b) => n + b.length, 0);
  const weightData = new Uint8Array(total);
  let off = 0;
  for (const b of buffers) (weightData.set(b, off), (off += b.length));
  return await tfl.loadLayersModel(tf.io.fromMemory({
    modelTopology: json.modelTopology,
    weightSpecs: specs,
    weightData: weightData.buffer,
  }));
}

/** A RunLogger that writes artifacts into an existing run directory (write-then-rename). */
export function runDirLogger(dir: string, id: string): RunLogger {
  const artifact = async (relPath: string, data: Uint8Array | string) => {
    if (isAbsolute(relPath) || relPath.split(/[\\/]/).includes("..")) {
      throw new Error(`artifact path ${relPath} must stay inside ${dir}`);
    }
    const file = join(dir, relPath);
    await Deno.mkdir(dirname(file), { recursive: true });
    const tmp = `${file}.${crypto.randomUUID()}.tmp`;
    if (typeof data === "string") await Deno.writeTextFile(tmp, data);
    else await Deno.writeFile(tmp, data);
    await Deno.rename(tmp, file);
    return file;
  };
  return {
    id,
    dir,
    artifact,
    scalar() {},
    async event(type, detail = {}) {
      const line = JSON.stringify({ type, epoch: -1, step: -1, time: Date.now(), ...detail });
      await Deno.writeTextFile(join(dir, RUN_FILES.events), line + "\n", { append: true });
    },
    async warn(message) {
      console.warn(`warning: ${message}`);
      await this.event("warning", { message });
    },
  };
}

/** Resolves `--experiment` (a name in experiments/ or a module path) to an import URL. */
function experimentUrl(nameOrPath: string): URL {
  const looksLikePath = /[\\/]|\.ts$|\.js$/.test(nameOrPath);
  const path = looksLikePath ? resolve(nameOrPath) : resolve("experiments", `${nameOrPath}.ts`);
  return toFileUrl(path);
}

/** Runs the evaluation described by `args`; returns the report's path. */
export async function runEvaluate(args: EvaluateArgs): Promise<string> {
  const dir = resolve(args.run);
  const info = await readRunInfo(dir);
  const checkpoint = args.checkpoint ?? await latestCheckpoint(dir);
  const expUrl = experimentUrl(args.experiment ?? info.experiment);
  let experiment: Experiment;
  try {
    experiment = (await import(expUrl.href)).default;
  } catch (err) {
    throw new Error(
      `cannot load experiment ${expUrl.pathname} (${(err as Error).message}): ` +
        "pass --experiment NAME|PATH",
    );
  }
  if (!experiment || typeof experiment.dataset !== "function") {
    throw new Error(`${expUrl.pathname} has no default export with a dataset() function`);
  }
  const options = { ...experiment.defaults, ...info.config } as TrainOptions;
  const dataset = await experiment.dataset(options);
  try {
    const split = args.split === "test" ? dataset.test ?? dataset.val : dataset.val;
    const splitName = args.split === "test" && dataset.test ? "test" : "val";
    if (!split) throw new Error(`dataset ${dataset.name} has no ${args.split} or val split`);
    const model = await loadModelDir(join(dir, RUN_FILES.checkpoints, checkpoint));
    const report = await evaluateModel(
      model,
      split,
      dataset.classNames,
      runDirLogger(dir, info.id),
      {
        batchSize: args.batchSize,
        denormalize: dataset.denormalize?.bind(dataset),
        splitName,
        checkpoint,
      },
    );
    model.dispose();
    console.log(
      `${splitName} accuracy ${(report.accuracy * 100).toFixed(2)}% on ${report.examples} images ` +
        `(loss ${report.loss.toFixed(4)}, checkpoint ${checkpoint})`,
    );
    return join(dir, "evaluation.json");
  } finally {
    await dataset.close?.();
  }
}

if (import.meta.main) {
  try {
    const file = await runEvaluate(parseEvaluateArgs(Deno.args));
    console.log(`wrote ${file}`);
  } catch (err) {
    console.error(`error: ${(err as Error).message}`);
    Deno.exit(1);
  }
}
