/**
 * `deno task evaluate --run DIR [--checkpoint NAME] [--experiment NAME|PATH] [--split test|val]`:
 * loads the run's latest (or named) checkpoint, rebuilds its experiment's dataset with the
 * run's config, evaluates the test split (else val) and writes `evaluation.json` into the run.
 *
 * @module
 */
import { parseArgs } from "node:util";
import { join, resolve } from "node:path";
import { BACKEND_NAMES, type BackendName, initBackend } from "../core/backend/select.ts";
import type { TrainOptions } from "../core/experiment.ts";
import { isBuiltinExperiment, loadExperiment } from "../experiments/registry.ts";
import { loadModel } from "../core/run/model_io.ts";
import { readRunInfo } from "../core/run/reader.ts";
import { RunWriter } from "../core/run/writer.ts";
import { checkpointDir, findRunWeights } from "../core/run/checkpoints.ts";
import { RUN_FILE_NAMES } from "../core/run/artifacts.ts";
import { evaluateModel } from "../core/evaluate.ts";

const USAGE =
  `Usage: deno task evaluate --run DIR [--checkpoint NAME] [--experiment NAME|PATH] [--split test|val] [--batch-size N]

  --run DIR          the run directory (runs/<run-id>)
  --checkpoint NAME  checkpoint folder under DIR/checkpoints (default: the most recent one)
  --experiment X     experiment name (experiments/X.ts) or module path (default: the run's own)
  --split S          test (default; falls back to val when the dataset has no test split) or val
  --batch-size N     examples per forward pass (default 32)
  --backend NAME     ${BACKEND_NAMES.join("|")} (default auto)`;

/** Parsed command line. */
export interface EvaluateArgs {
  run: string;
  checkpoint?: string;
  experiment?: string;
  split: "test" | "val";
  batchSize: number;
  backend: BackendName;
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
        backend: { type: "string", default: "auto" },
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
  if (!BACKEND_NAMES.includes(values.backend as BackendName)) {
    throw new Error(`--backend must be one of ${BACKEND_NAMES.join(", ")}\n\n${USAGE}`);
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
    backend: values.backend as BackendName,
  };
}

/**
 * The checkpoint to evaluate by default (see {@linkcode findRunWeights}): `best` when there is
 * one, else the most recently written checkpoint folder, else the newest resume point
 * (`resume/e0007`).
 */
export async function latestCheckpoint(runDir: string): Promise<string> {
  return (await findRunWeights(runDir)).name;
}

/** Runs the evaluation described by `args`; returns the report's path. */
export async function runEvaluate(args: EvaluateArgs): Promise<string> {
  const dir = resolve(args.run);
  const info = await readRunInfo(dir);
  const checkpoint = args.checkpoint ?? await latestCheckpoint(dir);
  const stored = String(info.config?.experimentSource ?? info.experiment);
  if (args.experiment === undefined && !isBuiltinExperiment(stored)) {
    throw new Error(
      `${dir} was trained with the experiment file ${stored}. A run folder never chooses the ` +
        `code to run: pass it yourself, --experiment ${stored}.`,
    );
  }
  const experiment = await loadExperiment(args.experiment ?? stored);
  const backend = await initBackend(args.backend, { log: (l) => console.error(l) });
  console.error(`backend: ${backend.name} (${backend.reason})`);
  const options = { ...experiment.defaults, ...info.config } as TrainOptions;
  const dataset = await experiment.dataset(options);
  try {
    const split = args.split === "test" ? dataset.test ?? dataset.val : dataset.val;
    const splitName = args.split === "test" && dataset.test ? "test" : "val";
    if (!split) throw new Error(`dataset ${dataset.name} has no ${args.split} or val split`);
    if (!args.checkpoint) console.error(`weights: checkpoints/${checkpoint}`);
    const model = await loadModel(checkpointDir(dir, checkpoint));
    const run = await RunWriter.open(dir);
    const report = await evaluateModel(
      model,
      split,
      dataset.classNames,
      run,
      {
        batchSize: args.batchSize,
        denormalize: dataset.denormalize?.bind(dataset),
        splitName,
        checkpoint,
      },
    );
    model.dispose();
    await run.close();
    console.log(
      `${splitName} accuracy ${(report.accuracy * 100).toFixed(2)}% on ${report.examples} images ` +
        `(loss ${report.loss.toFixed(4)}, checkpoint ${checkpoint})`,
    );
    return join(dir, RUN_FILE_NAMES.evaluation);
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
