/**
 * The list of runs: status, experiment, best validation metrics, duration; pick runs to compare.
 *
 * @module
 */
import { useSignal } from "@preact/signals";
import { useEffect } from "preact/hooks";
import { getJson, type RunSummary } from "./api.ts";
import { formatDuration, formatValue } from "./format.ts";

/** Renders the run list, refreshed every 3 seconds. */
export function RunList() {
  const runs = useSignal<RunSummary[] | null>(null);
  const total = useSignal(0);
  const error = useSignal("");
  const selected = useSignal<string[]>([]);
  useEffect(() => {
    let stop = false;
    const load = async () => {
      try {
        const r = await getJson<{ total: number; runs: RunSummary[] }>("/api/runs");
        runs.value = r.runs;
        total.value = r.total;
        error.value = "";
      } catch (err) {
        error.value = (err as Error).message;
      }
      if (!stop) setTimeout(load, 3000);
    };
    load();
    return () => {
      stop = true;
    };
  }, []);
  const toggle = (id: string) => {
    const s = selected.value;
    selected.value = s.includes(id) ? s.filter((x) => x !== id) : [...s, id];
  };
  const compareHref = "#/compare?runs=" + selected.value.map(encodeURIComponent).join(",");
  return (
    <main>
      <h1>Runs</h1>
      {error.value && <p class="error">{error.value}</p>}
      {runs.value === null ? <p>Loading…</p> : runs.value.length === 0
        ? (
          <p>
            No runs yet. Train one with <code>deno task train</code>.
          </p>
        )
        : (
          <>
            <p>
              {total.value} runs.{" "}
              <a
                class={selected.value.length < 2 ? "button disabled" : "button"}
                href={selected.value.length < 2 ? undefined : compareHref}
                data-testid="compare-link"
              >
                Compare {selected.value.length} selected
              </a>
            </p>
            <table class="runs" data-testid="run-table">
              <thead>
                <tr>
                  <th></th>
                  <th>Run</th>
                  <th>Experiment</th>
                  <th>Status</th>
                  <th>Epochs</th>
                  <th>Best val_loss</th>
                  <th>Best val_acc</th>
                  <th>Duration</th>
                  <th>Started</th>
                </tr>
              </thead>
              <tbody>
                {runs.value.map((r) => (
                  <tr key={r.id}>
                    <td>
                      <input
                        type="checkbox"
                        checked={selected.value.includes(r.id)}
                        onChange={() => toggle(r.id)}
                        aria-label={`select ${r.id}`}
                      />
                    </td>
                    <td>
                      <a class="run-link" href={`#/run/${encodeURIComponent(r.id)}`}>{r.id}</a>
                    </td>
                    <td>{r.experiment ?? ""}</td>
                    <td>
                      <span class={`status ${r.status}`} title={r.error ?? r.stopReason ?? ""}>
                        {r.status}
                      </span>
                    </td>
                    <td>{r.epochs}</td>
                    <td>{bestCell(r, "val_loss")}</td>
                    <td>{bestCell(r, "val_acc")}</td>
                    <td>{formatDuration(r.durationMs)}</td>
                    <td>{r.createdAt ? new Date(r.createdAt).toLocaleString() : ""}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </>
        )}
    </main>
  );
}

function bestCell(r: RunSummary, key: string) {
  const b = r.best?.[key];
  return b ? `${formatValue(b.value)} (ep ${b.epoch + 1})` : "";
}
