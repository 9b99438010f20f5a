/**
 * Client-side access to the dashboard API.
 *
 * @module
 */
import type { MetricsRecord, RunEvent, RunInfo } from "../../core/run/format.ts";
import type { VizIndex } from "../../core/run/viz_format.ts";
import type { EvaluationReport } from "../../core/run/evaluation_format.ts";
import type { RunSummary } from "../server.ts";

export type { EvaluationReport, MetricsRecord, RunEvent, RunInfo, RunSummary, VizIndex };

/** The response of `/api/runs/:id`. */
export interface RunDetail {
  info: RunInfo;
  summary: RunSummary;
  modelSummary: string | null;
  checkpoints: string[];
  hasViz: boolean;
  hasEvaluation: boolean;
}

/** The response of `/api/runs/:id/metrics`. */
export interface MetricsResponse {
  offset: number;
  reset: boolean;
  skipped: number;
  epochs: MetricsRecord[];
  batches: MetricsRecord[];
  totals: { epochs: number; batches: number };
  downsampled: boolean;
}

/** URL of a run's API path. */
export function runUrl(id: string, rest = ""): string {
  return `/api/runs/${encodeURIComponent(id)}${rest}`;
}

/** Fetches JSON or throws with the server's error message. */
export async function getJson<T>(url: string): Promise<T> {
  const res = await fetch(url);
  const body = await res.json().catch(() => ({}));
  if (!res.ok) throw new Error(body?.error ?? `${url}: HTTP ${res.status}`);
  return body as T;
}
