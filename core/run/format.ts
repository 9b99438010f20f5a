/**
 * The run directory's file formats (see README "Run directory"). Everything a run writes is
 * described here; the writer and the reader both use these types.
 *
 * ```
 * runs/<run-id>/
 *   run.json        RunInfo (write-then-rename)
 *   metrics.jsonl   MetricsRecord per line (appended, whole lines)
 *   events.jsonl    RunEvent per line (appended, whole lines)
 *   model.txt       the model summary
 *   checkpoints/    <name>/model.json + weights.bin + state.json
 *   artifacts/      files logged by callbacks and the tracking API
 *   images/         images logged by the tracking API (<name>/<step>.png)
 *   viz/            visualisations logged by callbacks
 * ```
 *
 * @module
 */

/** The life-cycle states a run.json may hold. */
export const RUN_STATUSES = ["running", "completed", "stopped", "pruned", "failed"] as const;

/** The life-cycle state of a run. */
export type RunStatus = typeof RUN_STATUSES[number];

/** The content of `run.json`. */
export interface RunInfo {
  /** Format version of the run directory. */
  format: 1;
  /** `<experiment>-<yyyymmdd-hhmmss>[-n]`, also the directory name. */
  id: string;
  /** The experiment's name. */
  experiment: string;
  /** Current status; `running` also for a run whose process died (see `heartbeat`). */
  status: RunStatus;
  /** Why training stopped early (early stopping, NaN loss, Ctrl-C, a sweep's pruner ...). */
  stopReason?: string;
  /** The error message of a failed run. */
  error?: string;
  /** Hyperparameters and options as resolved at start (epochs, batchSize, lr, seed, ...). */
  config: Record<string, unknown>;
  /** The chosen tfjs backend and why it was chosen. */
  backend?: { name: string; reason: string };
  /** Versions of convdeck, Deno, tfjs. */
  versions: Record<string, string>;
  /** Dataset facts (name, classes, sizes, skipped files ...). */
  dataset?: Record<string, unknown>;
  /** ISO times. */
  createdAt: string;
  /** ISO time of the last update of this file. */
  updatedAt: string;
  /** ISO time at which the run ended (completed, stopped or failed). */
  endedAt?: string;
  /** Process id of the last process that trained this run. */
  pid?: number;
  /** Number of finished epochs. */
  epochs: number;
  /** Global optimizer steps so far. */
  steps: number;
  /** Test-set result written after training. */
  test?: { accuracy: number; examples: number };
  /** Best value of each `val_*` metric (and `loss`/`acc`) with its epoch. */
  best?: Record<string, { value: number; epoch: number }>;
  /** Every numeric value of the last epoch record (metrics and system metrics). */
  last?: Record<string, number>;
  /**
   * Set for a run written by the tracking API (`track/`, a user's own script) rather than
   * `deno task train`: it is resumed by rerunning that script with `init({ resume })`.
   */
  tracked?: TrackedRunInfo;
  /** The model's layers (Sequential-like models) with their receptive fields. */
  model?: { layers: RunModelLayer[] };
}

/** One layer of the model as `run.json` records it (the model summary's rows). */
export interface RunModelLayer {
  /** Layer name, e.g. `conv2d_2`. */
  name: string;
  /** Layer class, e.g. `Conv2D`. */
  className: string;
  /** Output shape, `null` for the batch dimension. */
  outputShape: (number | null)[];
  /** Parameter count. */
  params: number;
  /**
   * What one output position sees of the input: `size` and `jump` (input pixels between
   * neighbouring positions) as `[y, x]`, `start` the centre of position 0's field; `global`
   * once every position is mixed.
   */
  receptiveField: {
    size: [number, number];
    jump: [number, number];
    start: [number, number];
    global?: boolean;
  };
}

/** What run.json records of a run written by the tracking API. */
export interface TrackedRunInfo {
  /** The runtime that wrote it: `deno` or `node`, with its version. */
  runtime: string;
  /** Directions declared for the run's own metrics (`init({ metrics })`). */
  metrics?: Record<string, "min" | "max">;
}

/**
 * One line of `metrics.jsonl`. Epoch records carry the epoch's logs; batch records (written
 * every N batches for live curves) carry a `batch` key as well.
 */
export interface MetricsRecord {
  /** 0-based epoch. */
  epoch: number;
  /** Global optimizer step at the time of the record. */
  step: number;
  /** Unix time in milliseconds. */
  time: number;
  /** Batch index inside the epoch; present only on batch records. */
  batch?: number;
  /** Metric values: `loss`, `acc`, `val_loss`, `val_acc`, `lr`, ... */
  [metric: string]: number | undefined;
}

/** Well-known event types (others are allowed). */
export type KnownEventType =
  | "train_begin"
  | "train_end"
  | "resumed"
  | "lr_changed"
  | "early_stopped"
  | "stop_requested"
  | "checkpoint_saved"
  | "overfitting_detected"
  | "nan_loss"
  | "warning"
  | "interrupted"
  | "pruned"
  | "failed";

/** One line of `events.jsonl`. */
export interface RunEvent {
  /** What happened (see {@link KnownEventType}). */
  type: KnownEventType | (string & Record<never, never>);
  /** The 0-based epoch it happened in. */
  epoch: number;
  /** Global step at the time. */
  step: number;
  /** Unix time in milliseconds. */
  time: number;
  /** Free-form, JSON-serialisable detail. */
  [key: string]: unknown;
}

/**
 * File names inside a run directory. Only `core/run/` uses them: everything else goes through
 * the readers and writers of this folder.
 */
export const RUN_FILES = {
  info: "run.json",
  metrics: "metrics.jsonl",
  events: "events.jsonl",
  summary: "model.txt",
  checkpoints: "checkpoints",
  artifacts: "artifacts",
  images: "images",
  viz: "viz",
  vizIndex: "viz/index.json",
  evaluation: "evaluation.json",
  trainingCsv: "training.csv",
  heartbeat: "heartbeat",
  meta: "meta.json",
  metaLock: "meta.json.lock",
} as const;

/** The folder inside a runs folder that deleted runs are moved to (emptied by `runs gc`). */
export const TRASH_DIR = ".trash";

/** The file inside a runs folder that caches run summaries (see `index.ts`). */
export const INDEX_FILE = ".convdeck-index.json";
