/**
 * The dashboard's Hono app: small apps composed with `app.route()` (the runs API and the live
 * streams over a shared {@linkcode RunStore}), Hono's `secureHeaders` with a same-origin CSP,
 * the Host check, one error path (`HTTPException` carries the status; messages never carry
 * absolute paths), the embedded client bundle, and the HTML shell for every client route.
 *
 * @example
 * ```ts
 * import { createDashboardApp } from "./app.ts";
 * const app = createDashboardApp({ runsDir: "runs" });
 * const res = await app.request("/api/runs");
 * console.log(res.status, await res.json());
 * ```
 *
 * @module
 */
import { Hono } from "hono";
import { join } from "node:path";
import type { Context } from "hono";
import { secureHeaders } from "hono/secure-headers";
import { HTTPException } from "hono/http-exception";
import { FsError } from "../core/fs/confine.ts";
import { CONTENT_SECURITY_POLICY, indexHtml } from "./html.ts";
import { hostCheck } from "./host_check.ts";
import { originCheck } from "./origin_check.ts";
import { tokenGate } from "./token_gate.ts";
import { loadAsset } from "./assets.ts";
import { RunStore } from "./run_store.ts";
import { runsApi } from "./api/runs.ts";
import { streamApi } from "./api/stream.ts";
import { predictApi } from "./api/predict.ts";
import { PredictorPool } from "./predictor_pool.ts";
import { sweepsApi } from "./api/sweeps.ts";
import { exportApi } from "./api/export.ts";
import type { ErrorResponse, PredictLimits } from "./api_types.ts";

/** Options of {@link createDashboardApp}. */
export interface DashboardOptions {
  /** The runs directory to serve (read-only). */
  runsDir: string;
  /** The sweeps directory (read-only; default: `sweeps` next to the runs directory). */
  sweepsDir?: string;
  /** How often live streams look for changes, in ms (default 250). */
  pollMs?: number;
  /** Host names answered besides loopback names (the bound address, `--allow-host`). */
  allowedHosts?: readonly string[];
  /**
   * The token state-changing requests must carry (handed to the page in its HTML); default a
   * random one per app.
   */
  token?: string;
  /**
   * Every request must carry the token (`?token=` once, then a cookie): for a dashboard
   * reachable from other machines.
   */
  requireToken?: boolean;
  /** Models kept loaded for predictions (default: a pool of 3 runs); pass one to dispose it. */
  predictors?: PredictorPool;
  /** Upload limits of the predict API (default `DEFAULT_PREDICT_LIMITS`). */
  predictLimits?: Partial<PredictLimits>;
  /** Start reading the run index at once, so the first page finds it ready (default false). */
  warm?: boolean;
}

/** Turns any error into a JSON response without absolute paths or file contents. */
function errorResponse(err: Error, c: Context, store: RunStore): Response {
  const clean = (m: string) => store.relative(m);
  let status = 500;
  let message = "internal error (see the dashboard's console)";
  if (err instanceof HTTPException) {
    status = err.status;
    message = err.message;
  } else if (err instanceof FsError) {
    status = err.status;
    message = err.message;
  } else if (/^cannot read |is not valid JSON|not a convdeck run|has status /.test(err.message)) {
    status = 422;
    message = err.message.replace(/ \(.*$/s, "");
  } else {
    console.error(err);
  }
  const body: ErrorResponse = { error: clean(message) };
  return c.json(body, status as 400);
}

/**
 * Creates the dashboard's Hono app over `runsDir` (usable with `app.request` in tests, or
 * with any server). Routes: `GET /api/runs`, `/api/runs/:id`, `/api/runs/:id/metrics`,
 * `/metrics.csv`, `/events`, `/viz`, `/evaluation`, `/files/<path>`, `/stream` (SSE),
 * `/predict` (GET, and POST with images), `/export.zip`, `GET /api/sweeps`, `/api/sweeps/:id`, the
 * bundle under `/assets/`, and the client at every other path.
 */
export function createDashboardApp(options: DashboardOptions): Hono {
  const store = new RunStore(options.runsDir);
  if (options.warm) store.index.rows().catch(() => {/* the first request reports it */});
  const token = options.token ?? crypto.randomUUID().replaceAll("-", "");
  const html = indexHtml(token);
  const app = new Hono();
  app.use(hostCheck(options.allowedHosts ?? []));
  if (options.requireToken) app.use(tokenGate(token));
  app.use(originCheck(token));
  app.use(secureHeaders({
    contentSecurityPolicy: CONTENT_SECURITY_POLICY,
    referrerPolicy: "no-referrer",
    crossOriginResourcePolicy: "same-origin",
  }));
  app.onError((err, c) => errorResponse(err, c, store));
  app.get("/", (c) => c.html(html));
  app.get("/assets/:name", (c) => {
    const asset = loadAsset(c.req.param("name"));
    if (!asset) throw new HTTPException(404, { message: "no such asset" });
    return c.body(asset.body as Uint8Array<ArrayBuffer>, 200, {
      "Content-Type": asset.type,
      "Cache-Control": "no-cache",
    });
  });
  app.route("/api/runs", runsApi(store));
  app.route("/api/runs", streamApi(store, options.pollMs ?? 250));
  app.route(
    "/api/runs",
    predictApi(store, options.predictors ?? new PredictorPool(), options.predictLimits),
  );
  app.route("/api/runs", exportApi(store));
  app.route(
    "/api/sweeps",
    sweepsApi(store.runsDir, options.sweepsDir ?? join(store.runsDir, "..", "sweeps")),
  );
  app.get("*", (c) => {
    if (c.req.path.startsWith("/api/")) throw new HTTPException(404, { message: "not found" });
    return c.html(html);
  });
  return app;
}
