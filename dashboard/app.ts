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
import type { Context } from "hono";
import { secureHeaders } from "hono/secure-headers";
import { HTTPException } from "hono/http-exception";
import { UnsafePathError } from "../core/run/reader.ts";
import { RunFileError } from "../core/run/reader.ts";
import { CONTENT_SECURITY_POLICY, indexHtml } from "./html.ts";
import { hostCheck } from "./host_check.ts";
import { originCheck } from "./origin_check.ts";
import { loadAsset } from "./assets.ts";
import { RunStore } from "./run_store.ts";
import { runsApi } from "./api/runs.ts";
import { streamApi } from "./api/stream.ts";
import type { ErrorResponse } from "./api_types.ts";

/** Options of {@link createDashboardApp}. */
export interface DashboardOptions {
  /** The runs directory to serve (read-only). */
  runsDir: string;
  /** How often live streams look for changes, in ms (default 250). */
  pollMs?: number;
  /** Host names answered besides loopback names (the bound address, `--allow-host`). */
  allowedHosts?: readonly string[];
  /**
   * The token state-changing requests must carry (handed to the page in its HTML); default a
   * random one per app.
   */
  token?: string;
}

/** Turns any error into a JSON response without absolute paths or file contents. */
function errorResponse(err: Error, c: Context, store: RunStore): Response {
  const clean = (m: string) => store.relative(m);
  let status = 500;
  let message = "internal error (see the dashboard's console)";
  if (err instanceof HTTPException) {
    status = err.status;
    message = err.message;
  } else if (err instanceof UnsafePathError || err instanceof RunFileError) {
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
 * `/metrics.csv`, `/events`, `/viz`, `/evaluation`, `/files/<path>`, `/stream` (SSE), the
 * bundle under `/assets/`, and the client at every other path.
 */
export function createDashboardApp(options: DashboardOptions): Hono {
  const store = new RunStore(options.runsDir);
  const token = options.token ?? crypto.randomUUID().replaceAll("-", "");
  const html = indexHtml(token);
  const app = new Hono();
  app.use(hostCheck(options.allowedHosts ?? []));
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
  app.get("*", (c) => {
    if (c.req.path.startsWith("/api/")) throw new HTTPException(404, { message: "not found" });
    return c.html(html);
  });
  return app;
}
