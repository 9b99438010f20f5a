/**
 * The dashboard's response types: one module imported by the server's apps and by the
 * browser client (`ui/api.ts`), so both sides agree on every field.
 *
 * @module
 */
import type { MetricsRecord, RunEvent, RunInfo } from "../core/run/format.ts";
import type { VizIndex } from "../core/run/viz_format.ts";
import type { EvaluationReport } from "../core/run/evaluation_format.ts";
import type { Cell } from "../core/run/summary.ts";
import type { ColumnInfo, TableGroup } from "../core/run/query.ts";
import type { MetaEdit, RunMeta } from "../core/run/meta.ts";

export type {
  Cell,
  ColumnInfo,
  EvaluationReport,
  MetaEdit,
  MetricsRecord,
  RunEvent,
  RunInfo,
  RunMeta,
  TableGroup,
  VizIndex,
};

/** The summary of a run shown in the run list. */
export interface RunSummary {
  /** Run id (directory name). */
  id: string;
  /** Experiment name. */
  experiment: string | null;
  /**
   * Status from run.json, `crashed` for a `running` run whose process is gone (derived from
   * its heartbeat), or `invalid` when run.json cannot be read.
   */
  status: RunInfo["status"] | "crashed" | "invalid";
  /** Why a crashed run is judged dead. */
  crashReason?: string;
  /** The command that continues a crashed or stopped run. */
  resumeCommand?: string;
  /** Display name from the metadata sidecar. */
  name?: string;
  /** Tags from the sidecar. */
  tags: string[];
  /** Note from the sidecar. */
  note?: string;
  /** Archived (hidden unless asked for). */
  archived: boolean;
  /** Why the metadata sidecar could not be used. */
  metaProblem?: string;
  /** The run's cells by column key (see `columns` of the list). */
  cells: Record<string, Cell>;
  /** Why run.json cannot be read. */
  error?: string;
  /** Fields of run.json that had the wrong type and were ignored. */
  problems?: string[];
  /** Why training stopped early. */
  stopReason?: string;
  /** ISO creation time. */
  createdAt: string | null;
  /** Wall time from creation to end (or to the last update while running), in ms. */
  durationMs: number | null;
  /** Finished epochs. */
  epochs: number;
  /** Best values of `val_*` metrics and `loss`/`acc` with their epoch. */
  best: RunInfo["best"] | null;
}

/**
 * The response of `/api/runs` (query parameters `q`, `sort`, `desc=1`, `group`,
 * `archived=1`, `offset`, `limit`).
 */
export interface RunListResponse {
  /** Runs in the folder. */
  total: number;
  /** Runs matching the query (archived ones excluded unless asked for). */
  matched: number;
  /** Archived runs that matched but were left out. */
  archivedHidden: number;
  /** Every column found in the folder. */
  columns: ColumnInfo[];
  /** The page asked for (empty when grouping). */
  runs: RunSummary[];
  /** The page of groups, when `group` was given. */
  groups?: TableGroup[];
  /** Groups in all, when grouping. */
  groupCount?: number;
}

/** The response of `PATCH /api/runs/:id/meta`. */
export interface MetaResponse {
  /** The sidecar after the edit. */
  meta: RunMeta;
}

/** The response of `DELETE /api/runs/:id`. */
export interface DeleteResponse {
  /** The run moved to the trash. */
  id: string;
  /** Always true. */
  trashed: true;
}

/** The response of `/api/runs/:id`. */
export interface RunDetail {
  /** The validated run.json. */
  info: RunInfo;
  /** The list summary. */
  summary: RunSummary;
  /** model.txt, or null. */
  modelSummary: string | null;
  /** Checkpoint folder names. */
  checkpoints: string[];
  /** Whether `/viz` has anything. */
  hasViz: boolean;
  /** Whether `/evaluation` has a report. */
  hasEvaluation: boolean;
}

/**
 * The data of the live stream's `state` event: the run's derived state, sent when the stream
 * opens and whenever it changes (a `running` run whose process died becomes `crashed` without
 * any file changing, so the stream watches the heartbeat for it).
 *
 * @example
 * ```ts
 * import type { RunStateEvent } from "./api_types.ts";
 * const e: RunStateEvent = { status: "crashed", crashReason: "dead-process" };
 * ```
 */
export interface RunStateEvent {
  /** The derived state (as `RunSummary.status`). */
  status: RunSummary["status"];
  /** Why a crashed run is judged dead. */
  crashReason?: RunSummary["crashReason"];
  /** The command that continues a crashed or stopped run. */
  resumeCommand?: string;
}

