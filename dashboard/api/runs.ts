/**
 * The runs API, a Hono sub-app mounted at `/api/runs`: the list, one run's summary, its
 * metrics (downsampled, incremental, CSV), events, visualisation index, evaluation report and
 * servable files; the list answers queries (filter, sort, group, page; see
 * `core/run/query.ts`) from the run index. Every per-run file is read through `core/run/` (no
 * symlinks, no special files, sizes capped). The only writes: `PATCH /:id/meta` edits the
 * run's metadata sidecar (name, tags, note, archived) and `DELETE /:id` moves a run that is not
 * running to the trash; both pass the Origin and token check of `origin_check.ts`.
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
import type { Context } from "hono";
import { basename, join, resolve } from "node:path";
import {
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
import { listCheckpointNames, runModelState } from "../../core/run/checkpoints.ts";
import { downsampleMinMax, metricKeys } from "../../core/run/downsample.ts";
import { metricsCsvStream, metricsToCsv } from "../csv.ts";
import { readRunMeta, updateRunMeta } from "../../core/run/meta.ts";
import { applyMetaEdit, emptyMeta, type MetaEdit } from "../../core/run/meta.ts";
import { derivedStatus } from "../../core/run/state.ts";
import { resumeCommand, type ResumeTarget } from "../../core/experiment/resume_command.ts";
import { RunIsLiveError, trashRun } from "../../core/run/trash.ts";
import {
  runCells,
  runDurationMs,
  type RunSummaryRecord,
  summarizeRun,
} from "../../core/run/summary.ts";
import { queryTable } from "../../core/run/query.ts";
import type {
  DeleteResponse,
  EventsResponse,
  MetaResponse,
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

/** The list summary of a run from its index record (status derived: `crashed` included). */
export function summarize(s: RunSummaryRecord, runsDir: string): RunSummary {
  const crashedOrStopped = s.state === "crashed" || s.state === "stopped";
  return {
    id: s.id,
    experiment: s.experiment,
    status: s.state,
    ...(s.crashReason ? { crashReason: s.crashReason } : {}),
    ...(crashedOrStopped
      ? { resumeCommand: resumeCommandFor(runsDir, s.id, { ...s.resumeNeeds, tracked: s.tracked }) }
      : {}),
    ...(s.error ? { error: withoutRunsDir(s.error, runsDir) } : {}),
    ...(s.problems?.length ? { problems: s.problems } : {}),
    ...(s.stopReason ? { stopReason: s.stopReason } : {}),
    createdAt: s.createdAt,
    durationMs: runDurationMs(s),
    epochs: s.epochs,
    best: s.status === "invalid" ? null : s.best,
    ...(s.meta.name ? { name: s.meta.name } : {}),
    tags: s.meta.tags,
    ...(s.meta.note ? { note: s.meta.note } : {}),
    archived: s.meta.archived,
    ...(s.metaProblem ? { metaProblem: s.metaProblem } : {}),
    cells: runCells(s),
  };
}

/** `message` with the runs folder's absolute path taken out (paths relative to it). */
function withoutRunsDir(message: string, runsDir: string): string {
  return message.split(runsDir + "/").join("").split(runsDir).join(".");
}

/**
 * The command that continues run `id` of `runsDir`, to paste where the dashboard was started
 * (the one resume command, `core/experiment/resume_command.ts`, with the folder relative to
 * the working directory).
 *
 * @example
 * ```ts
 * import { resumeCommandFor } from "./runs.ts";
 * console.log(resumeCommandFor("runs", "default-20261201-101010"));
 * ```
 */
export function resumeCommandFor(
  runsDir: string,
  id: string,
  needs?: Omit<ResumeTarget, "runDir">,
): string {
  return resumeCommand({ ...needs, runDir: join(resolve(runsDir), id) });
}

function boolParam(c: Context, name: string): boolean | undefined {
  const raw = c.req.query(name);
  if (raw === undefined || raw === "") return undefined;
  if (raw === "1" || raw === "true") return true;
  if (raw === "0" || raw === "false") return false;
  throw new HTTPException(400, { message: `${name} must be 1 or 0, got ${raw.slice(0, 20)}` });
}

function metaEditOf(body: unknown): MetaEdit {
  if (typeof body !== "object" || body === null || Array.isArray(body)) {
    throw new HTTPException(400, { message: "the body must be a JSON object" });
  }
  const b = body as Record<string, unknown>;
  const allowed = ["name", "addTags", "removeTags", "note", "archived"];
  const extra = Object.keys(b).filter((k) => !allowed.includes(k));
  if (extra.length) {
    throw new HTTPException(400, {
      message: `unknown field ${extra.join(", ")} (${allowed.join(", ")})`,
    });
  }
  const str = (k: string) => b[k] === undefined || b[k] === null || typeof b[k] === "string";
  const list = (k: string) =>
    b[k] === undefined ||
    (Array.isArray(b[k]) && (b[k] as unknown[]).every((t) => typeof t === "string"));
  if (
    !str("name") || !str("note") || !list("addTags") || !list("removeTags") ||
    !(b.archived === undefined || typeof b.archived === "boolean")
  ) {
    throw new HTTPException(400, {
      message: "name and note are strings (or null), addTags and removeTags lists of strings, " +
        "archived true or false",
    });
  }
  const edit = b as MetaEdit;
  try {
    applyMetaEdit(emptyMeta(), edit);
  } catch (err) {
    throw new HTTPException(400, { message: (err as Error).message });
  }
  return edit;
}

