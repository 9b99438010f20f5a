/**
 * Runs an experiment end to end: options, backend, model, data, run directory, callbacks,
 * training. The CLI is a thin layer over this.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs-core";
import type * as tfl from "@tensorflow/tfjs-layers";
import { type BackendChoice, type BackendName, initBackend } from "../backend/select.ts";
import type { Callback } from "../train/callback.ts";
import type { Dataset } from "../data/dataset.ts";
import type { Experiment, PluginSpec, TrainOptions } from "./experiment.ts";
import { evaluateModel } from "../infer/evaluate.ts";
import { modelSummary, summaryRows } from "../models/summary.ts";
import type { EvaluationReport } from "../run/evaluation_format.ts";
import { OptionsError, resolveOptions, STANDARD_OPTIONS } from "./options.ts";
import { shownPath } from "../format/path.ts";
import { loadPlugin } from "./plugins.ts";
import { withSeededMathRandom } from "../random.ts";
import { RunWriter } from "../run/writer.ts";
import {
  type LoadedResumePoint,
  loadResumePoint,
  NoResumePointError,
  resumeCheckpointer,
} from "../train/resume.ts";
import { applyMetaEdit, emptyMeta, type MetaEdit, updateRunMeta } from "../run/meta.ts";
import { createOptimizer } from "../train/optimizers.ts";
import { Trainer, type TrainResult } from "../train/trainer.ts";
import type { CodeIdentity } from "./code_identity.ts";
import { VERSION } from "../version.ts";

/** Options of {@link runExperiment}. */
export interface RunExperimentOptions {
  /** The experiment to run. */
  experiment: Experiment;
  /** Option overrides (from the command line). */
  overrides?: Partial<TrainOptions>;
  /** tfjs backend (default `auto`). */
  backend?: BackendName;
  /** Threads for multi-threaded backends. */
  threads?: number;
  /** Runs folder (default `runs`). */
  runsDir?: string;
  /** Callback plugins to load, after the experiment's own. */
  plugins?: PluginSpec[];
  /** Replace the experiment's default callbacks with these. */
  callbacks?: Callback[];
  /** Callbacks added after the experiment's (or `callbacks`) and the plugins (e.g. a pruner). */
  extraCallbacks?: Callback[];
  /**
   * Extra entries stored in run.json's `config` of a new run (e.g. `{ sweep: { id, trial } }`),
   * kept on resume.
   */
  tags?: Record<string, unknown>;
  /** Aborting stops training after the current batch (Ctrl-C). */
  signal?: AbortSignal;
  /** Where progress lines go (default: stderr). */
  log?: (line: string) => void;
  /**
   * Continue this run directory instead of starting a new run: weights, optimizer state,
   * learning rate, callback state, data order and history are restored from its newest valid
   * resume point. `overrides.epochs`, if given, is the run's new total epoch count.
   */
  resume?: string;
  /** How the experiment was named on the command line (stored so `--resume` finds it). */
  experimentSource?: string;
  /** The experiment's and plugins' code identity (sha256), stored in run.json's config. */
  code?: CodeIdentity;
  /**
   * After training, evaluate on the test split (when the dataset has one) and write
   * `evaluation.json` (accuracy, per-class accuracy, confusion matrix). Default true.
   */
  evaluate?: boolean;
  /**
   * With `resume`: when the run has no usable resume point (all damaged, or none although it
   * finished epochs), train it again from epoch 1 instead of failing (its metrics are
   * replaced). Without it, such a resume is an error and nothing is changed.
   */
  restart?: boolean;
  /** Save a resume point after every epoch and on interruption (default true). */
  resumePoints?: boolean;
  /** Called once the run directory exists (e.g. to start the dashboard). */
  onRunCreated?: (run: RunWriter) => void | Promise<void>;
  /**
   * Name, tags and note for the run (`--name`, `--tag`, `--note`), written to its metadata
   * sidecar once the run directory exists (checked before anything is trained).
   */
  meta?: MetaEdit;
}

/** What {@link runExperiment} returns. */
export interface ExperimentRun {
  /** The run directory writer (run.dir, run.id, run.info). */
  run: RunWriter;
  /** The trainer (history, model). */
  trainer: Trainer;
  /** How training ended. */
  result: TrainResult;
  /** The backend used. */
  backend: BackendChoice;
  /** The test-set evaluation written after training, if any. */
  evaluation?: EvaluationReport;
  /** For a resumed run: where it continued from (undefined when it restarted at epoch 0). */
  resumedFrom?: string;
}

/** Everything prepared before training: validated and built, nothing written yet. */
export interface PreparedExperiment {
  /** Resolved options. */
  options: TrainOptions;
  /** The model, initialised from the seed. */
  model: tfl.LayersModel;
  /** The data. */
  dataset: Dataset;
  /** Callbacks in call order (experiment's, then plugins). */
  callbacks: Callback[];
  /** The backend used. */
  backend: BackendChoice;
}

