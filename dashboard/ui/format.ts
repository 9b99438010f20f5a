/**
 * Small display helpers.
 *
 * @module
 */

export { formatDuration } from "../../core/format/duration.ts";

/** A metric value with 4 significant digits (or an empty string). */
export function formatValue(v: number | undefined | null): string {
  if (v === undefined || v === null) return "";
  if (!Number.isFinite(v)) return String(v);
  return Math.abs(v) < 1e-3 && v !== 0 ? v.toExponential(2) : v.toPrecision(4);
}

/** Colour of an event type's marker. */
export function eventColor(type: string): string {
  switch (type) {
    case "lr_changed":
      return "#9c27b0";
    case "early_stopped":
    case "stop_requested":
    case "pruned":
      return "#d32f2f";
    case "overfitting_detected":
      return "#ef6c00";
    case "checkpoint_saved":
      return "#2e7d32";
    case "nan_loss":
    case "failed":
      return "#b71c1c";
    default:
      return "#888";
  }
}

/** Event types drawn as markers on the charts. */
export const MARKED_EVENTS = new Set([
  "lr_changed",
  "early_stopped",
  "stop_requested",
  "overfitting_detected",
  "checkpoint_saved",
  "nan_loss",
  "resumed",
  "interrupted",
  "pruned",
]);

/** Titles of the system metrics recorded per epoch (see `core/train/system_metrics.ts`). */
export const SYSTEM_METRIC_TITLES: Record<string, string> = {
  images_per_s: "System: training images per second",
  cpu_percent: "System: process CPU % (100 = one core)",
  rss_mb: "System: resident memory (MiB)",
  wasm_heap_mb: "System: wasm heap (MiB)",
  load_1m: "System: load average (1 min)",
  epoch_seconds: "Epoch seconds",
};
