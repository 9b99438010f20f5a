/**
 * The "Curves" tab of a run: smoothing and CSV controls, loss, accuracy, learning-rate and
 * extra metric charts with event markers, the events list, hyperparameters and the model.
 *
 * @module
 */
import { useComputed, useSignal } from "@preact/signals";
import { type RunEvent, runUrl } from "./api.ts";
import { Chart } from "./chart.tsx";
import { eventMarkers, extraKeys, metricSeries, simpleSeries } from "./curves.ts";
import { eventColor, formatValue, SYSTEM_METRIC_TITLES } from "./format.ts";
import type { LiveRun } from "./live_run.ts";
import { RunDetails } from "./run_details.tsx";

/** The curves tab of run `id`. */
export function CurvesView({ id, run }: { id: string; run: LiveRun }) {
  const { epochs, batches, events, downsampled } = run;
  const smoothing = useSignal(0);
  const markers = useComputed(() => eventMarkers(events.value));
  const xLabel = epochs.value.length === 0 && batches.value.length > 0 ? "step" : "epoch";
  const loss = useComputed(() =>
    metricSeries("loss", epochs.value, batches.value, smoothing.value)
  );
  const acc = useComputed(() => metricSeries("acc", epochs.value, batches.value, smoothing.value));
  const lr = useComputed(() =>
    simpleSeries("lr", epochs.value, "#9c27b0").concat(
      simpleSeries("learning_rate", epochs.value, "#7b1fa2"),
    )
  );
  // Other metrics first, then the system metrics (throughput, CPU, memory, load).
  const extras = useComputed(() =>
    extraKeys(epochs.value, batches.value).sort((a, b) =>
      Number(a in SYSTEM_METRIC_TITLES) - Number(b in SYSTEM_METRIC_TITLES)
    )
  );
  const last = epochs.value[epochs.value.length - 1];
  return (
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
              .map((k) => `${k} ${formatValue(last[k])}`)
              .join(", ")
          : "no epochs yet"}
      </p>
      <div class="charts">
        <Chart
          id="loss"
          title="Training and validation loss"
          series={loss.value}
          markers={markers.value}
          xLabel={xLabel}
        />
        <Chart
          id="acc"
          title="Training and validation accuracy"
          series={acc.value}
          markers={markers.value}
          xLabel={xLabel}
        />
        <Chart
          id="lr"
          title="Learning rate"
          series={lr.value}
          markers={markers.value}
          xLabel={xLabel}
          logY
        />
        {extras.value.map((k) => (
          <Chart
            key={k}
            id={`extra-${k}`}
            title={SYSTEM_METRIC_TITLES[k] ?? k}
            series={metricSeries(k, epochs.value, batches.value, smoothing.value)}
            markers={markers.value}
            xLabel={xLabel}
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
      {run.detail.value && <RunDetails detail={run.detail.value} />}
    </section>
  );
}

function eventDetail(e: RunEvent): string {
  const { type: _t, epoch: _e, step: _s, time: _tm, ...rest } = e;
  return Object.keys(rest).length ? JSON.stringify(rest) : "";
}
