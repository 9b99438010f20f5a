/**
 * Client-side access to the dashboard API.
 *
 * @module
 */
export type {
  Cell,
  ColumnInfo,
  DeleteResponse,
  EvaluationReport,
  MetaEdit,
  MetaResponse,
  MetricsRecord,
  MetricsResponse,
  RunDetail,
  RunEvent,
  RunInfo,
  RunListResponse,
  RunStateEvent,
  RunSummary,
  SweepDetail,
  SweepListResponse,
  TableGroup,
  VizIndex,
} from "../api_types.ts";

/** URL of a run's API path. */
export function runUrl(id: string, rest = ""): string {
  return `/api/runs/${encodeURIComponent(id)}${rest}`;
}

/** An error answer of the API, with its HTTP status (4xx: asking again will not help). */
export class ApiError extends Error {
  /** The HTTP status. */
  readonly status: number;
  /** The server's message. */
  constructor(message: string, status: number) {
    super(message);
    this.status = status;
  }
}

/** Fetches JSON or throws an {@linkcode ApiError} with the server's error message. */
export async function getJson<T>(url: string): Promise<T> {
  const res = await fetch(url);
  const body = await res.json().catch(() => ({}));
  if (!res.ok) throw new ApiError(body?.error ?? `${url}: HTTP ${res.status}`, res.status);
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

/**
 * Posts a `multipart/form-data` body (file uploads) with the page's token and returns the
 * JSON answer, or throws with the server's error message (a 413 says the upload limit).
 *
 * @example
 * ```ts ignore
 * const form = new FormData();
 * form.append("image", file);
 * const res = await sendForm<PredictResponse>(runUrl(id, "/predict?topK=3"), form);
 * ```
 */
export async function sendForm<T>(url: string, form: FormData): Promise<T> {
  const res = await fetch(url, {
    method: "POST",
    headers: { "X-Convdeck-Token": pageToken() },
    body: form,
  });
  const answer = await res.json().catch(() => ({}));
  if (!res.ok) throw new Error(answer?.error ?? `${url}: HTTP ${res.status}`);
  return answer as T;
}
