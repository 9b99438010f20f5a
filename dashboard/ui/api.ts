/**
 * Client-side access to the dashboard API.
 *
 * @module
 */
import type {
  EvaluationReport,
  MetricsRecord,
  MetricsResponse,
  RunDetail,
  RunEvent,
  RunInfo,
  RunSummary,
  VizIndex,
} from "../api_types.ts";

export type {
  EvaluationReport,
  MetricsRecord,
  MetricsResponse,
  RunDetail,
  RunEvent,
  RunInfo,
  RunSummary,
  VizIndex,
};

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
