/**
 * The dashboard server: a read-only JSON API over a runs directory, live updates over
 * Server-Sent Events, and the bundled client (no CDN).
 *
 * @example
 * ```ts
 * import { createDashboardApp } from "./server.ts";
 * const app = createDashboardApp({ runsDir: "runs" });
 * const res = await app.request("/api/runs");
 * console.log(await res.json());
 * ```
 *
 * @module
 */
import { Hono } from "hono";
import type { Context } from "hono";
import { streamSSE } from "hono/streaming";
import { join } from "node:path";
import { RUN_FILES } from "../core/run/format.ts";
import type { RunInfo } from "../core/run/format.ts";
import {
  listRuns,
  readEvents,
  readMetrics,
  readModelSummary,
  readRunInfo,
  resolveInside,
  safeSegments,
  UnsafePathError,
} from "../core/run/reader.ts";
import { VIZ_INDEX } from "../core/run/viz_format.ts";
import { EVALUATION_FILE } from "../core/run/evaluation_format.ts";
import { downsampleMinMax, metricKeys } from "./downsample.ts";
import { metricsToCsv } from "./csv.ts";
import { MetricsCache } from "./metrics_cache.ts";
import { loadAsset } from "./assets.ts";

/** Options of {@link createDashboardApp}. */
export interface DashboardOptions {
  /** The runs directory to serve (read-only). */
  runsDir: string;
  /** How often live streams look for changes, in ms (default 250). */
  pollMs?: number;
}

/** Default number of points per series returned by the metrics API. */
export const DEFAULT_MAX_POINTS = 4000;

