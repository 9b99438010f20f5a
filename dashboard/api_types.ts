/**
 * The dashboard's response types: one module imported by the server's apps and by the
 * browser client (`ui/api.ts`), so both sides agree on every field.
 *
 * @module
 */
import type { MetricsRecord, RunEvent, RunInfo } from "../core/run/format.ts";
import type { VizIndex } from "../core/run/viz_format.ts";
import type { EvaluationReport } from "../core/run/evaluation_format.ts";

export type { EvaluationReport, MetricsRecord, RunEvent, RunInfo, VizIndex };

/** The summary of a run shown in the run list. */
export interface RunSummary {
  /** Run id (directory name). */
  id: string;
  /** Experiment name. */
  experiment: string | null;
  /** Status from run.json (or `invalid` when run.json cannot be read). */
  status: RunInfo["status"] | "invalid";
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

/** The response of `/api/runs`. */
export interface RunListResponse {
  /** Runs in the folder. */
  total: number;
  /** The page asked for. */
  runs: RunSummary[];
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
