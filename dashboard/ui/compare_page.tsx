/**
 * Overlay of several runs' curves for comparison.
 *
 * @module
 */
import { useSignal } from "@preact/signals";
import { useEffect } from "preact/hooks";
import { getJson, type MetricsRecord, type MetricsResponse, runUrl } from "./api.ts";
import { Chart, type ChartSeries } from "./chart.tsx";

const PALETTE = [
  "#1f77b4",
  "#ff7f0e",
  "#2ca02c",
  "#d62728",
  "#9467bd",
  "#8c564b",
  "#e377c2",
  "#17becf",
];

/** Series of `key` per run, one colour per run. */
export function compareSeries(
  runs: { id: string; epochs: MetricsRecord[] }[],
  key: string,
): ChartSeries[] {
  return runs.map((r, i) => {
    const rs = r.epochs.filter((e) => typeof e[key] === "number");
    return {
      label: r.id,
      x: rs.map((e) => e.epoch + 1),
      y: rs.map((e) => e[key] as number),
      color: PALETTE[i % PALETTE.length],
      points: !key.startsWith("val_"),
    };
  });
}

/** Renders the comparison of runs `ids` (refreshed every 2 seconds). */
export function ComparePage({ ids }: { ids: string[] }) {
  const runs = useSignal<{ id: string; epochs: MetricsRecord[] }[]>([]);
  const error = useSignal("");
  useEffect(() => {
    let stop = false;
    const load = async () => {
      try {
        runs.value = await Promise.all(ids.map(async (id) => ({
          id,
          epochs: (await getJson<MetricsResponse>(runUrl(id, "/metrics?maxPoints=4000"))).epochs,
        })));
      } catch (err) {
        error.value = (err as Error).message;
      }
      if (!stop) setTimeout(load, 2000);
    };
    load();
    return () => {
      stop = true;
    };
  }, [ids.join("\n")]);
  return (
    <main>
      <p>
        <a href="#/">← all runs</a>
      </p>
      <h1>Comparing {ids.length} runs</h1>
      <ul>
        {ids.map((id, i) => (
          <li key={id}>
            <span class="dot" style={{ background: PALETTE[i % PALETTE.length] }} />{" "}
            <a href={`#/run/${encodeURIComponent(id)}`}>{id}</a>
          </li>
        ))}
      </ul>
      {error.value && <p class="error">{error.value}</p>}
      <div class="charts">
        {["val_loss", "val_acc", "loss", "acc"].map((k) => (
          <Chart key={k} id={`compare-${k}`} title={k} series={compareSeries(runs.value, k)} />
        ))}
      </div>
    </main>
  );
}