/** The response of `/api/runs/:id/metrics`. */
export interface MetricsResponse {
  /** Offset to pass as `since` (or to the stream as `metricsSince`). */
  offset: number;
  /** True when the file was replaced since the offset asked for. */
  reset: boolean;
  /** Malformed lines skipped. */
  skipped: number;
  /** Epoch records (downsampled by bucket min/max past `maxPoints`). */
  epochs: MetricsRecord[];
  /** Batch records (downsampled likewise). */
  batches: MetricsRecord[];
  /** Record counts before downsampling. */
  totals: { epochs: number; batches: number };
  /** Whether anything was downsampled. */
  downsampled: boolean;
}

/** The response of `/api/runs/:id/events`. */
export interface EventsResponse {
  /** Events after `since`. */
  events: RunEvent[];
  /** Offset to pass as `since` next time. */
  offset: number;
  /** Malformed lines skipped. */
  skipped: number;
}

/** The body of every error response. */
export interface ErrorResponse {
  /** What went wrong, with paths relative to the runs folder and no file contents. */
  error: string;
}

/**
 * A class and its probability (a row of a prediction's top-k).
 *
 * @example
 * ```ts
 * import type { PredictedClass } from "./api_types.ts";
 * const row: PredictedClass = { class: 2, name: "muffin", prob: 0.91 };
 * ```
 */
export interface PredictedClass {
  /** Class index. */
  class: number;
  /** Class name. */
  name: string;
  /** Softmax probability. */
  prob: number;
}

/**
 * Upload limits of `POST /api/runs/:id/predict`.
 *
 * @example
 * ```ts
 * import type { PredictLimits } from "./api_types.ts";
 * const limits: PredictLimits = {
 *   maxImages: 16,
 *   maxImageBytes: 8 << 20,
 *   maxUploadBytes: 32 << 20,
 *   maxPixels: 40e6,
 * };
 * ```
 */
export interface PredictLimits {
  /** Images per request at most. */
  maxImages: number;
  /** Bytes per image file at most. */
  maxImageBytes: number;
  /** Bytes per request (the whole multipart body) at most. */
  maxUploadBytes: number;
  /** Decoded pixels per image at most (sharp's pixel limit). */
  maxPixels: number;
}

/**
 * The response of `GET /api/runs/:id/predict`: what predicting with the run uses.
 *
 * @example
 * ```ts ignore
 * import type { PredictInfoResponse } from "./api_types.ts";
 * const info: PredictInfoResponse = await (await fetch("/api/runs/default-1/predict")).json();
 * console.log(info.weights.name, info.convLayers.at(-1), info.limits.maxImages);
 * ```
 */
export interface PredictInfoResponse {
  /** Run id. */
  run: string;
  /** The weights used: checkpoint name under `checkpoints/` and its kind. */
  weights: { name: string; kind: "best" | "checkpoint" | "resume" };
  /** Class names by index. */
  classNames: string[];
  /** The model's conv layers in order (the Grad-CAM and activation layer choices). */
  convLayers: string[];
  /** Model input `[height, width, channels]`. */
  inputShape: [number, number, number];
  /** How an image becomes model input, one line (e.g. `sharp squash to 32x32, RGB, x / 255`). */
  preprocessing: string;
  /** Fallbacks used for facts an older run did not record. */
  notes: string[];
  /** Upload limits. */
  limits: PredictLimits;
}

/**
 * Grad-CAM of an uploaded image for its top class.
 *
 * @example
 * ```ts
 * import type { PredictedGradCamView } from "./api_types.ts";
 * const show = (cam: PredictedGradCamView) => `<img src="${cam.png}" alt="${cam.layer}">`;
 * ```
 */
export interface PredictedGradCamView {
  /** The conv layer used. */
  layer: string;
  /** The class explained (the top class). */
  class: number;
  /** The overlay over the image the model saw, as a `data:image/png;base64,` URL. */
  png: string;
  /** Overlay width in pixels (the model's input width). */
  width: number;
  /** Overlay height in pixels. */
  height: number;
}

/**
 * The activation maps of one conv layer for an uploaded image.
 *
 * @example
 * ```ts
 * import type { PredictedActivationsView } from "./api_types.ts";
 * const caption = (a: PredictedActivationsView) =>
 *   `${a.layer}: ${a.count} of ${a.shape[2]} channels, ${a.shape[0]}x${a.shape[1]}`;
 * ```
 */
