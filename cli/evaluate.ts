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
import { join } from "node:path";
import { BACKEND_NAMES, type BackendName, initBackend } from "../core/backend/select.ts";
import { type Precision, PRECISIONS } from "../core/backend/precision.ts";
import type { TrainOptions } from "../core/experiment/experiment.ts";
import {
  ExperimentNotFoundError,
  isBuiltinExperiment,
  loadExperiment,
} from "../experiments/registry.ts";
import { hasModelTopology, loadModel, loadWeights } from "../core/run/model_io.ts";
import { readRunInfo } from "../core/run/reader.ts";
import { RunWriter } from "../core/run/writer.ts";
import { findRunWeights, namedRunWeights, type RunWeights } from "../core/run/checkpoints.ts";
import { RUN_FILE_NAMES } from "../core/run/artifacts.ts";
import { evaluateModel } from "../core/infer/evaluate.ts";
import { loadExport } from "../core/infer/export.ts";
import { runAndExit } from "./_process.ts";
import { resolveRun } from "./_run_ref.ts";
import { refuseUntrained } from "./_untrained.ts";
import { terminalSafe } from "../core/format/terminal.ts";
import { choiceFlag, FlagError, intFlag, parseFlags, runCommand } from "../core/flags.ts";

const USAGE =
  `Usage: deno task evaluate --run RUN [--runs DIR] [--checkpoint NAME] [--experiment NAME|PATH] [--split test|val] [--batch-size N]

  --run RUN          a run id (a folder of --runs) or the path of a run folder
  --runs DIR         the runs folder a bare run id is looked up in (default: runs)
  --checkpoint NAME  checkpoint folder under the run's checkpoints/ (default: best, else the
                     newest other checkpoint, else the newest resume point)
  --experiment X     experiment name (experiments/X.ts) or module path (default: the run's own)
  --split S          test (default; falls back to val when the dataset has no test split) or val
  --batch-size N     examples per forward pass (default 32)
  --export DIR       evaluate this export of the run (deno task export; quantized weights
                     dequantized as tfjs loads them) instead of a checkpoint; writes nothing
  --backend NAME     ${BACKEND_NAMES.join("|")} (default auto)
  --precision P      fp32|bf16|auto: bf16 on the native backend (default fp32)
  --allow-untrained  evaluate the untrained starting point (checkpoints/resume/e0000, random
                     weights) when it is the run's only weights (refused by default)
  -h, --help         show this help

Exit status: 0 when done, 1 when the evaluation failed, 2 for bad flags.`;

/** Parsed command line. */
export interface EvaluateArgs {
  /** The run: an id or a folder (see `--runs`). */
  run: string;
  /** The runs folder a bare id is looked up in. */
  runsDir?: string;
  checkpoint?: string;
  experiment?: string;
  split: "test" | "val";
  batchSize: number;
  backend: BackendName;
  precision?: Precision;
  export?: string;
  /** `--allow-untrained`: evaluate the untrained starting point rather than refuse it. */
  allowUntrained?: boolean;
}

/** Parses the command line; throws {@linkcode FlagError} on a bad flag. */
export function parseEvaluateArgs(args: string[]): EvaluateArgs {
  const { values } = parseFlags(args, {
    run: { type: "string" },
    runs: { type: "string" },
    checkpoint: { type: "string" },
    experiment: { type: "string" },
    split: { type: "string" },
    "batch-size": { type: "string" },
    backend: { type: "string" },
    precision: { type: "string" },
    export: { type: "string" },
    "allow-untrained": { type: "boolean" },
    help: { type: "boolean", short: "h" },
  });
  if (!values.run) throw new FlagError("--run RUN is required (a run id or a run folder)");
  return {
    run: values.run,
    runsDir: values.runs ?? "runs",
    checkpoint: values.checkpoint,
    allowUntrained: values["allow-untrained"] ?? false,
    ...(values.export ? { export: values.export } : {}),
    experiment: values.experiment,
    split: choiceFlag("--split", values.split, ["test", "val"] as const) ?? "test",
    batchSize: intFlag("--batch-size", values["batch-size"], { min: 1 }) ?? 32,
    backend: choiceFlag("--backend", values.backend, BACKEND_NAMES) ?? "auto",
    ...(values.precision !== undefined
      ? { precision: choiceFlag("--precision", values.precision, PRECISIONS) }
      : {}),
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
  const run = await resolveRun("--run", args.run, args.runsDir);
  const { dir, shown } = run;
  const info = await readRunInfo(dir);
  const weights: RunWeights = args.checkpoint
    ? await namedRunWeights(dir, args.checkpoint).catch(() => {
      throw new Error(
        `checkpoint "${args.checkpoint}" not found: ${shown}/checkpoints/${args.checkpoint} ` +
          `has no model.json (--checkpoint names a folder under checkpoints/)`,
      );
    })
    : await findRunWeights(dir);
  if (!args.export) await refuseUntrained(weights, run, args.allowUntrained ?? false);
  const checkpoint = weights.name;
  const stored = String(info.config?.experimentSource ?? info.experiment);
  if (args.experiment === undefined && !isBuiltinExperiment(stored)) {
    throw new Error(
      `${shown} was trained with an experiment file. A run folder never chooses the code ` +
        `to run: pass the experiment file yourself with --experiment PATH.`,
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
    console.error(terminalSafe(
      `weights: ${
        args.checkpoint ? `checkpoints/${checkpoint} (--checkpoint)` : describeWeights(weights)
      }`,
      { oneLine: true },
    ));
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
      console.log(terminalSafe(
        `${splitName} accuracy ${(report.accuracy * 100).toFixed(2)}% on ${report.examples} ` +
          `images (loss ${report.loss.toFixed(4)}, checkpoint ${checkpoint})`,
        { oneLine: true },
      ));
    } finally {
      model.dispose();
      await run.close();
    }
    return join(shown, RUN_FILE_NAMES.evaluation);
  } finally {
    await dataset.close?.();
  }
}

/**
 * Runs `deno task evaluate`; returns the process exit code: 0 when done, 1 when the
 * evaluation failed, 2 for bad flags.
 */
export function main(argv: string[]): Promise<number> {
  return runCommand(argv, {
    help: USAGE,
    main: async (argv) => {
      const file = await runEvaluate(parseEvaluateArgs(argv));
      if (file) console.log(`wrote ${file}`);
      return 0;
    },
    isUsageError: (err) => err instanceof ExperimentNotFoundError,
  });
}

if (import.meta.main) await runAndExit(main);