const INDEX_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>convdeck dashboard</title>
<link rel="stylesheet" href="/assets/app.css">
</head>
<body>
<div id="app"></div>
<script type="module" src="/assets/app.js"></script>
</body>
</html>
`;

const CSP = "default-src 'self'; img-src 'self' data: blob:; style-src 'self' 'unsafe-inline'; " +
  "script-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'";

const FILE_TYPES: Record<string, string> = {
  png: "image/png",
  jpg: "image/jpeg",
  jpeg: "image/jpeg",
  json: "application/json; charset=utf-8",
  txt: "text/plain; charset=utf-8",
  csv: "text/csv; charset=utf-8",
  jsonl: "text/plain; charset=utf-8",
};

/** Folders (and files) of a run directory that `/files/` may serve. */
const SERVABLE = new Set([RUN_FILES.viz, RUN_FILES.artifacts, RUN_FILES.summary, EVALUATION_FILE]);

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

function summarize(id: string, info: RunInfo | null, error?: string): RunSummary {
  if (!info) {
    return {
      id,
      experiment: null,
      status: "invalid",
      error,
      createdAt: null,
      durationMs: null,
      epochs: 0,
      best: null,
    };
  }
  const start = Date.parse(info.createdAt);
  const end = Date.parse(info.endedAt ?? info.updatedAt);
  return {
    id,
    experiment: info.experiment ?? null,
    status: info.status,
    stopReason: info.stopReason,
    createdAt: info.createdAt ?? null,
    durationMs: Number.isFinite(start) && Number.isFinite(end) ? Math.max(0, end - start) : null,
    epochs: info.epochs ?? 0,
    best: info.best ?? null,
  };
}

function intParam(c: Context, name: string, fallback: number, max = Number.MAX_SAFE_INTEGER) {
  const raw = c.req.query(name);
  if (raw === undefined || raw === "") return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 0 || n > max) {
    throw new UnsafePathError(
      `query parameter ${name} must be an integer in 0..${max}, got ${raw}`,
    );
  }
  return n;
}

async function readJsonFile(file: string): Promise<unknown> {
  return JSON.parse(await Deno.readTextFile(file));
}

/**
 * Creates the dashboard's Hono app over `runsDir` (usable with `app.request` in tests, or
 * with any server). Every route is read-only.
 *
 * Routes: `GET /api/runs`, `/api/runs/:id`, `/api/runs/:id/metrics?since=&maxPoints=`,
 * `/api/runs/:id/metrics.csv?kind=epoch|batch|all`, `/api/runs/:id/events?since=`,
 * `/api/runs/:id/viz`, `/api/runs/:id/evaluation`, `/api/runs/:id/files/<path>`,
 * `/api/runs/:id/stream` (SSE), and the client at `/`.
 */
export function createDashboardApp(options: DashboardOptions): Hono {
  const runsDir = options.runsDir;
  const pollMs = options.pollMs ?? 250;
  const cache = new MetricsCache();
  const app = new Hono();

  const runDir = (id: string) => {
    if (safeSegments(id).length !== 1) {
      throw new UnsafePathError(`bad run id ${JSON.stringify(id)}`);
    }
    return resolveInside(runsDir, id);
  };

  app.use("*", async (c, next) => {
    await next();
    c.header("X-Content-Type-Options", "nosniff");
    c.header("Content-Security-Policy", CSP);
    c.header("Referrer-Policy", "no-referrer");
  });

  app.onError((err, c) => {
    if (err instanceof UnsafePathError) return c.json({ error: err.message }, err.status);
    console.error(err);
    return c.json({ error: String((err as Error).message ?? err) }, 500);
  });

  app.get("/", (c) => c.html(INDEX_HTML));
  app.get("/assets/:name", async (c) => {
    const asset = await loadAsset(c.req.param("name"));
    if (!asset) return c.json({ error: "no such asset" }, 404);
    return c.body(asset.body as Uint8Array<ArrayBuffer>, 200, {
      "Content-Type": asset.type,
      "Cache-Control": "no-cache",
    });
  });

  app.get("/api/runs", async (c) => {
    const limit = intParam(c, "limit", 1000, 100_000);
    const offset = intParam(c, "offset", 0);
    const runs = await listRuns(runsDir);
    return c.json({
      total: runs.length,
      runs: runs.slice(offset, offset + limit).map((r) => summarize(r.id, r.info, r.error)),
    });
  });

  app.get("/api/runs/:id", async (c) => {
    const dir = await runDir(c.req.param("id"));
    const info = await readRunInfo(dir);
    const checkpoints: string[] = [];
    try {
      for await (const e of Deno.readDir(join(dir, RUN_FILES.checkpoints))) {
        if (e.isDirectory) checkpoints.push(e.name);
      }
    } catch { /* no checkpoints yet */ }
    const exists = (p: string) => Deno.stat(join(dir, p)).then(() => true, () => false);
    return c.json({
      info,
      summary: summarize(info.id, info),
      modelSummary: await readModelSummary(dir),
      checkpoints: checkpoints.sort(),
      hasViz: await exists(VIZ_INDEX),
      hasEvaluation: await exists(EVALUATION_FILE),
    });
  });

  app.get("/api/runs/:id/metrics", async (c) => {
    const dir = await runDir(c.req.param("id"));
    const since = intParam(c, "since", 0);
    const maxPoints = intParam(c, "maxPoints", DEFAULT_MAX_POINTS, 1_000_000);
    let epochs, batches, offset, skipped, reset = false;
    if (since === 0) {
      ({ epochs, batches, offset, skipped } = await cache.get(dir));
    } else {
      const res = await readMetrics(dir, { sinceOffset: since });
      epochs = res.records.filter((r) => r.batch === undefined);
      batches = res.records.filter((r) => r.batch !== undefined);
      ({ offset, skipped, reset } = res);
    }
    const outEpochs = maxPoints > 0
      ? downsampleMinMax(epochs, maxPoints, metricKeys(epochs))
      : epochs;
    const outBatches = maxPoints > 0
      ? downsampleMinMax(batches, maxPoints, metricKeys(batches))
      : batches;
    return c.json({
      offset,
      reset,
      skipped,
      epochs: outEpochs,
      batches: outBatches,
      totals: { epochs: epochs.length, batches: batches.length },
      downsampled: outEpochs.length < epochs.length || outBatches.length < batches.length,
    });
  });

  app.get("/api/runs/:id/metrics.csv", async (c) => {
    const id = c.req.param("id");
    const dir = await runDir(id);
    const kind = c.req.query("kind") ?? "epoch";
    if (!["epoch", "batch", "all"].includes(kind)) {
      throw new UnsafePathError(`kind must be epoch, batch or all, got ${kind}`);
    }
    const { epochs, batches } = await cache.get(dir);
    const records = kind === "epoch"
      ? epochs
      : kind === "batch"
      ? batches
      : [...epochs, ...batches].sort((a, b) => a.step - b.step || (a.batch === undefined ? 1 : -1));
    const safeName = id.replace(/[^A-Za-z0-9._-]/g, "_");
    return c.body(metricsToCsv(records), 200, {
      "Content-Type": "text/csv; charset=utf-8",
      "Content-Disposition": `attachment; filename="${safeName}-${kind}-metrics.csv"`,
    });
  });

  app.get("/api/runs/:id/events", async (c) => {
    const dir = await runDir(c.req.param("id"));
    const res = await readEvents(dir, { sinceOffset: intParam(c, "since", 0) });
    return c.json({ events: res.records, offset: res.offset, skipped: res.skipped });
  });

  app.get("/api/runs/:id/viz", async (c) => {
    const dir = await runDir(c.req.param("id"));
    try {
      return c.json(await readJsonFile(join(dir, VIZ_INDEX)));
    } catch (err) {
      if (err instanceof Deno.errors.NotFound) {
        return c.json({ format: 1, classNames: [], images: [], epochs: [] });
      }
      throw err;
    }
  });

  app.get("/api/runs/:id/evaluation", async (c) => {
    const dir = await runDir(c.req.param("id"));
    try {
      return c.json(await readJsonFile(join(dir, EVALUATION_FILE)));
    } catch (err) {
      if (err instanceof Deno.errors.NotFound) {
        return c.json({ error: "no evaluation.json yet: run `deno task evaluate --run DIR`" }, 404);
      }
      throw err;
    }
  });

  app.get("/api/runs/:id/files/*", async (c) => {
    const id = c.req.param("id");
    const dir = await runDir(id);
    // Use the raw (still percent-encoded) path: any `%` is rejected by safeSegments.
    const rawPath = new URL(c.req.url).pathname;
    const marker = "/files/";
    const rel = rawPath.slice(rawPath.indexOf(marker) + marker.length);
    const segments = safeSegments(rel);
    if (!SERVABLE.has(segments[0] as never)) {
      throw new UnsafePathError(`only viz/, artifacts/, model.txt and evaluation.json are served`);
    }
    const file = await resolveInside(dir, ...segments);
    const stat = await Deno.stat(file);
    if (!stat.isFile) throw new UnsafePathError(`not a file: ${rel}`, 404);
    const ext = rel.split(".").pop()!.toLowerCase();
    const type = FILE_TYPES[ext];
    const headers: Record<string, string> = {
      "Content-Type": type ?? "application/octet-stream",
      "Cache-Control": "no-cache",
    };
    if (!type) headers["Content-Disposition"] = "attachment";
    return c.body(await Deno.readFile(file) as Uint8Array<ArrayBuffer>, 200, headers);
  });

  app.get("/api/runs/:id/stream", async (c) => {
    const dir = await runDir(c.req.param("id"));
    let metricsOffset = intParam(c, "metricsSince", 0);
    let eventsOffset = intParam(c, "eventsSince", 0);
    return streamSSE(c, async (stream) => {
      let closed = false;
      stream.onAbort(() => {
        closed = true;
      });
      const sizeOf = (f: string) =>
        Deno.stat(join(dir, f)).then(
          (s) => ({ size: s.size, mtime: s.mtime?.getTime() ?? 0 }),
          () => ({
            size: -1,
            mtime: 0,
          }),
        );
      let lastInfo = "";
      let lastInfoMtime = -1;
      let lastMetricsSize = -2, lastEventsSize = -2;
      let lastPing = Date.now();
      await stream.writeSSE({ event: "hello", data: JSON.stringify({ pollMs }) });
      while (!closed) {
        const [m, e, i] = await Promise.all([
          sizeOf(RUN_FILES.metrics),
          sizeOf(RUN_FILES.events),
          sizeOf(RUN_FILES.info),
        ]);
        if (m.size !== lastMetricsSize) {
          lastMetricsSize = m.size;
          const res = await readMetrics(dir, { sinceOffset: metricsOffset });
          if (res.records.length > 0 || res.reset) {
            await stream.writeSSE({
              event: "metrics",
              data: JSON.stringify({ records: res.records, offset: res.offset, reset: res.reset }),
            });
          }
          if (res.offset !== m.size) lastMetricsSize = -2; // torn line: look again next time
          metricsOffset = res.offset;
        }
        if (e.size !== lastEventsSize) {
          lastEventsSize = e.size;
          const res = await readEvents(dir, { sinceOffset: eventsOffset });
          if (res.records.length > 0 || res.reset) {
            await stream.writeSSE({
              event: "events",
              data: JSON.stringify({ events: res.records, offset: res.offset, reset: res.reset }),
            });
          }
          if (res.offset !== e.size) lastEventsSize = -2;
          eventsOffset = res.offset;
        }
        if (i.mtime !== lastInfoMtime || i.size === -1) {
          lastInfoMtime = i.mtime;
          try {
            const info = await readRunInfo(dir);
            const text = JSON.stringify(info);
            if (text !== lastInfo) {
              lastInfo = text;
              await stream.writeSSE({ event: "status", data: text });
            }
          } catch { /* being replaced; next poll */ }
        }
        if (Date.now() - lastPing > 15_000) {
          lastPing = Date.now();
          await stream.writeSSE({ event: "ping", data: "{}" });
        }
        await stream.sleep(pollMs);
      }
    });
  });

  app.get("*", (c) => {
    if (c.req.path.startsWith("/api/")) return c.json({ error: "not found" }, 404);
    return c.html(INDEX_HTML);
  });

  return app;
}

/** Options of {@link serveDashboard}. */
export interface ServeOptions extends DashboardOptions {
  /** TCP port (0 picks a free one). Default 6006. */
  port?: number;
  /** Interface to bind. Default `127.0.0.1` (this machine only). */
  host?: string;
  /** Aborting it shuts the server down. */
  signal?: AbortSignal;
  /** Called once listening, with the URL. */
  onListen?: (url: string) => void;
}

/** A running dashboard server. */
export interface DashboardServer {
  /** The URL to open, e.g. `http://127.0.0.1:6006/`. */
  url: string;
  /** The port actually bound. */
  port: number;
  /** The Deno HTTP server. */
  server: Deno.HttpServer<Deno.NetAddr>;
}

