/**
 * A run of the tracking API: what `init()` returns. `log()` checks its input at the call and
 * buffers the record (never waiting on the disk); images, artifacts and models go into the
 * run folder; `finish()` ends it. The files are the trainer's, so the runs table, queries,
 * compare, the live page, tags, notes and delete work on it.
 *
 * @module
 */
import type { MetricsRecord, RunStatus } from "../core/run/format.ts";
import type { RunRecorder } from "../core/run/recorder.ts";
import { checkArtifactName, checkImageName, imagePath } from "../core/run/tracked_files.ts";
import type { LayersModelLike } from "../core/run/checkpoint_writer.ts";
import { forgetRun } from "./exit_hooks.ts";
import { fitCallback, type FitCallbackOptions, type TfjsCallback } from "./fit_callback.ts";

/** Where a record belongs: its global step and/or its 0-based epoch. */
export interface LogPosition {
  /** The global step (default: one more than the last). Never less than the last. */
  step?: number;
  /** The 0-based epoch: the record is that epoch's record (best/last, one chart point). */
  epoch?: number;
}

/** How a run ends. */
export interface FinishOptions {
  /** `completed` (default), `stopped`, `pruned` or `failed`. */
  status?: Exclude<RunStatus, "running">;
  /** Why it stopped, or the error of a failed run. */
  reason?: string;
}

/** What {@linkcode Run.saveModel} records with the model so evaluate and predict work. */
export interface SaveModelInfo {
  /** Class names by label index. */
  classes?: string[];
  /** `[height, width, channels]` of the model's input images. */
  input?: [number, number, number];
  /** Checkpoint name under checkpoints/ (default `best`). */
  name?: string;
}

const RESERVED = new Set(["epoch", "step", "time", "batch"]);

function checkKey(key: string): void {
  // deno-lint-ignore no-control-regex
  if (key === "" || key.length > 200 || /[\n\r\u0000-\u001f]/.test(key)) {
    throw new TypeError(
      `log(): metric name ${JSON.stringify(key.slice(0, 60))} is empty, too long or holds a ` +
        `newline or control character; use plain names like "val_loss"`,
    );
  }
  if (RESERVED.has(key)) {
    throw new TypeError(
      `log(): "${key}" is not a metric; pass it as the second argument, ` +
        `run.log({ loss }, { ${key === "time" ? "step" : key}: ... })`,
    );
  }
}

/** A run being tracked (see `init`). */
export class Run {
  readonly #rec: RunRecorder;
  #step: number;
  #epoch: number;
  /** Step of the last epoch record (batch indices count from it). */
  #epochStep: number;
  #keys = new Set<string>();
  #nonFinite = new Set<string>();
  #pending: Record<string, number> = {};
  #finished = false;

  /** @internal Created by `init()`. */
  constructor(recorder: RunRecorder) {
    this.#rec = recorder;
    this.#step = recorder.info.steps;
    this.#epoch = recorder.info.epochs;
    this.#epochStep = recorder.info.steps;
  }

  /** The run id (its folder's name; pass it to `init({ resume })`). */
  get id(): string {
    return this.#rec.id;
  }

  /** Absolute path of the run folder. */
  get dir(): string {
    return this.#rec.dir;
  }

  /** The last step logged (0 before the first). */
  get step(): number {
    return this.#step;
  }

  /** The epoch the next step record belongs to (the number of epochs logged so far). */
  get epoch(): number {
    return this.#epoch;
  }

  /** True once the run has ended. */
  get finished(): boolean {
    return this.#finished || this.#rec.ended;
  }

  /** @internal The recorder (for the fit callback). */
  get recorder(): RunRecorder {
    return this.#rec;
  }

