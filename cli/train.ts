/**
 * `deno task train`: train an experiment from the command line.
 *
 * @module
 */
import { dirname, resolve } from "node:path";
import type { BackendName } from "../core/backend/select.ts";
import type { Experiment, TrainOptions } from "../core/experiment/experiment.ts";
import { BACKEND_NAMES, initBackend } from "../core/backend/select.ts";
import { PRECISIONS } from "../core/backend/precision.ts";
import { resolveOptions, splitSettings, STANDARD_OPTIONS } from "../core/experiment/options.ts";
import { describeParams, parseSetArg } from "../core/experiment/params.ts";
import {
  BUILTIN_EXPERIMENTS,
  experimentIdentity,
  experimentModulePath,
  ExperimentNotFoundError,
  isBuiltinExperiment,
  isExperimentPath,
  loadExperiment,
} from "../experiments/registry.ts";
import { parsePluginArg, pluginIdentity } from "../core/experiment/plugins.ts";
import {
  codeChanges,
  type CodeIdentity,
  gitIdentity,
  parseCodeIdentity,
} from "../core/experiment/code_identity.ts";
import { VERSION } from "../core/version.ts";
import { prepareExperiment, runExperiment } from "../core/experiment/run_experiment.ts";
import { modelSummary } from "../core/models/summary.ts";
import { startDashboard, type StartedDashboard } from "../dashboard/mod.ts";
import { readRunInfo } from "../core/run/reader.ts";
import { RUN_FILE_NAMES } from "../core/run/artifacts.ts";
import { applyMetaEdit, emptyMeta, type MetaEdit } from "../core/run/meta.ts";
import { runAndExit } from "./_process.ts";
import { resolveRun, shownPath } from "./_run_ref.ts";
import { resumeCommand } from "../core/experiment/resume_command.ts";
import {
  choiceFlag,
  FlagError,
  intFlag,
  numberFlag,
  oneLine,
  parseFlags,
  runCommand,
} from "../core/flags.ts";
import { OptionsError } from "../core/experiment/options.ts";
import { onInterrupt } from "./_interrupt.ts";

const BACKENDS = BACKEND_NAMES;

/** The `--help` text. */
export const HELP = `Usage: deno task train [options]

Trains an experiment and writes everything to a run directory (runs/<run-id>/).
With no options, trains the built-in default (generated shapes, a few minutes on 2 cores).

Options:
  --experiment NAME|PATH  built-in name (${Object.keys(BUILTIN_EXPERIMENTS).join(", ")})
                          or path of an experiment file              [default: default]
  --epochs N              epochs to train (overrides the experiment)
  --batch-size N          batch size
  --lr X                  initial learning rate
  --image-size N          square input size in pixels
  --data DIR              dataset folder (image folders or IDX files)
  --strict-data           fail on any bad data file instead of skipping it
  --backend NAME          ${BACKENDS.join("|")}                  [default: auto]
  --threads N             threads for the wasm/native backends     [default: all cores]
  --precision P           fp32|bf16|auto: bf16 mixed precision on the native backend;
                          auto = bf16 where the CPU has it (AVX512-BF16/AMX) [default: fp32]
  --runs DIR              where run directories go                  [default: runs]
  --callback 'PATH [JSON]'  load a callback plugin (repeatable), options as JSON after the path
  --seed N                seed for weights, shuffling and augmentation
  --set KEY=VALUE         an experiment parameter (repeatable; values parsed as JSON when
                          they parse, strings otherwise): --help --experiment NAME lists
                          them; ${STANDARD_OPTIONS.join(", ")} work too
  --name NAME             a display name for the run (deno task runs rename changes it)
  --tag TAG               a tag (repeatable); deno task runs list 'tag = TAG' finds it
  --note TEXT             a note about the run
  --resume RUN_DIR        continue a stopped or crashed run from its last resume point;
                          with --epochs, N is the run's new total epoch count
  --restart               with --resume: when the run has no usable resume point, train
                          it again from epoch 1 (its metrics are replaced) instead of failing
  --allow-changed-code    with --resume: continue although the experiment file or a plugin
                          differs from the code that trained the run (sha256 kept in the run)
  --dashboard             serve the live dashboard from this process while training
                          (and after it, until Ctrl-C)
  --port N                dashboard port (0 = any free port)          [default: 6006]
  --host H                dashboard interface                     [default: 127.0.0.1]
  --summary               print the model summary and exit
  -h, --help              show this help
`;