/** The runs API over `store` (see the module doc for the routes). */
export function runsApi(store: RunStore): Hono {
  return new Hono()
    .get("/", async (c) => {
      const limit = intParam(c, "limit", 1000, 100_000);
      const offset = intParam(c, "offset", 0);
      const rows = await store.index.rows();
      const columns = await store.index.columns();
      let result;
      try {
        result = queryTable(rows, {
          q: c.req.query("q"),
          sort: c.req.query("sort") || undefined,
          desc: boolParam(c, "desc"),
          group: c.req.query("group") || undefined,
          archived: boolParam(c, "archived"),
          offset,
          limit,
        }, columns);
      } catch (err) {
        throw new HTTPException(400, { message: (err as Error).message });
      }
      const body: RunListResponse = {
        total: result.total,
        matched: result.matched,
        archivedHidden: result.archivedHidden,
        columns: result.columns,
        runs: result.rows.map((r) => store.relativeDeep(summarize(r.summary, store.runsDir))),
        ...(result.groups ? { groups: result.groups, groupCount: result.groupCount } : {}),
      };
      return c.json(body);
    })
    .get("/:id", async (c) => {
      const dir = await store.dir(c.req.param("id"));
      const { info, problems } = await readRunInfoChecked(dir);
      const { meta, problem } = await readRunMeta(dir);
      const state = await derivedStatus(dir, info);
      // The duration leaves out the time a resumed run was dead: read as the run index reads
      // it, so the page and the runs table show the same.
      const record = summarizeRun(basename(dir), dir, info, {
        problems,
        meta,
        model: await runModelState(dir),
        restarts: await store.index.restartsOf(basename(dir)),
        ...(problem ? { metaProblem: problem } : {}),
      });
      record.state = state.status;
      if (state.crashReason) record.crashReason = state.crashReason;
      const summary = summarize(record, store.runsDir);
      const body: RunDetail = {
        info,
        summary,
        modelSummary: await readModelSummary(dir),
        checkpoints: await listCheckpointNames(dir),
        hasViz: await hasVizIndex(dir),
        hasEvaluation: (await readEvaluation(dir).catch(() => undefined)) !== undefined,
      };
      return c.json(store.relativeDeep(body));
    })
    .patch("/:id/meta", async (c) => {
      const id = c.req.param("id");
      const dir = await store.dir(id);
      await readRunInfoChecked(dir); // only runs (a 404/422 otherwise)
      const body = await c.req.json().catch(() => {
        throw new HTTPException(400, { message: "the body must be JSON" });
      });
      const edit = metaEditOf(body);
      let meta;
      try {
        meta = await updateRunMeta(dir, (m) => applyMetaEdit(m, edit));
      } catch (err) {
        throw new HTTPException(409, { message: (err as Error).message });
      }
      store.index.invalidate(id);
      const answer: MetaResponse = { meta };
      return c.json(answer);
    })
    .delete("/:id", async (c) => {
      const id = c.req.param("id");
      await store.dir(id);
      try {
        await trashRun(store.runsDir, id);
      } catch (err) {
        throw new HTTPException(err instanceof RunIsLiveError ? 409 : 400, {
          message: (err as Error).message,
        });
      }
      store.index.invalidate(id);
      const answer: DeleteResponse = { id, trashed: true };
      return c.json(answer);
    })
    .get("/:id/metrics", async (c) => {
      const dir = await store.dir(c.req.param("id"));
      const since = intParam(c, "since", 0);
      const maxPoints = intParam(c, "maxPoints", DEFAULT_MAX_POINTS, 1_000_000);
      const all = await store.metrics.get(dir);
      let epochs = all.epochs, batches = all.batches, reset = false, offset = all.offset;
      let batchCount = all.batchCount;
      if (since > 0) {
        const after = await store.metrics.since(dir, since);
        ({ reset, offset } = after);
        if (!reset) {
          epochs = after.records.filter((r) => r.batch === undefined);
          batches = after.records.filter((r) => r.batch !== undefined);
          batchCount = batches.length;
        }
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
        totals: { epochs: epochs.length, batches: batchCount },
        downsampled: outEpochs.length < epochs.length || outBatches.length < batchCount,
      };
      return c.json(body);
    })
    .get("/:id/metrics.csv", async (c) => {
      const id = c.req.param("id");
      const dir = await store.dir(id);
      const kind = oneOf(c, "kind", ["epoch", "batch", "all"] as const, "epoch");
      const { epochs, batches, batchCount } = await store.metrics.get(dir);
      const safeName = id.replace(/[^A-Za-z0-9._-]/g, "_");
      const headers = {
        "Content-Type": "text/csv; charset=utf-8",
        "Content-Disposition": `attachment; filename="${safeName}-${kind}-metrics.csv"`,
      };
      if (kind !== "epoch" && batchCount > batches.length) {
        // The cache holds a decimated series: stream every record from the file.
        return c.body(metricsCsvStream(dir, kind), 200, headers);
      }
      const records = kind === "epoch"
        ? epochs
        : kind === "batch"
        ? batches
        : [...epochs, ...batches].sort((a, b) =>
          a.step - b.step || (a.batch === undefined ? 1 : -1)
        );
      return c.body(metricsToCsv(records), 200, headers);
    })
    .get("/:id/events", async (c) => {
      const dir = await store.dir(c.req.param("id"));
      const res = await readEvents(dir, { sinceOffset: intParam(c, "since", 0) });
      const body: EventsResponse = {
        events: store.relativeDeep(res.records),
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