  #assertLive(what: string): void {
    if (this.finished) {
      throw new Error(`${what} after finish(): run ${this.id} has ended; init() a new run`);
    }
  }

  /**
   * Records metric values. Without `epoch`, a step record (the step counts itself); with
   * `epoch`, that epoch's record (its values are the run's `last`, and `best` for metrics with
   * a direction). Returns at once: the record is written within a second. Throws at the call
   * for a value that is not a number, a name with a newline, a step or epoch going backwards,
   * or a log after `finish()`. A non-finite value is recorded as JSON `null` (NaN), as the
   * trainer does, with a `nan_value` event the first time for each metric.
   */
  log(values: Record<string, number>, at: LogPosition = {}): void {
    this.#assertLive("log()");
    if (typeof values !== "object" || values === null || Array.isArray(values)) {
      throw new TypeError("log(): pass an object of metric values, e.g. run.log({ loss: 0.3 })");
    }
    const step = at.step ?? (at.epoch === undefined ? this.#step + 1 : this.#step);
    if (!Number.isInteger(step) || step < this.#step) {
      throw new RangeError(
        `log(): step ${at.step} ${
          Number.isInteger(step)
            ? `goes backwards (the last was ${this.#step})`
            : "is not an integer"
        }; steps only grow (omit step to count automatically)`,
      );
    }
    if (at.epoch !== undefined && (!Number.isInteger(at.epoch) || at.epoch < this.#epoch)) {
      throw new RangeError(
        `log(): epoch ${at.epoch} ${
          Number.isInteger(at.epoch) && at.epoch >= 0
            ? `goes backwards (epochs ${this.#epoch} and on are next)`
            : "is not a non-negative integer"
        }`,
      );
    }
    let nonFinite: string | undefined;
    for (const k in values) {
      const v = values[k];
      if (typeof v !== "number") {
        throw new TypeError(
          `log(): ${JSON.stringify(k)} is ${v === null ? "null" : typeof v}, not a number; ` +
            `log numbers only (strings go in init({ config }) or a note)`,
        );
      }
      if (!this.#keys.has(k)) {
        checkKey(k);
        this.#keys.add(k);
      }
      if (v - v !== 0 && !this.#nonFinite.has(k)) nonFinite = k;
    }
    const time = Date.now();
    if (at.epoch !== undefined) {
      const record: MetricsRecord = { epoch: at.epoch, step, time, ...this.#pending, ...values };
      this.#pending = {};
      this.#epoch = at.epoch + 1;
      this.#epochStep = step;
      this.#step = step;
      this.#rec.record(record);
    } else {
      // The hot path (a record per step): the JSON line is written without copying `values`.
      const batch = step - this.#epochStep - 1;
      const body = JSON.stringify(values);
      const json = `{"epoch":${this.#epoch},"step":${step},"time":${time},"batch":${batch}` +
        (body.length > 2 ? `,${body.slice(1)}` : "}");
      this.#step = step;
      this.#rec.recordStep(this.#epoch, step, values, json);
    }
    if (nonFinite !== undefined) this.#reportNonFinite(values);
  }

  #reportNonFinite(values: Record<string, number>): void {
    for (const [k, v] of Object.entries(values)) {
      if (Number.isFinite(v) || this.#nonFinite.has(k)) continue;
      this.#nonFinite.add(k);
      this.#rec.event("nan_value", {
        metric: k,
        value: String(v),
        reason: `${k} was ${v} at step ${this.#step}; recorded as null (JSON has no NaN)`,
      });
    }
  }

  /** Adds values to the next epoch record (what convdeck callbacks' `ctx.run.scalar` does). */
  scalar(name: string, value: number): void {
    this.#assertLive("scalar()");
    if (typeof value !== "number") throw new TypeError(`scalar(): ${name} is not a number`);
    checkKey(name);
    this.#pending[name] = value;
  }

  /** Appends an event (`lr_changed`, `early_stopped`, your own) with the current step. */
  event(type: string, detail: Record<string, unknown> = {}): void {
    this.#assertLive("event()");
    if (!/^[A-Za-z0-9_.:-]{1,64}$/.test(type)) {
      throw new TypeError(`event(): type ${JSON.stringify(type)} must be a short plain name`);
    }
    this.#rec.event(type, detail);
  }

  /**
   * Stores a PNG image under `images/<name>/` for `step` (default: the current step), with an
   * `image_logged` event. Returns the path relative to the run folder.
   */
  async logImage(name: string, png: Uint8Array, at: { step?: number } = {}): Promise<string> {
    this.#assertLive("logImage()");
    checkImageName(name);
    if (!(png instanceof Uint8Array) || png[0] !== 0x89 || png[1] !== 0x50) {
      throw new TypeError(`logImage(${JSON.stringify(name)}): pass the bytes of a PNG file`);
    }
    const step = at.step ?? this.#step;
    const rel = imagePath(name, step);
    await this.#rec.writeFile(rel, png);
    this.#rec.event("image_logged", { name, file: rel, step });
    return rel;
  }

  /**
   * Stores a file under `artifacts/` (a plain name like `confusion.csv`), with an
   * `artifact_logged` event. Returns the path relative to the run folder.
   */
  async logArtifact(name: string, data: Uint8Array | string): Promise<string> {
    this.#assertLive("logArtifact()");
    const rel = checkArtifactName(name);
    await this.#rec.writeFile(rel, data);
    this.#rec.event("artifact_logged", { name, file: rel });
    return rel;
  }

  /** Writes the model summary (model.txt, shown on the run page). */
  async logSummary(text: string): Promise<void> {
    this.#assertLive("logSummary()");
    await this.#rec.writeSummary(text);
  }

  /**
   * Saves a tfjs LayersModel into `checkpoints/<name>` (default `best`) in the trainer's
   * checkpoint format, and records `classes` and `input` in run.json, so `deno task evaluate`,
   * `deno task predict` and the dashboard work on the run.
   */
  async saveModel(model: LayersModelLike, info: SaveModelInfo = {}): Promise<string> {
    this.#assertLive("saveModel()");
    const name = info.name ?? "best";
    if (!/^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/.test(name)) {
      throw new TypeError(`saveModel(): name ${JSON.stringify(name)} must be a plain folder name`);
    }
    if (info.input !== undefined) {
      const ok = Array.isArray(info.input) && info.input.length === 3 &&
        info.input.every((d) => Number.isInteger(d) && d > 0);
      if (!ok) throw new TypeError("saveModel(): input must be [height, width, channels]");
    }
    if (info.classes !== undefined && !info.classes.every((c) => typeof c === "string")) {
      throw new TypeError("saveModel(): classes must be strings (class names by label index)");
    }
    const saved = await this.#rec.saveModel(model, name);
    const dataset = { ...(this.#rec.info.dataset ?? {}) };
    if (info.classes) dataset.classes = [...info.classes];
    if (info.input) dataset.imageShape = [...info.input];
    this.#rec.patchInfo({ dataset });
    this.#rec.event("checkpoint_saved", { name, weightsSha256: saved.weightsSha256 });
    return saved.dir;
  }

  /**
   * A callback for tfjs `model.fit` / `model.fitDataset`: records epoch (and with
   * `batches: true`, batch) logs, the learning rate, the model summary and system metrics,
   * runs convdeck callbacks given in `callbacks`, and finishes the run with the fit.
   */
  fitCallback(options: FitCallbackOptions = {}): TfjsCallback {
    this.#assertLive("fitCallback()");
    return fitCallback(this, options);
  }

  /** Writes everything buffered now (normally within a second anyway). */
  async flush(): Promise<void> {
    await this.#rec.flush();
  }

  /** Ends the run: `completed` unless told otherwise. Idempotent. */
  async finish(options: FinishOptions = {}): Promise<void> {
    if (this.finished) return;
    this.#finished = true;
    forgetRun(this.#rec);
    const status = options.status ?? "completed";
    if (status === "running" as string) throw new TypeError("finish(): status cannot be running");
    const detail = options.reason === undefined
      ? {}
      : status === "failed"
      ? { error: options.reason }
      : { stopReason: options.reason };
    await this.#rec.finish(status, detail);
  }
}