/** Parsed command line. */
export interface TrainArgs {
  experiment: string;
  overrides: Partial<TrainOptions>;
  backend: BackendName;
  threads?: number;
  runsDir: string;
  callbacks: string[];
  summary: boolean;
  help: boolean;
  resume?: string;
  /** With `resume`: restart from epoch 1 when no resume point is usable. */
  restart: boolean;
  /** With `resume`: continue although the code changed. */
  allowChangedCode: boolean;
  /** Serve the dashboard from the training process. */
  dashboard: boolean;
  /** Dashboard port. */
  port: number;
  /** Dashboard host. */
  host: string;
  /** True when --experiment was given explicitly. */
  experimentGiven: boolean;
  /** `--name`, `--tag`, `--note` for the run's metadata sidecar. */
  meta?: MetaEdit;
}

/** Parses `deno task train` arguments; throws {@linkcode FlagError} on bad flags or values. */
export function parseTrainArgs(argv: string[]): TrainArgs {
  const parsed = parseFlags(argv, {
    experiment: { type: "string" },
    epochs: { type: "string" },
    "batch-size": { type: "string" },
    lr: { type: "string" },
    "image-size": { type: "string" },
    data: { type: "string" },
    "strict-data": { type: "boolean" },
    backend: { type: "string" },
    threads: { type: "string" },
    precision: { type: "string" },
    runs: { type: "string" },
    callback: { type: "string", multiple: true },
    seed: { type: "string" },
    set: { type: "string", multiple: true },
    name: { type: "string" },
    tag: { type: "string", multiple: true },
    note: { type: "string" },
    summary: { type: "boolean" },
    resume: { type: "string" },
    restart: { type: "boolean" },
    "allow-changed-code": { type: "boolean" },
    dashboard: { type: "boolean" },
    port: { type: "string" },
    host: { type: "string" },
    help: { type: "boolean", short: "h" },
  });
  const v = parsed.values;
  const backend = choiceFlag("--backend", v.backend, BACKENDS) ?? "auto";
  let sets;
  try {
    sets = splitSettings((v.set ?? []).map(parseSetArg));
  } catch (err) {
    throw new FlagError((err as Error).message);
  }
  const overrides: Partial<TrainOptions> = {
    ...sets.overrides,
    ...(Object.keys(sets.params).length ? { params: sets.params } : {}),
  };
  const flags: Partial<TrainOptions> = {
    epochs: intFlag("--epochs", v.epochs, { min: 1 }),
    batchSize: intFlag("--batch-size", v["batch-size"], { min: 1 }),
    learningRate: numberFlag("--lr", v.lr, { min: 0, exclusiveMin: true }),
    imageSize: intFlag("--image-size", v["image-size"], { min: 1 }),
    seed: intFlag("--seed", v.seed, { min: 0 }),
    data: v.data,
    strictData: v["strict-data"],
    precision: choiceFlag("--precision", v.precision, PRECISIONS),
  };
  for (const [k, val] of Object.entries(flags)) {
    if (val !== undefined) (overrides as Record<string, unknown>)[k] = val;
  }
  const threads = intFlag("--threads", v.threads, { min: 1 });
  const port = intFlag("--port", v.port, { min: 0, max: 65535 });
  if (v.restart && !v.resume) throw new FlagError("--restart goes with --resume RUN_DIR");
  if ((v.port !== undefined || v.host !== undefined) && !v.dashboard) {
    throw new FlagError("--port and --host go with --dashboard");
  }
  const meta: MetaEdit = {
    ...(v.name !== undefined ? { name: v.name } : {}),
    ...(v.tag?.length ? { addTags: v.tag } : {}),
    ...(v.note !== undefined ? { note: v.note } : {}),
  };
  try {
    applyMetaEdit(emptyMeta(), meta);
  } catch (err) {
    throw new FlagError(`--name/--tag/--note: ${(err as Error).message}`);
  }
  return {
    ...(Object.keys(meta).length ? { meta } : {}),
    experiment: v.experiment ?? "default",
    overrides,
    backend,
    threads,
    runsDir: v.runs ?? "runs",
    callbacks: v.callback ?? [],
    summary: v.summary ?? false,
    help: v.help ?? false,
    resume: v.resume,
    restart: v.restart ?? false,
    allowChangedCode: v["allow-changed-code"] ?? false,
    dashboard: v.dashboard ?? false,
    port: port ?? 6006,
    host: v.host ?? "127.0.0.1",
    experimentGiven: v.experiment !== undefined,
  };
}

