/**
 * A run's page: live curves, events, model summary, hyperparameters, and the "what it
 * learned" and evaluation views.
 *
 * @module
 */
import { useComputed, useSignal } from "@preact/signals";
import { useEffect } from "preact/hooks";
import {
  getJson,
  type MetricsRecord,
  type MetricsResponse,
  type RunDetail,
  type RunEvent,
  runUrl,
} from "./api.ts";
import { Chart } from "./chart.tsx";
import { eventMarkers, extraKeys, metricSeries, simpleSeries } from "./curves.ts";
import { eventColor, formatDuration, formatValue } from "./format.ts";
import { VizView } from "./viz_view.tsx";
import { EvalView } from "./eval_view.tsx";

/** Renders the page of run `id`, kept live over Server-Sent Events. */
export function RunPage({ id }: { id: string }) {
  const detail = useSignal<RunDetail | null>(null);
  const epochs = useSignal<MetricsRecord[]>([]);
  const batches = useSignal<MetricsRecord[]>([]);
  const events = useSignal<RunEvent[]>([]);
  const error = useSignal("");
  const live = useSignal(false);
  const downsampled = useSignal(false);
  const smoothing = useSignal(0);
  const tab = useSignal<"curves" | "learned" | "evaluation">("curves");

  useEffect(() => {
    let es: EventSource | null = null;
    let cancelled = false;
    const load = async () => {
      try {
        const [d, m, e] = await Promise.all([
          getJson<RunDetail>(runUrl(id)),
          getJson<MetricsResponse>(runUrl(id, "/metrics?maxPoints=4000")),
          getJson<{ events: RunEvent[]; offset: number }>(runUrl(id, "/events")),
        ]);
        if (cancelled) return;
        detail.value = d;
        epochs.value = m.epochs;
        batches.value = m.batches;
        downsampled.value = m.downsampled;
        events.value = e.events;
        (globalThis as unknown as { __runLoadedAt?: number }).__runLoadedAt = performance.now();
        es = new EventSource(
          runUrl(id, `/stream?metricsSince=${m.offset}&eventsSince=${e.offset}`),
        );
        es.addEventListener("open", () => (live.value = true));
        es.addEventListener("error", () => (live.value = false));
        es.addEventListener("metrics", (ev) => {
          const data = JSON.parse((ev as MessageEvent).data) as {
            records: MetricsRecord[];
            reset: boolean;
          };
          if (data.reset) {
            es?.close();
            load();
            return;
          }
          const ne = data.records.filter((r) => r.batch === undefined);
          const nb = data.records.filter((r) => r.batch !== undefined);
          if (ne.length) epochs.value = [...epochs.value, ...ne];
          if (nb.length) batches.value = [...batches.value, ...nb];
        });
        es.addEventListener("events", (ev) => {
          const data = JSON.parse((ev as MessageEvent).data) as { events: RunEvent[] };
          events.value = [...events.value, ...data.events];
        });
        es.addEventListener("status", (ev) => {
          const info = JSON.parse((ev as MessageEvent).data);
          if (detail.value) detail.value = { ...detail.value, info };
        });
      } catch (err) {
        error.value = (err as Error).message;
      }
    };
    load();
    return () => {
      cancelled = true;
      es?.close();
    };
  }, [id]);

  const markers = useComputed(() => eventMarkers(events.value));
  const loss = useComputed(() =>
    metricSeries("loss", epochs.value, batches.value, smoothing.value)
  );
  const acc = useComputed(() => metricSeries("acc", epochs.value, batches.value, smoothing.value));
  const lr = useComputed(() =>
    simpleSeries("lr", epochs.value, "#9c27b0").concat(
      simpleSeries("learning_rate", epochs.value, "#7b1fa2"),
    )
  );
  const extras = useComputed(() => extraKeys(epochs.value));

  if (error.value) {
    return (
      <main>
        <p class="error">{error.value}</p>
      </main>
    );
  }
  const d = detail.value;
  if (!d) {
    return (
      <main>
        <p>Loading…</p>
      </main>
    );
  }
  const info = d.info;
  const last = epochs.value[epochs.value.length - 1];
  return (
    <main>
      <p>
        <a href="#/">← all runs</a>
      </p>
      <h1 data-testid="run-title">{info.id}</h1>
      <p class="meta">
        <span class={`status ${info.status}`} data-testid="run-status">{info.status}</span>{" "}
        experiment <b>{info.experiment}</b> · {info.epochs} epochs · {info.steps} steps ·{" "}
        {formatDuration(d.summary.durationMs)}
        {info.stopReason ? ` · stopped: ${info.stopReason}` : ""}
        {info.error ? ` · error: ${info.error}` : ""}
        {" · "}
        <span class={live.value ? "live on" : "live"}>{live.value ? "live" : "offline"}</span>
      </p>
      <nav class="tabs">
        {(["curves", "learned", "evaluation"] as const).map((t) => (
          <button
            key={t}
            type="button"
            class={tab.value === t ? "active" : ""}
            onClick={() => (tab.value = t)}
            data-testid={`tab-${t}`}
          >
            {t === "curves" ? "Curves" : t === "learned" ? "What it learned" : "Evaluation"}
          </button>
        ))}
      </nav>
      {tab.value === "curves" && (
        <section>
          <div class="controls">
            <label>
              Smoothing{" "}
              <input
                type="range"
                min="0"
                max="0.99"
                step="0.01"
                value={smoothing.value}
                onInput={(e) => (smoothing.value = Number((e.target as HTMLInputElement).value))}
              />{" "}
              {smoothing.value.toFixed(2)}
            </label>{" "}
            <a class="button" href={runUrl(id, "/metrics.csv?kind=epoch")} download>
              Download epoch CSV
            </a>{" "}
            <a class="button" href={runUrl(id, "/metrics.csv?kind=batch")} download>
              Batch CSV
            </a>
            {downsampled.value && (
              <span class="note">
                {" "}long series shown downsampled (bucket min/max: spikes kept)
              </span>
            )}
          </div>
          <p class="meta" data-testid="last-epoch">
            {last
              ? `last epoch ${last.epoch + 1}: ` +
                ["loss", "acc", "val_loss", "val_acc", "lr"]
                  .filter((k) => typeof last[k] === "number")
                  .map((k) =>
                    `${k} ${formatValue(last[k])}`
                  )
                  .join(", ")
              : "no epochs yet"}
          </p>
          <div class="charts">
            <Chart
              id="loss"
              title="Training and validation loss"
              series={loss.value}
              markers={markers.value}
            />
            <Chart
              id="acc"
              title="Training and validation accuracy"
              series={acc.value}
              markers={markers.value}
            />
            <Chart id="lr" title="Learning rate" series={lr.value} markers={markers.value} logY />
            {extras.value.map((k) => (
              <Chart
                key={k}
                id={`extra-${k}`}
                title={k}
                series={metricSeries(k, epochs.value, batches.value, smoothing.value)}
                markers={markers.value}
              />
            ))}
          </div>
          <h2>Events</h2>
          <ul class="events" data-testid="events">
            {events.value.map((e, i) => (
              <li key={i}>
                <span class="dot" style={{ background: eventColor(e.type) }} /> epoch {e.epoch + 1}:
                {" "}
                <b>{e.type}</b> {eventDetail(e)}
              </li>
            ))}
          </ul>
          <div class="two">
            <div>
              <h2>Hyperparameters</h2>
              <table class="kv" data-testid="config">
                <tbody>
                  {Object.entries(info.config ?? {}).map(([k, v]) => (
                    <tr key={k}>
                      <th>{k}</th>
                      <td>{typeof v === "string" ? v : JSON.stringify(v)}</td>
                    </tr>
                  ))}
                  {info.backend && (
                    <tr>
                      <th>backend</th>
                      <td>{`${info.backend.name} (${info.backend.reason})`}</td>
                    </tr>
                  )}
                </tbody>
              </table>
              {d.checkpoints.length > 0 && <p>Checkpoints: {d.checkpoints.join(", ")}</p>}
            </div>
            <div>
              <h2>Model</h2>
              <pre
                class="summary"
                data-testid="model-summary"
              >{d.modelSummary ?? "(no model summary)"}</pre>
            </div>
          </div>
        </section>
      )}
      {tab.value === "learned" && <VizView id={id} />}
      {tab.value === "evaluation" && <EvalView id={id} />}
    </main>
  );
}

function eventDetail(e: RunEvent): string {
  const { type: _t, epoch: _e, step: _s, time: _tm, ...rest } = e;
  return Object.keys(rest).length ? JSON.stringify(rest) : "";
}