export interface PredictedActivationsView {
  /** Layer name. */
  layer: string;
  /** `[height, width, channels]` of the layer's output. */
  shape: [number, number, number];
  /** Mosaic (one viridis tile per channel, 1 px apart) as a `data:image/png;base64,` URL. */
  png: string;
  /** Tiles per row. */
  cols: number;
  /** Rows of tiles. */
  rows: number;
  /** Tile width. */
  tileW: number;
  /** Tile height. */
  tileH: number;
  /** Channels drawn. */
  count: number;
}

/**
 * One uploaded image's prediction, or why it has none.
 *
 * @example
 * ```ts
 * import type { PredictedImage } from "./api_types.ts";
 * const line = (r: PredictedImage) =>
 *   r.ok ? `${r.name}: ${r.top[0].name} ${(r.top[0].prob * 100).toFixed(1)}%` : `${r.name}: ${r.error}`;
 * ```
 */
export type PredictedImage =
  | {
    /** Classified. */
    ok: true;
    /** The uploaded file's name. */
    name: string;
    /** The most probable classes, most probable first. */
    top: PredictedClass[];
    /** Probability of every class, by class index. */
    probabilities: number[];
    /** Grad-CAM for the top class. */
    gradCam?: PredictedGradCamView;
    /** Why there is no Grad-CAM for this model. */
    gradCamError?: string;
    /** Activation maps of the requested layer. */
    activations?: PredictedActivationsView[];
  }
  | {
    /** Not classified. */
    ok: false;
    /** The uploaded file's name. */
    name: string;
    /** What is wrong with it (not an image, truncated, too many pixels ...). */
    error: string;
  };

/**
 * The response of `POST /api/runs/:id/predict`.
 *
 * @example
 * ```ts ignore
 * import type { PredictResponse } from "./api_types.ts";
 * const form = new FormData();
 * form.append("image", file);
 * const res: PredictResponse = await (await fetch("/api/runs/default-1/predict?topK=3", {
 *   method: "POST",
 *   headers: { "X-Convdeck-Token": token },
 *   body: form,
 * })).json();
 * ```
 */
export interface PredictResponse {
  /** Run id. */
  run: string;
  /** The weights used. */
  weights: { name: string; kind: "best" | "checkpoint" | "resume" };
  /** One result per uploaded image, in upload order. */
  results: PredictedImage[];
  /** Milliseconds the prediction took on the server (decode, forward pass, Grad-CAM, maps). */
  ms: number;
}

/** A sweep in the sweep list (`/api/sweeps`). */
export interface SweepListEntry {
  /** The sweep id (its folder's name). */
  id: string;
  /** Experiment name or file. */
  experiment: string;
  /** `grid` or `random`. */
  method: "grid" | "random";
  /** The metric and its direction. */
  metric: string;
  /** `min` or `max`. */
  direction: "min" | "max";
  /** `median`, `asha` or null. */
  pruner: string | null;
  /** ISO creation time. */
  createdAt: string;
  /** Trials in all. */
  total: number;
  /** Trials by state (pending, running, completed, pruned, failed, stopped). */
  counts: Record<string, number>;
  /** The best completed trial (else the best pruned one). */
  best: { key: string; value: number } | null;
  /** Epochs the pruned trials did not train. */
  epochsSavedByPruning: number;
}

/** The response of `/api/sweeps`. */
export interface SweepListResponse {
  /** Sweeps, newest first. */
  sweeps: SweepListEntry[];
}

/** One trial of a sweep (`/api/sweeps/:id`). */
export interface SweepTrial {
  /** `t000` ... */
  key: string;
  /** pending, running, completed, pruned, failed or stopped. */
  status: string;
  /** The trial's parameters. */
  params: Record<string, number | string | boolean>;
  /** Best value of the sweep metric. */
  value: number | null;
  /** Finished epochs. */
  epochs: number;
  /** Why it was pruned, stopped or failed. */
  reason: string | null;
  /** Its run's id in this dashboard's runs folder (null before it starts). */
  runId: string | null;
  /** The sweep metric per finished epoch (null where missing). */
  curve: (number | null)[];
}

/** The response of `/api/sweeps/:id`. */
export interface SweepDetail extends SweepListEntry {
  /** The parameters searched, in the spec's order. */
  parameters: string[];
  /** The spec as recorded (JSON). */
  spec: Record<string, unknown>;
  /** Every trial in order. */
  trials: SweepTrial[];
}
