/**
 * The sweeps API, a Hono sub-app mounted at `/api/sweeps`: the list of sweep folders and one
 * sweep's trials (state, parameters, best metric, the metric's curve, the run id). Sweep
 * folders are read through `sweep/store.ts`, runs through the `core/run` readers (a trial's run
 * is found by its tag in this dashboard's runs folder, never through a path from a file).
 * Read-only.
 *
 * @example
 * ```ts
 * import { Hono } from "hono";
 * import { sweepsApi } from "./sweeps.ts";
 * const app = new Hono().route("/api/sweeps", sweepsApi("runs", "sweeps"));
 * const res = await app.request("/api/sweeps");
 * console.log(res.status, await res.json()); // 200 { sweeps: [...] }
 * ```
 *
 * @module
 */
import { Hono } from "hono";
import { HTTPException } from "hono/http-exception";
import { join } from "node:path";
import { listSweeps, readSweep, readTrialStates, type SweepRecord } from "../../sweep/store.ts";
import type { TrialState } from "../../sweep/store.ts";
import { summarize } from "../../sweep/summary.ts";
import { metricHistory, sweepRuns } from "../../sweep/runs.ts";
import type { SweepDetail, SweepListEntry, SweepListResponse } from "../api_types.ts";

function entry(record: SweepRecord, states: TrialState[]): SweepListEntry {
  const s = summarize(record, states);
  return {
    id: record.id,
    experiment: record.spec.experiment,
    method: record.spec.method,
    metric: record.spec.metric,
    direction: record.spec.direction,
    pruner: record.spec.pruner?.type ?? null,
    createdAt: record.createdAt,
    total: s.total,
    counts: s.counts,
    best: s.best ? { key: s.best.key, value: s.best.value } : null,
    epochsSavedByPruning: s.epochsSavedByPruning,
  };
}

/** The sweeps sub-app over `runsDir` and `sweepsDir`. */
export function sweepsApi(runsDir: string, sweepsDir: string): Hono {
  const app = new Hono();
  app.get("/", async (c) => {
    const sweeps = await listSweeps(sweepsDir);
    const body: SweepListResponse = {
      sweeps: await Promise.all(
        sweeps.map(async (s) => entry(s.record, await readTrialStates(s.dir, s.record))),
      ),
    };
    return c.json(body);
  });
  app.get("/:id", async (c) => {
    const id = c.req.param("id");
    if (!/^[A-Za-z0-9_-]{1,80}$/.test(id)) {
      throw new HTTPException(400, { message: "bad sweep id" });
    }
    const { dir, record } = await readSweep(join(sweepsDir, id)).catch(() => {
      throw new HTTPException(404, { message: `no sweep ${id}` });
    });
    const states = await readTrialStates(dir, record);
    const runs = await sweepRuns(runsDir, record.id);
    const trials = await Promise.all(states.map(async (s) => {
      const run = runs.get(s.key);
      const curve = run ? await metricHistory(run.dir, record.spec.metric) : [];
      return {
        key: s.key,
        status: s.status,
        params: s.params,
        value: s.value ?? null,
        epochs: s.epochs ?? curve.length,
        reason: s.reason ?? null,
        runId: run?.info.id ?? null,
        curve: curve.map((v) => Number.isFinite(v) ? v : null),
      };
    }));
    const body: SweepDetail = {
      ...entry(record, states),
      parameters: Object.keys(record.spec.parameters),
      spec: record.spec as unknown as Record<string, unknown>,
      trials,
    };
    return c.json(body);
  });
  return app;
}