/**
 * Validates options, loads plugins, initialises the backend, builds the model and loads the
 * data: every configuration error surfaces here, before a run directory is created.
 */
export async function prepareExperiment(o: RunExperimentOptions): Promise<PreparedExperiment> {
  const log = o.log ?? ((l: string) => console.error(l));
  const exp = o.experiment;
  const options = resolveOptions(exp.defaults, o.overrides ?? {}, exp.params);
  const callbacks = o.callbacks ?? exp.callbacks?.(options) ?? [];
  for (const spec of [...(exp.plugins ?? []), ...(o.plugins ?? [])]) {
    callbacks.push(await loadPlugin(spec));
  }
  callbacks.push(...(o.extraCallbacks ?? []));
  const backend = await initBackend(o.backend ?? "auto", {
    threads: o.threads,
    log,
    precision: options.precision ?? "fp32",
  });
  log(`backend: ${backend.name} (${backend.reason})`);
  // the run stores (and a resume keeps) the precision it got, not `auto`
  options.precision = backend.precision ?? "fp32";
  if (backend.precision === "bf16" || o.overrides?.precision !== undefined) {
    log(`precision: ${options.precision} (${backend.precisionReason})`);
  }
  // Build the model once on a placeholder shape first, so that an image size it cannot take
  // fails now rather than after a long dataset load.
  try {
    withSeededMathRandom(
      options.seed,
      () => exp.model([options.imageSize, options.imageSize, 3], 2, options),
    ).dispose();
  } catch (err) {
    throw new OptionsError(
      `cannot build the model at image size ${options.imageSize} (--image-size): ${
        (err as Error).message
      }`,
      { cause: err },
    );
  }
  const dataset = await exp.dataset(options);
  const model = withSeededMathRandom(
    options.seed,
    () => exp.model(dataset.imageShape, dataset.classNames.length, options),
  );
  return { options, model, dataset, callbacks, backend };
}

/**
 * Runs an experiment: prepares it, creates the run directory, writes the model summary and
 * trains. Returns when training ends; throws (with the run marked `failed`) on errors.
 *
 * @example
 * ```ts ignore
 * import { loadExperiment, runExperiment } from "@convdeck/convdeck";
 * const experiment = await loadExperiment("default");
 * const { run, result } = await runExperiment({ experiment, overrides: { epochs: 1 } });
 * console.log(run.dir, result.logs);
 * ```
 */
