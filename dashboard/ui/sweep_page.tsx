/**
 * Sweeps: the list of sweeps, and a sweep's page with the trials table (status, parameters,
 * metric; pruned trials marked), the best trial, every trial's metric curve on one chart and a
 * parallel-coordinates view of parameters against the metric. Refreshed every 3 s while trials
 * run.
 *
 * @module
 */
import { useSignal } from "@preact/signals";
import { useEffect } from "preact/hooks";
import { getJson, type SweepDetail, type SweepListResponse } from "./api.ts";
import { Chart, type ChartSeries } from "./chart.tsx";
import { formatValue } from "./format.ts";
import { autoLog, ParallelCoords } from "./parallel_coords.tsx";
import { runColor } from "./palette.ts";

/** Whether the sweep's spec searches parameter `key` on a log scale (`logUniform`). */
function isLogParameter(spec: Record<string, unknown>, key: string): boolean {
  const p = (spec.parameters as Record<string, unknown> | undefined)?.[key];
  return typeof p === "object" && p !== null && "logUniform" in p;
}

/** Loads `url` now and every 3 s while `again(result)` says so. */
function usePolled<T>(url: string, again: (v: T) => boolean) {
  const data = useSignal<T | null>(null);
  const error = useSignal("");
  useEffect(() => {
    let stop = false;
    const load = async () => {
      let more = true;
      try {
        data.value = await getJson<T>(url);
        error.value = "";
        more = again(data.value);
      } catch (err) {
        error.value = (err as Error).message;
      }
      if (!stop && more) setTimeout(load, 3000);
    };
    load();
    return () => {
      stop = true;
    };
  }, [url]);
  return { data, error };
}

/** The sweeps in the sweeps folder. */
export function SweepList() {
  const { data, error } = usePolled<SweepListResponse>("/api/sweeps", () => true);
  const sweeps = data.value?.sweeps;
  return (
    <main>
      <h1>Sweeps</h1>
      {error.value && <p class="error">{error.value}</p>}
      {!sweeps ? <p>Loading…</p> : sweeps.length === 0
        ? (
          <p>
            No sweeps yet. Start one with <code>deno task sweep SPEC</code>.
          </p>
        )
        : (
          <table class="runs" data-testid="sweep-table">
            <thead>
              <tr>
                <th>Sweep</th>
                <th>Experiment</th>
                <th>Trials</th>
                <th>Done</th>
                <th>Pruned</th>
                <th>Running</th>
                <th>Best</th>
                <th>Started</th>
              </tr>
            </thead>
            <tbody>
              {sweeps.map((s) => (
                <tr key={s.id}>
                  <td>
                    <a href={`#/sweep/${encodeURIComponent(s.id)}`}>{s.id}</a>
                  </td>
                  <td>{s.experiment}</td>
                  <td>{s.total}</td>
                  <td>
                    {(s.counts.completed ?? 0) + (s.counts.pruned ?? 0) + (s.counts.failed ?? 0)}
                  </td>
                  <td>{s.counts.pruned ?? 0}</td>
                  <td>{s.counts.running ?? 0}</td>
                  <td>
                    {s.best ? `${s.metric} ${formatValue(s.best.value)} (${s.best.key})` : ""}
                  </td>
                  <td>{new Date(s.createdAt).toLocaleString()}</td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
    </main>
  );
}

/** One sweep's page. */
export function SweepPage(props: { id: string }) {
  const { data, error } = usePolled<SweepDetail>(
    `/api/sweeps/${encodeURIComponent(props.id)}`,
    (s) => s.trials.some((t) => t.status === "running" || t.status === "pending"),
  );
  const s = data.value;
  if (!s) return <main>{error.value ? <p class="error">{error.value}</p> : <p>Loading…</p>}</main>;
  const color = runColor;
  const series: ChartSeries[] = s.trials.filter((t) => t.curve.length > 0).map((t) => ({
    label: `${t.key}${t.status === "pruned" ? " (pruned)" : ""}`,
    x: t.curve.map((_, e) => e + 1),
    y: t.curve,
    color: color(s.trials.indexOf(t)),
    dash: t.status === "pruned" ? [4, 4] : undefined,
    width: s.best?.key === t.key ? 3 : 1.5,
  }));
  const finished = s.trials.filter((t) => t.value !== null);
  return (
    <main>
      <h1>Sweep {s.id}</h1>
      {error.value && <p class="error">{error.value}</p>}
      <p data-testid="sweep-best">
        {s.experiment}, {s.method}, {s.metric} ({s.direction}), pruner {s.pruner ?? "none"}. {s.best
          ? (
            <>
              Best: <b>{s.best.key}</b> {s.metric} {formatValue(s.best.value)}{" "}
              {JSON.stringify(s.trials.find((t) => t.key === s.best!.key)?.params ?? {})}.
            </>
          )
          : "No finished trial yet."} Epochs saved by pruning: {s.epochsSavedByPruning}.
      </p>
      <table class="runs" data-testid="trial-table">
        <thead>
          <tr>
            <th>Trial</th>
            <th>Status</th>
            {s.parameters.map((p) => <th key={p}>{p}</th>)}
            <th>{s.metric}</th>
            <th>Epochs</th>
            <th>Run</th>
          </tr>
        </thead>
        <tbody>
          {s.trials.map((t) => (
            <tr key={t.key} class={t.status === "pruned" ? "pruned" : ""}>
              <td>{t.key}</td>
              <td>
                <span class={`status ${t.status}`} title={t.reason ?? ""}>{t.status}</span>
              </td>
              {s.parameters.map((p) => <td key={p}>{formatParam(t.params[p])}</td>)}
              <td>{t.value === null ? "" : formatValue(t.value)}</td>
              <td>{t.epochs}</td>
              <td>
                {t.runId && <a href={`#/run/${encodeURIComponent(t.runId)}`}>{t.runId}</a>}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      {series.length > 0 && (
        <Chart id="sweep-curves" title={`${s.metric} per trial`} series={series} />
      )}
      {finished.length > 0 && (
        <>
          <h2>Parameters against {s.metric}</h2>
          <ParallelCoords
            testId="sweep-parallel"
            dimensions={[...s.parameters, s.metric].map((k) => ({
              key: k,
              // A parameter searched on a log scale gets a log axis; others when they span
              // decades.
              log: isLogParameter(s.spec, k) ||
                autoLog(
                  k,
                  finished.map((t) => k === s.metric ? t.value : t.params[k]),
                ),
            }))}
            items={finished.map((t) => ({
              id: `${t.key} ${t.status}`,
              color: color(s.trials.indexOf(t)),
              dashed: t.status === "pruned",
              bold: s.best?.key === t.key,
              values: { ...t.params, [s.metric]: t.value },
            }))}
          />
        </>
      )}
    </main>
  );
}

function formatParam(v: number | string | boolean | undefined): string {
  return typeof v === "number" && !Number.isInteger(v) ? formatValue(v) : String(v ?? "");
}