async function readRunInfoForResume(
  dir: string,
): Promise<{ experiment: string; config?: Record<string, unknown> }> {
  try {
    const info = await readRunInfo(dir);
    if (!info.experiment) throw new Error("the run names no experiment");
    return info;
  } catch (err) {
    throw new Error(
      `${shownPath(dir)} is not a run directory (${(err as Error).message}). ` +
        `Pass a run id or the folder of a run, e.g. --resume runs/<run-id>.`,
    );
  }
}

/**
 * The model summary for `--summary`: built from the experiment's image size and class count
 * without loading data, unless the experiment does not say its class count or --data is given.
 */
async function summaryText(experiment: Experiment, args: TrainArgs): Promise<string> {
  if (experiment.numClasses !== undefined && args.overrides.data === undefined) {
    await initBackend("cpu", { log: () => {} });
    const o = resolveOptions(experiment.defaults, args.overrides, experiment.params);
    const model = experiment.model(
      [o.imageSize, o.imageSize, experiment.channels ?? 3],
      experiment.numClasses,
      o,
    );
    const text = modelSummary(model);
    model.dispose();
    return text;
  }
  const prepared = await prepareExperiment({
    experiment,
    overrides: args.overrides,
    backend: "cpu",
    callbacks: [],
    log: () => {},
  });
  return modelSummary(prepared.model);
}

/**
 * The experiment to resume a run with. A built-in stored in the run is used as is; an
 * experiment file never is: a run folder is data and never chooses code, so the file must be
 * given with --experiment (its sha256 is then checked against the run's).
 */
function resumeSource(
  args: TrainArgs,
  info: { experiment: string; config?: Record<string, unknown> },
): string {
  const stored = String(info.config?.experimentSource ?? info.experiment);
  if (isBuiltinExperiment(stored)) {
    if (
      args.experimentGiven && args.experiment !== stored && args.experiment !== info.experiment
    ) {
      throw new Error(
        `${args.resume} is a run of experiment "${info.experiment}" (${stored}), not ` +
          `"${args.experiment}"; drop --experiment to resume it.`,
      );
    }
    return stored;
  }
  if (!args.experimentGiven || isBuiltinExperiment(args.experiment)) {
    throw new Error(
      `${args.resume} was trained with an experiment file. A run folder never chooses the ` +
        `code to run: pass the file yourself, --experiment PATH (its sha256 is checked ` +
        `against the run's).`,
    );
  }
  return resolve(args.experiment);
}

/** What `--help --experiment X` adds: the experiment's defaults and parameters. */
export function experimentHelp(experiment: Experiment): string {
  const d = experiment.defaults;
  const params = describeParams(experiment.params ?? {});
  return `Experiment ${experiment.name}: ${experiment.description}
  defaults: epochs ${d.epochs}, batchSize ${d.batchSize}, learningRate ${d.learningRate}, ` +
    `imageSize ${d.imageSize}, seed ${d.seed}
  parameters (--set NAME=VALUE):${
      params.length ? params.map((p) => `\n    ${p}`).join("") : " none"
    }`;
}

/**
 * Runs the CLI; returns the process exit code: 0 when training finished or stopped (early
 * stop, Ctrl-C), 1 when the run failed or could not start, 2 for bad flags (130 after a second
 * Ctrl-C, which exits at once).
 */
export function main(argv: string[]): Promise<number> {
  return runCommand(argv, {
    help: trainHelp,
    main: (argv) => train(parseTrainArgs(argv)),
    isUsageError: (err) => err instanceof OptionsError || err instanceof ExperimentNotFoundError,
  });
}

/** The `--help` text, with the experiment's parameters when `--experiment` is given. */
async function trainHelp(argv: string[]): Promise<string> {
  const at = argv.findIndex((a) => a === "--experiment" || a.startsWith("--experiment="));
  const name = at < 0 ? undefined : argv[at].includes("=") ? argv[at].split("=")[1] : argv[at + 1];
  if (name === undefined) return HELP;
  try {
    return `${HELP}\n${experimentHelp(await loadExperiment(name))}`;
  } catch (err) {
    return `${HELP}\n(experiment ${name}: ${oneLine((err as Error).message)})`;
  }
}

