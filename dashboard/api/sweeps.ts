/**
 * The sweeps API, a Hono sub-app mounted at `/api/sweeps`: the list of sweep folders and one
 * sweep's trials (state, parameters, best metric, the metric's curve, the run id). Sweep
 * folders are read through `sweep/store.ts`, runs through the `core/run` readers (a trial's run
 * is found by its tag in this dashboard's runs folder, never through a path from a file).
 * A trial the controller's files call `running` is shown as its run stands (the run's derived
 * state, from its heartbeat): a dead controller or worker does not leave it "running" for ever.
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
import { basename, join } from "node:path";
import { derivedStatus } from "../../core/run/state.ts";
import { HEARTBEAT_STALE_MS } from "../../core/run/lock.ts";
import type { RunInfo } from "../../core/run/format.ts";
import { listSweeps, readSweep, readTrialStates, type SweepRecord } from "../../sweep/store.ts";
import type { TrialState } from "../../sweep/store.ts";
import { summarize } from "../../sweep/summary.ts";
import { metricHistory, sweepRuns } from "../../sweep/runs.ts";
import type { SweepDetail, SweepListEntry, SweepListResponse } from "../api_types.ts";

type TrialRuns = Map<string, { dir: string; info: RunInfo }>;

/**
 * The trials' states as their runs show them: a trial recorded as `running` whose run crashed
 * (its process is gone: the heartbeat says so) is `stopped` (interrupted, resumable); one whose
 * run finished is what the run says; one with no run and no update for the heartbeat's stale
 * time is `stopped` too. Other states are the controller's.
 *
 * @example
 * ```ts
 * import { liveTrialStates } from "./sweeps.ts";
 * const running = {
 *   key: "t000",
 *   index: 0,
 *   status: "running" as const,
 *   params: {},
 *   attempts: 1,
 *   updatedAt: "2020-01-01T00:00:00Z",
 * };
 * const [t] = await liveTrialStates([running], new Map());
 * console.log(t.status); // "stopped": no run, no news for years
 * ```
 */
export async function liveTrialStates(
  states: readonly TrialState[],
  runs: TrialRuns,
  now: number = Date.now(),
): Promise<TrialState[]> {
  return await Promise.all(states.map(async (s): Promise<TrialState> => {
    if (s.status !== "running") return s;
    const run = runs.get(s.key);
    if (!run) {
      const age = now - Date.parse(s.updatedAt);
      return age > HEARTBEAT_STALE_MS
        ? {
          ...s,
          status: "stopped",
          reason: `no run and no news for ${Math.round(age / 1000)} s (its process is gone?)`,
        }
        : s;
    }
    const state = await derivedStatus(run.dir, run.info, now);
    if (state.status === "running") return s;
    if (state.status === "crashed") {
      return {
        ...s,
        status: "stopped",
        reason: `its run ${basename(run.dir)} crashed (${state.crashReason}); resume the sweep`,
      };
    }
    return { ...s, status: state.status === "stopped" ? "stopped" : state.status };
  }));
}

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
      sweeps: await Promise.all(sweeps.map(async (s) => {
        const states = await readTrialStates(s.dir, s.record);
        // Only a sweep with trials said to be running needs its runs looked at.
        const runs: TrialRuns = states.some((t) => t.status === "running")
          ? await sweepRuns(runsDir, s.record.id)
          : new Map();
        return entry(s.record, await liveTrialStates(states, runs));
      })),
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
    const runs = await sweepRuns(runsDir, record.id);
    const states = await liveTrialStates(await readTrialStates(dir, record), runs);
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
