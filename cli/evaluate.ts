/**
 * `deno task evaluate --run DIR [--checkpoint NAME] [--experiment NAME|PATH] [--split test|val]`:
 * loads the run's weights (the best checkpoint, else the newest other checkpoint, else the
 * newest resume point, saying which; or the named checkpoint), rebuilds its experiment's
 * dataset with the run's config, evaluates the test split (else val), writes
 * `evaluation.json` into the run and exits: 0 when done, 1 when the evaluation failed, 2 for
 * bad flags.
 *
 * @module
 */
import { parseArgs } from "node:util";
import { join, resolve } from "node:path";
import { BACKEND_NAMES, type BackendName, initBackend } from "../core/backend/select.ts";
import { type Precision, precisionFlag } from "../core/backend/precision.ts";
import type { TrainOptions } from "../core/experiment.ts";
import { isBuiltinExperiment, loadExperiment } from "../experiments/registry.ts";
import { hasModelTopology, loadModel, loadWeights } from "../core/run/model_io.ts";
import { readRunInfo } from "../core/run/reader.ts";
import { RunWriter } from "../core/run/writer.ts";
import { findRunWeights, namedRunWeights, type RunWeights } from "../core/run/checkpoints.ts";
import { RUN_FILE_NAMES } from "../core/run/artifacts.ts";
import { evaluateModel } from "../core/evaluate.ts";
import { loadExport } from "../core/infer/export.ts";
import { parseCli, runAndExit } from "./_process.ts";

const USAGE =
  `Usage: deno task evaluate --run DIR [--checkpoint NAME] [--experiment NAME|PATH] [--split test|val] [--batch-size N] [--export DIR]

  --run DIR          the run directory (runs/<run-id>)
  --checkpoint NAME  checkpoint folder under DIR/checkpoints (default: best, else the newest
                     other checkpoint, else the newest resume point)
  --experiment X     experiment name (experiments/X.ts) or module path (default: the run's own)
  --split S          test (default; falls back to val when the dataset has no test split) or val
  --batch-size N     examples per forward pass (default 32)
  --export DIR       evaluate this export of the run (deno task export; quantized weights
                     dequantized as tfjs loads them) instead of a checkpoint; writes nothing
  --backend NAME     ${BACKEND_NAMES.join("|")} (default auto)
  --precision P      fp32|bf16|auto: bf16 on the native backend (default fp32)
  -h, --help         show this help

Exit status: 0 when done, 1 when the evaluation failed, 2 for bad flags.`;

/** Parsed command line. */
export interface EvaluateArgs {
  run: string;
  checkpoint?: string;
  experiment?: string;
  split: "test" | "val";
  batchSize: number;
  backend: BackendName;
  precision?: Precision;
  export?: string;
}

