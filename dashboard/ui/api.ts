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
  SweepDetail,
  SweepListResponse,
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
  SweepDetail,
  SweepListResponse,
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

/** The token this page received for state-changing requests (see `origin_check.ts`). */
export function pageToken(): string {
  return document.querySelector<HTMLMetaElement>('meta[name="convdeck-token"]')?.content ?? "";
}

/**
 * Sends a state-changing request (`POST`/`PUT`/`PATCH`/`DELETE`) with the page's token and
 * returns the JSON answer, or throws with the server's error message.
 */
export async function sendJson<T>(
  url: string,
  method: "POST" | "PUT" | "PATCH" | "DELETE",
  body?: unknown,
): Promise<T> {
  const res = await fetch(url, {
    method,
    headers: {
      "Content-Type": "application/json",
      "X-Convdeck-Token": pageToken(),
    },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const answer = await res.json().catch(() => ({}));
  if (!res.ok) throw new Error(answer?.error ?? `${url}: HTTP ${res.status}`);
  return answer as T;
}
