/**
 * Metrics as CSV, for download.
 *
 * @module
 */
import type { MetricsRecord } from "../core/run/format.ts";
import { metricKeys } from "./downsample.ts";

/** Quotes a CSV cell when needed and defuses spreadsheet formulas (`=`, `+`, `-`, `@`). */
export function csvCell(value: unknown): string {
  if (value === undefined || value === null) return "";
  if (typeof value === "number") return Number.isFinite(value) ? String(value) : String(value);
  let s = String(value);
  if (/^[=+\-@\t\r]/.test(s)) s = "'" + s;
  return /[",\n\r]/.test(s) ? `"${s.replaceAll('"', '""')}"` : s;
}

/**
 * Renders metric records as CSV with columns `epoch, step, time[, batch], <metrics...>`
 * (absent values are empty cells).
 *
 * @example
 * ```ts
 * import { metricsToCsv } from "./csv.ts";
 * console.log(metricsToCsv([{ epoch: 0, step: 10, time: 1, loss: 0.5 }]));
 * // epoch,step,time,loss\n0,10,1,0.5\n
 * ```
 */
export function metricsToCsv(records: readonly MetricsRecord[]): string {
  const hasBatch = records.some((r) => r.batch !== undefined);
  const keys = metricKeys(records);
  const cols = ["epoch", "step", "time", ...(hasBatch ? ["batch"] : []), ...keys];
  const lines = [cols.map(csvCell).join(",")];
  for (const r of records) lines.push(cols.map((c) => csvCell(r[c])).join(","));
  return lines.join("\n") + "\n";
}