/** Parses the command line (`"help"` for `-h`/`--help`); throws with the usage on a bad flag. */
export function parseEvaluateArgs(args: string[]): EvaluateArgs | "help" {
  let values;
  try {
    ({ values } = parseArgs({
      args,
      options: {
        run: { type: "string" },
        checkpoint: { type: "string" },
        export: { type: "string" },
        experiment: { type: "string" },
        split: { type: "string", default: "test" },
        "batch-size": { type: "string", default: "32" },
        backend: { type: "string", default: "auto" },
        precision: { type: "string" },
        help: { type: "boolean", short: "h" },
      },
      strict: true,
      allowPositionals: false,
    }));
  } catch (err) {
    throw new Error(`${(err as Error).message}\n\n${USAGE}`);
  }
  if (values.help) return "help";
  if (!values.run) throw new Error(`--run DIR is required\n\n${USAGE}`);
  if (values.split !== "test" && values.split !== "val") {
    throw new Error(`--split must be test or val, got "${values.split}"\n\n${USAGE}`);
  }
  if (!BACKEND_NAMES.includes(values.backend as BackendName)) {
    throw new Error(`--backend must be one of ${BACKEND_NAMES.join(", ")}\n\n${USAGE}`);
  }
  let precision: Precision | undefined;
  try {
    precision = precisionFlag(values.precision);
  } catch (err) {
    throw new Error(`${(err as Error).message}\n\n${USAGE}`);
  }
  const batchSize = Number(values["batch-size"]);
  if (!Number.isInteger(batchSize) || batchSize < 1) {
    throw new Error(`--batch-size must be a positive integer, got "${values["batch-size"]}"`);
  }
  return {
    run: values.run,
    checkpoint: values.checkpoint,
    ...(values.export ? { export: values.export } : {}),
    experiment: values.experiment,
    split: values.split,
    batchSize,
    backend: values.backend as BackendName,
    ...(precision ? { precision } : {}),
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

/** How `evaluate` names the weights it uses, e.g. `checkpoints/best (the best checkpoint)`. */
export function describeWeights(w: RunWeights): string {
  const what = w.kind === "best"
    ? "the best checkpoint"
    : w.kind === "checkpoint"
    ? "the newest checkpoint: the run has no best checkpoint"
    : "the newest resume point: the run has no best or other checkpoint";
  return `checkpoints/${w.name} (${what})`;
}

/**
 * Runs the evaluation described by `args`; returns the report's path. Logs (stderr) which
 * weights it evaluates. A weights-only checkpoint is loaded into the experiment's model.
 */
export async function runEvaluate(args: EvaluateArgs): Promise<string> {
  const dir = resolve(args.run);
  const info = await readRunInfo(dir);
  const weights: RunWeights = args.checkpoint
    ? await namedRunWeights(dir, args.checkpoint).catch(() => {
      throw new Error(
        `checkpoint "${args.checkpoint}" not found: ${dir}/checkpoints/${args.checkpoint} ` +
          `has no model.json (--checkpoint names a folder under checkpoints/)`,
      );
    })
    : await findRunWeights(dir);
  const checkpoint = weights.name;
  const stored = String(info.config?.experimentSource ?? info.experiment);
  if (args.experiment === undefined && !isBuiltinExperiment(stored)) {
    throw new Error(
      `${dir} was trained with the experiment file ${stored}. A run folder never chooses the ` +
        `code to run: pass it yourself, --experiment ${stored}.`,
    );
  }
  const experiment = await loadExperiment(args.experiment ?? stored);
  const backend = await initBackend(args.backend, {
    log: (l) => console.error(l),
    precision: args.precision,
  });
  console.error(
    `backend: ${backend.name} (${backend.reason})` +
      (backend.precision === "bf16" ? `, precision bf16 (${backend.precisionReason})` : ""),
  );
  const options = { ...experiment.defaults, ...info.config } as TrainOptions;
  const dataset = await experiment.dataset(options);
  try {
    const split = args.split === "test" ? dataset.test ?? dataset.val : dataset.val;
    const splitName = args.split === "test" && dataset.test ? "test" : "val";
    if (!split) throw new Error(`dataset ${dataset.name} has no ${args.split} or val split`);
    console.error(
      `weights: ${
        args.checkpoint ? `checkpoints/${checkpoint} (--checkpoint)` : describeWeights(weights)
      }`,
    );
    let model;
    if (args.export) {
      const loaded = await loadExport(args.export);
      model = loaded.model;
      const m = loaded.metadata;
      console.error(
        `export: ${args.export} (${m.run.id}, checkpoint ${m.checkpoint.name}, ${m.quantization})`,
      );
      if (m.classes.join("\n") !== dataset.classNames.join("\n")) {
        model.dispose();
        throw new Error(
          `${args.export} has classes ${m.classes.join(", ")} but the run's dataset has ` +
            `${dataset.classNames.join(", ")}: export this run and evaluate that`,
        );
      }
      try {
        const report = await evaluateModel(model, split, dataset.classNames, null, {
          batchSize: args.batchSize,
          splitName,
        });
        console.log(
          `${splitName} accuracy ${(report.accuracy * 100).toFixed(2)}% on ${report.examples} ` +
            `images (loss ${report.loss.toFixed(4)}, export ${m.quantization})`,
        );
      } finally {
        model.dispose();
      }
      return "";
    }
    if (await hasModelTopology(weights.dir)) {
      model = await loadModel(weights.dir);
    } else {
      model = experiment.model(dataset.imageShape, dataset.classNames.length);
      try {
        await loadWeights(model, weights.dir);
      } catch (err) {
        model.dispose();
        throw err;
      }
    }
    const run = await RunWriter.open(dir);
    try {
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
      console.log(
        `${splitName} accuracy ${(report.accuracy * 100).toFixed(2)}% on ${report.examples} ` +
          `images (loss ${report.loss.toFixed(4)}, checkpoint ${checkpoint})`,
      );
    } finally {
      model.dispose();
      await run.close();
    }
    return join(dir, RUN_FILE_NAMES.evaluation);
  } finally {
    await dataset.close?.();
  }
}

/**
 * Runs `deno task evaluate`; returns the process exit code: 0 when done, 1 when the
 * evaluation failed, 2 for bad flags.
 */
export async function main(argv: string[]): Promise<number> {
  const parsed = parseCli(argv, parseEvaluateArgs, (a) => a === "help", USAGE);
  if (typeof parsed === "number") return parsed;
  const args = parsed as EvaluateArgs; // not "help": that returned 0
  try {
    const file = await runEvaluate(args);
    if (file) console.log(`wrote ${file}`);
    return 0;
  } catch (err) {
    console.error(`error: ${(err as Error).message}`);
    return 1;
  }
}

if (import.meta.main) await runAndExit(main);