async function train(args: TrainArgs): Promise<number> {
  if (args.resume) {
    args = { ...args, resume: (await resolveRun("--resume", args.resume, args.runsDir)).shown };
  }
  const controller = new AbortController();
  let trainingDone = false;
  const stopListening = onInterrupt({
    first: (name) => {
      if (!trainingDone) {
        console.error(
          `\n${name}: finishing the current batch and saving (press Ctrl-C again to quit now)`,
        );
      }
      controller.abort();
    },
    again: (name) => {
      if (trainingDone) return controller.abort();
      console.error(`\n${name} again: quitting now (the last finished epoch is saved).`);
      Deno.exit(130);
    },
  });
  try {
    const plugins = args.callbacks.map(parsePluginArg);
    let source = args.experiment;
    let storedCode: CodeIdentity | undefined;
    if (args.resume) {
      const info = await readRunInfoForResume(args.resume);
      source = resumeSource(args, info);
      storedCode = parseCodeIdentity(info.config?.code);
    } else if (!isBuiltinExperiment(source)) {
      // An unknown name fails here (exit 2) rather than as a missing file.
      if (!isExperimentPath(source)) await loadExperiment(source);
      source = resolve(source);
    }
    const code: CodeIdentity = {
      experiment: await experimentIdentity(source).catch(() => ({ source })),
      plugins: await Promise.all(plugins.map((p) => pluginIdentity(p))),
      convdeck: VERSION,
    };
    const git = await gitIdentity(experimentModulePath(source));
    if (git) code.git = git;
    if (storedCode) {
      const changes = codeChanges(storedCode, code);
      if (changes.length > 0 && !args.allowChangedCode) {
        throw new Error(
          `the code differs from the code that trained ${args.resume}: ${changes.join("; ")}. ` +
            `Resume with the same experiment and --callback plugins, or pass ` +
            `--allow-changed-code to continue with this code.`,
        );
      }
      if (changes.length > 0) {
        console.error(`warning: continuing with changed code: ${changes.join("; ")}`);
      }
    }
    const experiment = await loadExperiment(source);
    if (args.summary) {
      console.log(await summaryText(experiment, args));
      return 0;
    }
    let dashboard: StartedDashboard | undefined;
    const { run, result, evaluation } = await runExperiment({
      onRunCreated: async () => {
        if (!args.dashboard) return;
        dashboard = await startDashboard({
          runsDir: args.runsDir,
          port: args.port,
          host: args.host,
        }).catch((err) => {
          throw new Error(
            `cannot start the dashboard on ${args.host}:${args.port} (${
              (err as Error).message
            }); ` +
              `pick another port with --port N (0 = any free port)`,
          );
        });
        for (const line of dashboard.lines) console.error(line);
      },
      experiment,
      experimentSource: source,
      meta: args.meta,
      resume: args.resume,
      restart: args.restart,
      code,
      overrides: args.overrides,
      backend: args.backend,
      threads: args.threads,
      runsDir: args.runsDir,
      plugins,
      signal: controller.signal,
    });
    const rel = shownPath(run.dir);
    const last = result.logs;
    const fmt = (k: string) => (typeof last[k] === "number" ? last[k].toFixed(4) : "n/a");
    console.log(
      `\n${result.status === "completed" ? "Finished" : `Stopped (${result.stopReason})`}: ` +
        `${result.history.length} epochs; last epoch loss ${fmt("loss")} acc ${fmt("acc")} ` +
        `val_loss ${fmt("val_loss")} val_acc ${fmt("val_acc")}`,
    );
    console.log(`Run directory: ${rel}`);
    if (result.status === "stopped" && result.stopReason === "interrupted") {
      console.log(`  resume it:  ${
        resumeCommand({
          runDir: run.dir,
          code: {
            ...(isBuiltinExperiment(code.experiment.source) ? {} : { experiment: args.experiment }),
            plugins: args.callbacks,
          },
        })
      }`);
    }
    if (evaluation) {
      console.log(
        `  test accuracy: ${(evaluation.accuracy * 100).toFixed(1)}% ` +
          `(${rel}/${RUN_FILE_NAMES.evaluation})`,
      );
    }
    console.log(
      `  metrics: ${rel}/${RUN_FILE_NAMES.metrics}   events: ${rel}/${RUN_FILE_NAMES.events}`,
    );
    if (!args.dashboard) {
      console.log(
        `  look at it: deno task dashboard --runs ${shownPath(dirname(run.dir))}`,
      );
    }
    if (dashboard) {
      trainingDone = true;
      if (controller.signal.aborted) {
        await dashboard.close();
      } else {
        console.log(`\nDashboard still serving at ${dashboard.url} - press Ctrl-C to quit.`);
        await new Promise<void>((resolve) =>
          controller.signal.addEventListener("abort", () => resolve())
        );
        await dashboard.close();
      }
    }
    return 0;
  } finally {
    stopListening();
  }
}

if (import.meta.main) await runAndExit(main);