/**
 * Serves the dashboard over `runsDir` with `Deno.serve` (binding 127.0.0.1 by default).
 *
 * @example
 * ```ts
 * import { serveDashboard } from "./server.ts";
 * const ac = new AbortController();
 * const { url } = serveDashboard({ runsDir: "runs", port: 0, signal: ac.signal });
 * console.log(url);
 * ac.abort();
 * ```
 */
export function serveDashboard(options: ServeOptions): DashboardServer {
  const app = createDashboardApp(options);
  const host = options.host ?? "127.0.0.1";
  const server = Deno.serve({
    port: options.port ?? 6006,
    hostname: host,
    signal: options.signal,
    onListen: () => {},
  }, app.fetch);
  const port = server.addr.port;
  const shown = host.includes(":") ? `[${host}]` : host === "0.0.0.0" ? "127.0.0.1" : host;
  const url = `http://${shown}:${port}/`;
  options.onListen?.(url);
  return { url, port, server };
}

/** A dashboard started from the training process. */
export interface StartedDashboard {
  /** The URL to open. */
  url: string;
  /** Stops the server (open live streams are closed). */
  close(): Promise<void>;
}

/**
 * Starts the dashboard in the current process (used by `deno task train --dashboard`); the
 * trainer never waits on it: it only reads the run directory.
 *
 * @example
 * ```ts
 * import { startDashboard } from "./server.ts";
 * const dash = await startDashboard({ runsDir: "runs", port: 0 });
 * console.log(`dashboard: ${dash.url}`);
 * await dash.close();
 * ```
 */
export function startDashboard(
  options: { runsDir: string; port?: number; host?: string },
): Promise<StartedDashboard> {
  const ac = new AbortController();
  const { url, server } = serveDashboard({ ...options, signal: ac.signal });
  return Promise.resolve({
    url,
    async close() {
      ac.abort();
      await server.finished;
    },
  });
}
