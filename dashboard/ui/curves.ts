/**
 * Turns metric records into chart series (pure, testable).
 *
 * @module
 */
import type { MetricsRecord, RunEvent } from "./api.ts";
import type { ChartMarker, ChartSeries } from "./chart.tsx";
import { smoothEma } from "./smooth.ts";
import { eventColor, MARKED_EVENTS } from "./format.ts";

/** Batches per epoch, from the first epoch record's step or the largest batch index seen. */
export function stepsPerEpoch(epochs: readonly MetricsRecord[], batches: readonly MetricsRecord[]) {
  const first = epochs.find((r) => r.epoch === 0);
  if (first && first.step > 0) return first.step;
  let max = 0;
  for (const b of batches) max = Math.max(max, (b.batch ?? 0) + 1);
  return Math.max(1, max);
}

/** Train (points), validation (line) and per-batch (faint, smoothed) series of one metric. */
export function metricSeries(
  key: string,
  epochs: readonly MetricsRecord[],
  batches: readonly MetricsRecord[],
  smoothing: number,
): ChartSeries[] {
  const out: ChartSeries[] = [];
  const spe = stepsPerEpoch(epochs, batches);
  const withKey = (rs: readonly MetricsRecord[], k: string) =>
    rs.filter((r) => typeof r[k] === "number");
  const bs = withKey(batches, key);
  if (bs.length > 0) {
    out.push({
      label: `batch ${key}`,
      // Without epoch records (a tracked loop that logs steps only) the x axis is the step.
      x: bs.map((r) => epochs.length === 0 ? r.step : r.epoch + ((r.batch ?? 0) + 1) / spe),
      y: smoothEma(bs.map((r) => r[key] as number), smoothing),
      color: "rgba(31,119,180,0.35)",
      width: 1,
    });
  }
  const tr = withKey(epochs, key);
  if (tr.length > 0) {
    out.push({
      label: `training ${key}`,
      x: tr.map((r) => r.epoch + 1),
      y: smoothEma(tr.map((r) => r[key] as number), smoothing),
      color: "#1f77b4",
      points: true,
    });
  }
  const vk = `val_${key}`;
  const va = withKey(epochs, vk);
  if (va.length > 0) {
    out.push({
      label: `validation ${key}`,
      x: va.map((r) => r.epoch + 1),
      y: smoothEma(va.map((r) => r[vk] as number), smoothing),
      color: "#ff7f0e",
    });
  }
  return out;
}

/** One series per epoch record key (e.g. `lr`). */
export function simpleSeries(key: string, epochs: readonly MetricsRecord[], color: string) {
  const rs = epochs.filter((r) => typeof r[key] === "number");
  return rs.length === 0
    ? []
    : [{ label: key, x: rs.map((r) => r.epoch + 1), y: rs.map((r) => r[key] as number), color }];
}

/** Vertical markers at the end of the epoch in which each notable event happened. */
export function eventMarkers(events: readonly RunEvent[]): ChartMarker[] {
  return events.filter((e) => MARKED_EVENTS.has(e.type)).map((e) => ({
    x: e.epoch + 1,
    label: e.type,
    color: eventColor(e.type),
    // Checkpoints come nearly every epoch early on: a tick on the axis, not a line across.
    style: e.type === "checkpoint_saved" ? "tick" as const : "line" as const,
  }));
}

/** Metric keys of epoch records that are not drawn by the main charts. */
export function extraKeys(
  epochs: readonly MetricsRecord[],
  batches: readonly MetricsRecord[] = [],
): string[] {
  const main = new Set([
    "epoch",
    "step",
    "time",
    "batch",
    "loss",
    "acc",
    "val_loss",
    "val_acc",
    "lr",
    "learning_rate",
  ]);
  const keys = new Set<string>();
  // Step records count too: a tracked script may log a metric only per step.
  for (const rs of [epochs, batches]) {
    for (const r of rs) for (const k in r) if (!main.has(k) && !k.startsWith("val_")) keys.add(k);
  }
  return [...keys].sort();
}
