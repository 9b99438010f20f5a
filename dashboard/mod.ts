/**
 * The dashboard: a Hono app over a runs folder (read-only JSON API, live updates over
 * Server-Sent Events, the embedded Preact client), and helpers to serve it.
 *
 * @example
 * ```ts
 * import { serveDashboard } from "./mod.ts";
 * const ac = new AbortController();
 * const { url } = serveDashboard({ runsDir: "runs", port: 0, signal: ac.signal });
 * console.log(`dashboard at ${url}`);
 * ac.abort();
 * ```
 *
 * @module
 */
export { createDashboardApp, type DashboardOptions } from "./app.ts";
export {
  type DashboardServer,
  describeServer,
  isLoopback,
  serveDashboard,
  type ServeOptions,
  startDashboard,
  type StartedDashboard,
} from "./serve.ts";
export { DEFAULT_MAX_POINTS } from "./api/runs.ts";
export { DEFAULT_PREDICT_LIMITS } from "./api/predict.ts";
export { PredictorPool, type PredictorPoolOptions } from "./predictor_pool.ts";
export type {
  ErrorResponse,
  EventsResponse,
  MetricsResponse,
  PredictedActivationsView,
  PredictedClass,
  PredictedGradCamView,
  PredictedImage,
  PredictInfoResponse,
  PredictLimits,
  PredictResponse,
  RunDetail,
  RunListResponse,
  RunSummary,
} from "./api_types.ts";
