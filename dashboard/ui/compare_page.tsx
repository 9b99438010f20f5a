/**
 * Comparison of runs that explains: any metric the runs recorded (a picker built from the keys
 * found) with smoothing, linear/log y and epoch, step or wall-time x; a table of only the
 * hyperparameters that differ; and parallel coordinates of those hyperparameters against a
 * chosen metric, where brushing an axis filters the table. The view state lives in the URL.
 *
 * @module
 */
import { useSignal } from "@preact/signals";
import { useEffect } from "preact/hooks";
import {
  type Cell,
  getJson,
  type MetricsRecord,
  type MetricsResponse,
  type RunListResponse,
  type RunSummary,
  runUrl,
} from "./api.ts";
import { Chart, type ChartSeries } from "./chart.tsx";
import { smoothEma } from "./smooth.ts";
import { autoLog, ParallelCoords } from "./parallel_coords.tsx";
import { cellText } from "./run_list.tsx";
import { compareHash } from "./url_state.ts";
import { runColor } from "./palette.ts";

export { runColor } from "./palette.ts";

/** What the x axis shows. */
export type XAxis = "epoch" | "step" | "wall";

/** Metric keys found in the runs' epoch records (bookkeeping keys left out), sorted. */
export function metricKeysOf(runs: readonly { epochs: readonly MetricsRecord[] }[]): string[] {
  const skip = new Set(["epoch", "step", "time", "batch"]);
  const keys = new Set<string>();
  for (const r of runs) {
    for (const e of r.epochs) {
      for (const k in e) if (!skip.has(k) && typeof e[k] === "number") keys.add(k);
    }
  }
  return [...keys].sort();
}

/** Series of `key` per run, one colour per run, with smoothing and the chosen x. */
export function compareSeries(
  runs: readonly {
    id: string;
    label?: string;
    epochs: readonly MetricsRecord[];
    start?: number | null;
  }[],
  key: string,
  x: XAxis = "epoch",
  smoothing = 0,
): ChartSeries[] {
  return runs.map((r, i) => {
    const rs = r.epochs.filter((e) => typeof e[key] === "number");
    const t0 = r.start ?? rs[0]?.time ?? 0;
    return {
      label: r.label ?? r.id,
      x: rs.map((e) =>
        x === "epoch" ? e.epoch + 1 : x === "step" ? e.step : (e.time - t0) / 60_000
      ),
      y: smoothEma(rs.map((e) => e[key] as number), smoothing),
      color: runColor(i),
      points: rs.length < 60,
    };
  });
}

/** Hyperparameter columns whose values are not all the same across `runs`. */
export function differingKeys(
  runs: readonly RunSummary[],
  hyperKeys: readonly string[],
): string[] {
  return hyperKeys.filter((k) => {
    const seen = new Set(runs.map((r) => JSON.stringify(r.cells[k] ?? null)));
    return seen.size > 1;
  });
}

function idQuery(ids: readonly string[]): string {
  return ids.map((id) => `id = ${JSON.stringify(id)}`).join(" or ");
}

