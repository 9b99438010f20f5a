/**
 * The tfjs `model.fit` / `model.fitDataset` callback of a tracked run, and the adapter that
 * runs convdeck callbacks (`EarlyStopping`, `ReduceLROnPlateau`, `ModelCheckpoint`,
 * `OverfitDetector`, `CSVLogger`, ... : the `Callback` contract of `core/train/callback.ts`) inside
 * a plain `model.fit`: their `TrainContext` is built from tfjs's model and params.
 *
 * tfjs wraps a plain object of hooks in its `CustomCallback` and calls the hooks as its
 * methods, so `this.model` and `this.params` are tfjs's. Pass the returned object alone or
 * first in `callbacks` (tfjs treats a list whose first item is a `tf.Callback` as a list of
 * those only).
 *
 * @module
 */
import type { Callback, HistoryEntry, TrainContext } from "../core/train/callback.ts";
import { SystemSampler } from "../core/train/system_sampler.ts";
import { CallbackList } from "../core/train/callback_list.ts";
import { freezeLogs } from "../core/train/logs.ts";
import { optimizerLearningRate, setOptimizerLearningRate } from "../core/train/learning_rate.ts";
import type { RunLogger } from "../core/run/logger.ts";
import type { RunRecorder } from "../core/run/recorder.ts";
import type { RunStatus } from "../core/run/format.ts";
import { isAbsolute } from "node:path";

/** Options of `run.fitCallback()`. */
export interface FitCallbackOptions {
  /** Also record every batch's logs as step records (default false: epochs only). */
  batches?: boolean;
  /** convdeck callbacks to run inside the fit (EarlyStopping, ReduceLROnPlateau, ...). */
  callbacks?: Callback[];
  /** Finish the run when the fit ends (default true). */
  finish?: boolean;
  /** Record `rss_mb`, `cpu_percent` and `load_1m` with each epoch (default true). */
  systemMetrics?: boolean;
  /**
   * The model being fitted: needed for the learning rate, the model summary and convdeck
   * `callbacks` (tfjs does not hand its model to a plain-object callback).
   */
  model?: ModelLike;
}

/** The shape of tfjs's `CustomCallbackArgs`: what `model.fit({ callbacks })` accepts. */
export interface TfjsCallback {
  /** tfjs hook. */
  onTrainBegin(logs?: Record<string, unknown>): Promise<void>;
  /** tfjs hook. */
  onEpochBegin(epoch: number, logs?: Record<string, unknown>): Promise<void>;
  /** tfjs hook. */
  onBatchBegin(batch: number, logs?: Record<string, unknown>): Promise<void>;
  /** tfjs hook. */
  onBatchEnd(batch: number, logs?: Record<string, unknown>): Promise<void>;
  /** tfjs hook. */
  onEpochEnd(epoch: number, logs?: Record<string, unknown>): Promise<void>;
  /** tfjs hook. */
  onTrainEnd(logs?: Record<string, unknown>): Promise<void>;
}

/** What tfjs's CustomCallback holds while it calls our hooks. */
interface TfjsThis {
  model?: ModelLike;
  params?: {
    epochs?: number;
    initialEpoch?: number;
    steps?: number;
    samples?: number;
    batchSize?: number;
  };
}

/** The parts of a tfjs LayersModel the callback uses. */
export interface ModelLike {
  /** The compiled optimizer (its `learningRate` is read and set). */
  optimizer?: unknown;
  /** Set to stop the fit after the current batch (tfjs checks it). */
  stopTraining?: boolean;
  /** tfjs's `model.summary(lineLength, positions, printFn)`. */
  summary?(lineLength?: number, positions?: number[], printFn?: (m: string) => void): void;
  /** tfjs's `model.save(handlerOrUrl, config)`. */
  save(handler: unknown, config?: unknown): Promise<unknown>;
}

function numbers(logs: Record<string, unknown> | undefined): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [k, v] of Object.entries(logs ?? {})) {
    if (typeof v === "number") out[k] = v;
  }
  return out;
}

/** The segments of `relPath` (a callback's path inside the run); throws for one outside it. */
function insideRun(relPath: string, what: string): string[] {
  const rel = relPath.split(/[\\/]+/).filter((p) => p !== "" && p !== ".");
  if (isAbsolute(relPath) || rel.length === 0 || rel.includes("..")) {
    throw new Error(`${what} ${relPath}: the path must stay inside the run folder`);
  }
  return rel;
}

/** model_io's address, imported at run time only (see `saveCheckpoint` below). */
const MODEL_IO = new URL("../core/run/model_io.ts", import.meta.url).href;

/**
 * What the fit callback uses of a tracked run (`Run` of `./run.ts` has it all; an interface
 * here so the two modules do not import each other).
 */
export interface FitRun {
  /** The run's id. */
  readonly id: string;
  /** The run folder. */
  readonly dir: string;
  /** The last global step logged. */
  readonly step: number;
  /** The last epoch logged. */
  readonly epoch: number;
  /** The run's writer. */
  readonly recorder: RunRecorder;
  /** Logs numbers at a step and/or epoch. */
  log(values: Record<string, number>, at?: { step?: number; epoch?: number }): void;
  /** Records one named number outside the metric records. */
  scalar(name: string, value: number): void;
  /** Appends an event. */
  event(type: string, detail?: Record<string, unknown>): void;
  /** Writes a file under `artifacts/`; gives its path in the run. */
  logArtifact(name: string, data: Uint8Array | string): Promise<string>;
  /** Stores the model summary text. */
  logSummary(text: string): Promise<void>;
  /** Ends the run. */
  finish(options?: { status?: Exclude<RunStatus, "running">; reason?: string }): Promise<void>;
}

