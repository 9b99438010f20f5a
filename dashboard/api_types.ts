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