/** Renders the comparison of runs `ids` with view state `params` (refreshed every 5 s). */
export function ComparePage({ ids, params }: { ids: string[]; params: Record<string, string> }) {
  const runs = useSignal<
    { id: string; label: string; epochs: MetricsRecord[]; start: number | null }[]
  >([]);
  const summaries = useSignal<RunSummary[]>([]);
  const hyperKeys = useSignal<string[]>([]);
  const metricCols = useSignal<string[]>([]);
  const brushed = useSignal<string[] | null>(null);
  const error = useSignal("");
  const metric = params.metric ?? "";
  const x = (params.x ?? "epoch") as XAxis;
  const logY = params.log === "1";
  const smoothing = Math.min(0.99, Math.max(0, Number(params.smooth) || 0));
  const pcMetric = params.pc ?? "";
  const set = (k: string, v: string) => {
    const next = { ...params, [k]: v };
    if (v === "") delete next[k];
    location.hash = compareHash(ids, next);
  };
  useEffect(() => {
    let stop = false;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const load = async () => {
      try {
        const q = encodeURIComponent(idQuery(ids));
        const list = await getJson<RunListResponse>(
          `/api/runs?q=${q}&archived=1&limit=${ids.length}`,
        );
        const byId = new Map(list.runs.map((r) => [r.id, r]));
        const ordered = ids.map((id) => byId.get(id)).filter((r): r is RunSummary => !!r);
        const metrics = await Promise.all(ordered.map(async (r) => ({
          id: r.id,
          label: r.name ? `${r.name} (${r.id})` : r.id,
          epochs: (await getJson<MetricsResponse>(runUrl(r.id, "/metrics?maxPoints=4000")))
            .epochs,
          start: typeof r.cells.start === "number" ? r.cells.start : null,
        })));
        if (stop) return;
        summaries.value = ordered;
        hyperKeys.value = list.columns.filter((c) => c.group === "hyperparameter").map((c) =>
          c.key
        );
        metricCols.value = list.columns.filter((c) => c.group === "metric").map((c) => c.key);
        runs.value = metrics;
        error.value = ordered.length < ids.length
          ? `not found: ${ids.filter((id) => !byId.has(id)).join(", ")}`
          : "";
      } catch (err) {
        if (!stop) error.value = (err as Error).message;
      }
      if (!stop) timer = setTimeout(load, 5000);
    };
    load();
    return () => {
      stop = true;
      clearTimeout(timer);
    };
  }, [ids.join("\n")]);
  const keys = metricKeysOf(runs.value);
  const shown = metric && keys.includes(metric)
    ? metric
    : keys.includes("val_loss")
    ? "val_loss"
    : keys[0] ?? "";
  const differ = differingKeys(summaries.value, hyperKeys.value);
  const pcKey = pcMetric && metricCols.value.includes(pcMetric)
    ? pcMetric
    : metricCols.value.includes("best.val_acc")
    ? "best.val_acc"
    : metricCols.value[0] ?? "";
  const colorOf = new Map(ids.map((id, i) => [id, runColor(i)]));
  const tableRuns = summaries.value.filter((r) =>
    brushed.value === null || brushed.value.includes(r.id)
  );
  const sameCount = hyperKeys.value.length - differ.length;
  return (
    <main>
      <p>
        <a href="#/">← all runs</a>
      </p>
      <h1>Comparing {ids.length} runs</h1>
      {error.value && <p class="error">{error.value}</p>}
      <div class="controls">
        <label>
          Metric{" "}
          <select
            data-testid="metric-picker"
            value={shown}
            onChange={(e) => set("metric", (e.target as HTMLSelectElement).value)}
          >
            {keys.map((k) => <option key={k} value={k}>{k}</option>)}
          </select>
        </label>{" "}
        <label>
          x{" "}
          <select
            data-testid="x-axis"
            value={x}
            onChange={(e) => set("x", (e.target as HTMLSelectElement).value)}
          >
            <option value="epoch">epoch</option>
            <option value="step">step</option>
            <option value="wall">wall time (min)</option>
          </select>
        </label>{" "}
        <label>
          <input
            type="checkbox"
            data-testid="log-y"
            checked={logY}
            onChange={() => set("log", logY ? "" : "1")}
          />{" "}
          log y
        </label>{" "}
        <label>
          Smoothing{" "}
          <input
            type="range"
            data-testid="compare-smoothing"
            min="0"
            max="0.99"
            step="0.01"
            value={smoothing}
            onChange={(e) => set("smooth", (e.target as HTMLInputElement).value)}
          />{" "}
          {smoothing.toFixed(2)}
        </label>
      </div>
      <div class="charts wide">
        {shown && (
          <Chart
            key={`${shown}-${x}`}
            id={`compare-${shown}`}
            title={shown}
            series={compareSeries(runs.value, shown, x, smoothing)}
            logY={logY}
            xLabel={x === "wall" ? "minutes since start" : x}
            integerX={x !== "wall"}
          />
        )}
      </div>
      <h2>
        Hyperparameters that differ{" "}
        <span class="note">
          ({differ.length} differ, {sameCount} the same
          {brushed.value !== null ? `; ${tableRuns.length} runs inside the brushed ranges` : ""})
        </span>
      </h2>
      <table class="runs" data-testid="diff-table">
        <thead>
          <tr>
            <th>run</th>
            {differ.map((k) => <th key={k}>{k}</th>)}
            {pcKey && <th class="num">{pcKey}</th>}
          </tr>
        </thead>
        <tbody>
          {tableRuns.map((r) => (
            <tr key={r.id} data-run={r.id}>
              <td>
                <span class="dot" style={{ background: colorOf.get(r.id) }} />{" "}
                <a href={`#/run/${encodeURIComponent(r.id)}`}>{r.name ?? r.id}</a>
              </td>
              {differ.map((k) => <td key={k} data-col={k}>{cellText(k, r.cells[k])}</td>)}
              {pcKey && <td class="num">{cellText(pcKey, r.cells[pcKey])}</td>}
            </tr>
          ))}
        </tbody>
      </table>
      <h2>
        Parameters against{" "}
        <select
          data-testid="pc-metric"
          value={pcKey}
          onChange={(e) => set("pc", (e.target as HTMLSelectElement).value)}
        >
          {metricCols.value.map((k) => <option key={k} value={k}>{k}</option>)}
        </select>{" "}
        <span class="note">drag along an axis to filter the table; double-click clears</span>
      </h2>
      {summaries.value.length > 0 && (
        <ParallelCoords
          dimensions={[...differ, ...(pcKey ? [pcKey] : [])].map((k) => ({
            key: k,
            log: autoLog(k, summaries.value.map((r) => pcValue(r.cells[k]))),
          }))}
          items={summaries.value.map((r) => ({
            id: r.id,
            color: colorOf.get(r.id) ?? "#888",
            values: Object.fromEntries(
              [...differ, pcKey].map((k) => [k, pcValue(r.cells[k])]),
            ),
          }))}
          onBrush={(sel, brushes) => (brushed.value = Object.keys(brushes).length ? sel : null)}
        />
      )}
    </main>
  );
}

function pcValue(v: Cell | undefined): number | string | null {
  if (v === null || v === undefined) return null;
  if (Array.isArray(v)) return v.join(",");
  if (typeof v === "boolean") return String(v);
  return v;
}