export async function runExperiment(o: RunExperimentOptions): Promise<ExperimentRun> {
  const log = o.log ?? ((l: string) => console.error(l));
  if (o.meta) applyMetaEdit(emptyMeta(), o.meta); // a bad name or tag fails before training
  let run: RunWriter | undefined;
  let overrides = o.overrides ?? {};
  if (o.resume) {
    run = await RunWriter.open(o.resume);
    try {
      overrides = checkResume(run, o, overrides);
    } catch (err) {
      await run.close();
      throw err;
    }
  }
  const prepared = await prepareExperiment({ ...o, overrides }).catch(async (err) => {
    await run?.close();
    throw err;
  });
  const { options, model, dataset, callbacks, backend } = prepared;
  let resumedFrom: string | undefined;
  let started = false;
  const checkpointer = (o.resumePoints ?? true) ? resumeCheckpointer() : undefined;
  try {
    if (!run) {
      run = await RunWriter.create({
        runsDir: o.runsDir ?? "runs",
        experiment: o.experiment.name,
        config: {
          ...o.tags,
          ...options,
          experimentSource: o.experimentSource ?? o.experiment.name,
          description: o.experiment.description,
          callbacks: callbacks.map((c) => c.name),
          plugins: [...(o.experiment.plugins ?? []), ...(o.plugins ?? [])],
          parameters: model.countParams(),
          ...(o.code ? { code: o.code } : {}),
        },
        versions: { convdeck: VERSION, deno: Deno.version.deno, tfjs: tf.version_core },
      });
      await run.writeSummary(modelSummary(model));
      const layers = summaryRows(model);
      if (layers) await run.updateInfo({ model: { layers } });
    }
    // Generic knobs an experiment may declare as params: `optimizer` (a name) and `augment`.
    const params = options.params ?? {};
    const trainer = new Trainer({
      model,
      dataset,
      run,
      batchSize: options.batchSize,
      learningRate: options.learningRate,
      seed: options.seed,
      optimizer: typeof params.optimizer === "string"
        ? createOptimizer(params.optimizer, options.learningRate)
        : undefined,
      augment: typeof params.augment === "boolean" ? params.augment : undefined,
      systemMetrics: true,
      callbacks,
      signal: o.signal,
      checkpointer,
    });
    let point: LoadedResumePoint | undefined;
    if (o.resume) {
      // Before anything is written: a run without a usable point stays as it was.
      const r = run;
      try {
        point = await loadResumePoint(run.dir, model, trainer.optimizer, (m) => r.warn(m));
      } catch (err) {
        if (!(err instanceof NoResumePointError) || !o.restart) throw err;
      }
      if (!point && run.info.epochs > 0 && !o.restart) {
        throw new NoResumePointError(run.dir, []);
      }
      if (point) {
        trainer.restoreState(point.state);
        await trainer.restoreCallbackFiles(point.callbackFiles);
      }
    }
    started = true;
    await run.updateInfo({
      backend: { name: backend.name, reason: backend.reason },
      pid: Deno.pid,
      dataset: {
        name: dataset.name,
        classes: [...dataset.classNames],
        imageShape: [...dataset.imageShape],
        train: dataset.train.size,
        val: dataset.val?.size ?? 0,
        test: dataset.test?.size ?? 0,
        ...(dataset.info ?? {}),
      },
    });
    if (o.meta) {
      const edit = o.meta;
      await updateRunMeta(run.dir, (m) => applyMetaEdit(m, edit));
    }
    if (o.resume) {
      resumedFrom = point?.dir;
      const dropped = await run.truncateMetrics(trainer.position);
      const p = trainer.position;
      await run.event(point ? "resumed" : "restarted", {
        from: point?.dir ?? null,
        batch: p.batch,
        droppedMetricLines: dropped,
        totalEpochs: options.epochs,
      });
      log(
        point
          ? `resuming ${run.id} at epoch ${p.epoch + 1}${p.batch ? `, batch ${p.batch + 1}` : ""}`
          : `resuming ${run.id}: no usable resume point, restarting from epoch 1`,
      );
    }
    // A resume point of the initial state: a run killed in its first epoch resumes exactly,
    // and a run that finished epochs always has a point (none at all means it was damaged).
    if (checkpointer && !point && trainer.position.step === 0) {
      await checkpointer(trainer, "initial");
    }
    await o.onRunCreated?.(run);
    log(`run: ${shownPath(run.dir)}`);
    const remaining = Math.max(0, options.epochs - trainer.position.epoch);
    const result = await trainer.train({ epochs: remaining });
    let evaluation: EvaluationReport | undefined;
    const test = dataset.test;
    if ((o.evaluate ?? true) && test && test.size > 0 && result.stopReason !== "interrupted") {
      log(`evaluating on the test split (${test.size} images)...`);
      evaluation = await evaluateModel(model, test, dataset.classNames, run, {
        batchSize: options.batchSize,
        denormalize: dataset.denormalize?.bind(dataset),
        checkpoint: "final weights (best, when EarlyStopping restored them)",
      });
      await run.updateInfo({ test: { accuracy: evaluation.accuracy, examples: test.size } });
    }
    return { run, trainer, result, backend, resumedFrom, evaluation };
  } catch (err) {
    if (run && started && run.info.status === "running") {
      await run.finish("failed", { error: (err as Error).message }).catch(() => {});
    }
    throw err;
  } finally {
    await run?.close();
    await dataset.close?.();
  }
}

/**
 * Checks that a resume changes nothing but the epoch total, and returns the options to resume
 * with (the run's own, plus the new total).
 */
function checkResume(
  run: RunWriter,
  o: RunExperimentOptions,
  overrides: Partial<TrainOptions>,
): Partial<TrainOptions> {
  if (run.info.experiment !== o.experiment.name) {
    throw new Error(
      `${
        shownPath(run.dir)
      } is a run of experiment "${run.info.experiment}", not "${o.experiment.name}"; ` +
        `resume it without --experiment (or with --experiment ${run.info.experiment}).`,
    );
  }
  const c = run.info.config as Partial<TrainOptions>;
  const keys = [...STANDARD_OPTIONS, "data", "strictData"];
  const fromRun = Object.fromEntries(keys.map((k) => [k, c[k as keyof TrainOptions]]));
  for (const k of keys) {
    const v = overrides[k as keyof TrainOptions];
    if (k !== "epochs" && v !== undefined && v !== fromRun[k]) {
      throw new Error(
        `A resumed run keeps its ${k} (${fromRun[k]}); only --epochs (the new total) can ` +
          `change on --resume.`,
      );
    }
  }
  const runParams = (c.params ?? {}) as Record<string, unknown>;
  for (const [k, v] of Object.entries(overrides.params ?? {})) {
    if (runParams[k] !== v) {
      throw new Error(
        `A resumed run keeps its parameter ${k} (${JSON.stringify(runParams[k])}); ` +
          `only --epochs (the new total) can change on --resume.`,
      );
    }
  }
  overrides = {
    ...fromRun,
    params: c.params,
    ...(overrides.epochs !== undefined ? { epochs: overrides.epochs } : {}),
  };
  return overrides;
}
