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
