/**
 * The runs API, a Hono sub-app mounted at `/api/runs`: the list, one run's summary, its
 * metrics (downsampled, incremental, CSV), events, visualisation index, evaluation report and
 * servable files. Every per-run file is read through `core/run/` (no symlinks, no special
 * files, sizes capped); every route is read-only.
 *
 * @example
 * ```ts
 * import { Hono } from "hono";
 * import { runsApi } from "./runs.ts";
 * import { RunStore } from "../run_store.ts";
 * const app = new Hono().route("/api/runs", runsApi(new RunStore("runs")));
 * const res = await app.request("/api/runs?limit=10");
 * console.log(res.status);
 * ```
 *
 * @module
 */
import { Hono } from "hono";
import type { RunInfo } from "../../core/run/format.ts";
import {
  listRuns,
  readEvents,
  readModelSummary,
  readRunInfoChecked,
  safeSegments,
} from "../../core/run/reader.ts";
import {
  hasVizIndex,
  readEvaluation,
  readServableRunFile,
  readVizIndex,
} from "../../core/run/artifacts.ts";
import { listCheckpointNames } from "../../core/run/checkpoints.ts";
import { downsampleMinMax, metricKeys } from "../downsample.ts";
import { metricsToCsv } from "../csv.ts";
import type {
  EventsResponse,
  MetricsResponse,
  RunDetail,
  RunListResponse,
  RunSummary,
} from "../api_types.ts";
import type { RunStore } from "../run_store.ts";
import { intParam, oneOf } from "./params.ts";
import { HTTPException } from "hono/http-exception";

/** Default number of points per series returned by the metrics API. */
export const DEFAULT_MAX_POINTS = 4000;

const FILE_TYPES: Record<string, string> = {
  png: "image/png",
  jpg: "image/jpeg",
  jpeg: "image/jpeg",
  json: "application/json; charset=utf-8",
  txt: "text/plain; charset=utf-8",
  csv: "text/csv; charset=utf-8",
};

/** The list summary of a run (or of a run whose run.json cannot be read). */
export function summarize(
  id: string,
  info: RunInfo | null,
  error?: string,
  problems?: string[],
): RunSummary {
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
    experiment: info.experiment || null,
    status: info.status,
    stopReason: info.stopReason,
    ...(problems?.length ? { problems } : {}),
    createdAt: info.createdAt || null,
    durationMs: Number.isFinite(start) && Number.isFinite(end) ? Math.max(0, end - start) : null,
    epochs: info.epochs ?? 0,
    best: info.best ?? null,
  };
}

/** The runs API over `store` (see the module doc for the routes). */
export function runsApi(store: RunStore): Hono {
  return new Hono()
    .get("/", async (c) => {
      const limit = intParam(c, "limit", 1000, 100_000);
      const offset = intParam(c, "offset", 0);
      const runs = await listRuns(store.runsDir);
      const body: RunListResponse = {
        total: runs.length,
        runs: runs.slice(offset, offset + limit).map((r) =>
          summarize(r.id, r.info, r.error && store.relative(r.error), r.problems)
        ),
      };
      return c.json(body);
    })
    .get("/:id", async (c) => {
      const dir = await store.dir(c.req.param("id"));
      const { info, problems } = await readRunInfoChecked(dir);
      const body: RunDetail = {
        info,
        summary: summarize(info.id, info, undefined, problems),
        modelSummary: await readModelSummary(dir),
        checkpoints: await listCheckpointNames(dir),
        hasViz: await hasVizIndex(dir),
        hasEvaluation: (await readEvaluation(dir).catch(() => undefined)) !== undefined,
      };
      return c.json(body);
    })
    .get("/:id/metrics", async (c) => {
      const dir = await store.dir(c.req.param("id"));
      const since = intParam(c, "since", 0);
      const maxPoints = intParam(c, "maxPoints", DEFAULT_MAX_POINTS, 1_000_000);
      const all = await store.metrics.get(dir);
      let epochs = all.epochs, batches = all.batches, reset = false, offset = all.offset;
      if (since > 0) {
        const after = await store.metrics.since(dir, since);
        epochs = after.records.filter((r) => r.batch === undefined);
        batches = after.records.filter((r) => r.batch !== undefined);
        ({ reset, offset } = after);
      }
      const outEpochs = maxPoints > 0
        ? downsampleMinMax(epochs, maxPoints, metricKeys(epochs))
        : epochs;
      const outBatches = maxPoints > 0
        ? downsampleMinMax(batches, maxPoints, metricKeys(batches))
        : batches;
      const body: MetricsResponse = {
        offset,
        reset,
        skipped: all.skipped,
        epochs: outEpochs,
        batches: outBatches,
        totals: { epochs: epochs.length, batches: batches.length },
        downsampled: outEpochs.length < epochs.length || outBatches.length < batches.length,
      };
      return c.json(body);
    })
    .get("/:id/metrics.csv", async (c) => {
      const id = c.req.param("id");
      const dir = await store.dir(id);
      const kind = oneOf(c, "kind", ["epoch", "batch", "all"] as const, "epoch");
      const { epochs, batches } = await store.metrics.get(dir);
      const records = kind === "epoch"
        ? epochs
        : kind === "batch"
        ? batches
        : [...epochs, ...batches].sort((a, b) =>
          a.step - b.step || (a.batch === undefined ? 1 : -1)
        );
      const safeName = id.replace(/[^A-Za-z0-9._-]/g, "_");
      return c.body(metricsToCsv(records), 200, {
        "Content-Type": "text/csv; charset=utf-8",
        "Content-Disposition": `attachment; filename="${safeName}-${kind}-metrics.csv"`,
      });
    })
    .get("/:id/events", async (c) => {
      const dir = await store.dir(c.req.param("id"));
      const res = await readEvents(dir, { sinceOffset: intParam(c, "since", 0) });
      const body: EventsResponse = {
        events: res.records,
        offset: res.offset,
        skipped: res.skipped,
      };
      return c.json(body);
    })
    .get("/:id/viz", async (c) => {
      const dir = await store.dir(c.req.param("id"));
      return c.json(await readVizIndex(dir));
    })
    .get("/:id/evaluation", async (c) => {
      const dir = await store.dir(c.req.param("id"));
      const report = await readEvaluation(dir);
      if (!report) {
        throw new HTTPException(404, {
          message: "no evaluation yet: run `deno task evaluate --run DIR`",
        });
      }
      return c.json(report);
    })
    .get("/:id/files/*", async (c) => {
      const dir = await store.dir(c.req.param("id"));
      // The raw (still percent-encoded) path: any `%` is rejected by safeSegments.
      const rawPath = new URL(c.req.url).pathname;
      const marker = "/files/";
      const rel = rawPath.slice(rawPath.indexOf(marker) + marker.length);
      const segments = safeSegments(rel);
      const bytes = await readServableRunFile(dir, segments);
      const type = FILE_TYPES[rel.split(".").pop()!.toLowerCase()];
      const headers: Record<string, string> = {
        "Content-Type": type ?? "application/octet-stream",
        "Cache-Control": "no-cache",
      };
      if (!type) headers["Content-Disposition"] = "attachment";
      return c.body(bytes as Uint8Array<ArrayBuffer>, 200, headers);
    });
}