/** The `RunLogger` convdeck callbacks write through (`ctx.run`). */
function runLogger(run: FitRun): RunLogger {
  return {
    get id() {
      return run.id;
    },
    get dir() {
      return run.dir;
    },
    event(type, detail = {}) {
      run.event(type, detail);
      return Promise.resolve();
    },
    scalar(name, value) {
      run.scalar(name, value);
    },
    async artifact(relPath, data) {
      const rel = insideRun(relPath, "artifact");
      if (rel.length === 2 && rel[0] === "artifacts") {
        return run.dir + "/" + await run.logArtifact(rel[1], data);
      }
      return await run.recorder.writeFile(rel.join("/"), data);
    },
    async saveCheckpoint(relPath, model, options = {}) {
      const rel = insideRun(relPath, "checkpoint");
      // The checkpoint format with an optimizer's state needs tfjs: model_io is loaded only
      // when a convdeck callback saves (in Deno); the tracking client itself imports no tfjs.
      const { saveModel } = await import(MODEL_IO) as typeof import("../core/run/model_io.ts");
      return await run.recorder.saveCheckpointWith(
        rel.join("/"),
        (path, root) => saveModel(model, path, { ...options, root }),
      );
    },
    warn(message, detail = {}) {
      console.error(`warning: ${message}`);
      run.event("warning", { message, ...detail });
      return Promise.resolve();
    },
  };
}

/** Builds the tfjs callback of `run` (see `Run.fitCallback`). */
export function fitCallback(run: FitRun, options: FitCallbackOptions = {}): TfjsCallback {
  const list = new CallbackList(options.callbacks ?? []);
  if (list.callbacks.length > 0 && !options.model) {
    throw new TypeError(
      "fitCallback(): convdeck callbacks need the model: run.fitCallback({ model, callbacks })",
    );
  }
  const sampler = options.systemMetrics === false ? undefined : new SystemSampler();
  let images = 0; // images trained this epoch (tfjs's batch logs carry `size`)
  const history: HistoryEntry[] = [];
  let model: ModelLike | undefined = options.model;
  let params: TfjsThis["params"] = {};
  let offset = 0; // tracked epoch = offset + tfjs epoch
  let epoch = run.epoch;
  let stop: { reason: string; status: "stopped" | "pruned" } | undefined;
  let batches = 0; // batches of this epoch not yet counted in run.step

  const ctx: TrainContext = {
    get model() {
      if (!model) throw new Error("fitCallback: the model is known once model.fit starts");
      return model as unknown as TrainContext["model"];
    },
    get learningRate() {
      return optimizerLearningRate(model?.optimizer) ?? NaN;
    },
    set learningRate(lr: number) {
      if (model?.optimizer) setOptimizerLearningRate(model.optimizer, lr);
    },
    stopTraining(reason, opts = {}) {
      stop ??= { reason, status: opts.status ?? "stopped" };
      if (model) model.stopTraining = true;
    },
    get stopRequested() {
      return stop !== undefined;
    },
    run: runLogger(run),
    history,
    get epoch() {
      return epoch;
    },
    get step() {
      return run.step;
    },
    get stepsPerEpoch() {
      return params?.steps ??
        (params?.samples && params.batchSize ? Math.ceil(params.samples / params.batchSize) : 0);
    },
    get totalEpochs() {
      return offset + (params?.epochs ?? 0);
    },
    get optimizer() {
      return model?.optimizer as TrainContext["optimizer"];
    },
    callbackStates: () => list.state(),
  };

  return {
    async onTrainBegin(this: TfjsThis | void) {
      const self = (this ?? {}) as TfjsThis;
      model = options.model ?? self.model;
      params = self.params ?? {};
      offset = run.epoch - (params.initialEpoch ?? 0);
      if (model?.summary) {
        const lines: string[] = [];
        try {
          model.summary(undefined, undefined, (l) => lines.push(l));
          await run.logSummary(lines.join("\n"));
        } catch { /* a model without a summary */ }
      }
      run.event("train_begin", { epochs: params.epochs, initialEpoch: params.initialEpoch ?? 0 });
      await list.call("onTrainBegin", ctx);
    },
    async onEpochBegin(e: number) {
      epoch = offset + e;
      batches = 0;
      images = 0;
      sampler?.begin();
      await list.call("onEpochBegin", epoch, ctx);
    },
    async onBatchBegin(batch: number) {
      await list.call("onBatchBegin", batch, ctx);
    },
    async onBatchEnd(batch: number, logs?: Record<string, unknown>) {
      const values = numbers(logs);
      images += values.size ?? 0;
      delete values.batch;
      delete values.size;
      if (options.batches) run.log(values);
      else batches++;
      await list.call("onBatchEnd", batch, freezeLogs(values), ctx);
    },
    async onEpochEnd(e: number, logs?: Record<string, unknown>) {
      epoch = offset + e;
      const values = numbers(logs);
      const lr = optimizerLearningRate(model?.optimizer);
      if (lr !== undefined) values.lr = lr;
      await list.call("onEpochEnd", epoch, freezeLogs(values), ctx);
      const sys = sampler?.end(images) ?? {};
      run.log({ ...values, ...sys }, { epoch, step: run.step + batches });
      batches = 0;
      history.push({ epoch, step: run.step, logs: freezeLogs(values) });
    },
    async onTrainEnd(logs?: Record<string, unknown>) {
      await list.call("onTrainEnd", freezeLogs(numbers(logs)), ctx);
      run.event("train_end", stop ? { reason: stop.reason } : {});
      if (options.finish !== false) {
        await run.finish(stop ? { status: stop.status, reason: stop.reason } : {});
      }
    },
  };
}
