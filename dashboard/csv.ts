/**
 * Metrics as CSV, for download.
 *
 * @module
 */
import type { MetricsRecord } from "../core/run/format.ts";
import { metricKeys } from "../core/run/downsample.ts";
import { readMetrics } from "../core/run/reader.ts";
import { csvRow } from "../core/format/csv.ts";

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
  const lines = [csvRow(cols)];
  for (const r of records) lines.push(csvRow(cols.map((c) => r[c])));
  return lines.join("\n") + "\n";
}

/**
 * Streams a run's metrics as CSV straight from `metrics.jsonl` (two passes, a chunk at a
 * time: the columns, then the rows), for files too large to hold: every record of the kind
 * asked, in file order.
 */
export function metricsCsvStream(
  runDir: string,
  kind: "epoch" | "batch" | "all",
): ReadableStream<Uint8Array> {
  const wanted = (r: MetricsRecord) =>
    kind === "all" || (kind === "batch") === (r.batch !== undefined);
  const step = 8 << 20;
  const enc = new TextEncoder();
  let cols: string[] | undefined;
  let offset = 0;
  return new ReadableStream<Uint8Array>({
    async start(controller) {
      const keys = new Set<string>();
      let hasBatch = false;
      for (let at = 0;;) {
        const res = await readMetrics(runDir, { sinceOffset: at, maxBytes: step });
        for (const r of res.records) {
          if (!wanted(r)) continue;
          if (r.batch !== undefined) hasBatch = true;
          for (const k of metricKeys([r])) keys.add(k);
        }
        at = res.offset;
        if (!res.more) break;
      }
      cols = ["epoch", "step", "time", ...(hasBatch ? ["batch"] : []), ...[...keys].sort()];
      controller.enqueue(enc.encode(csvRow(cols) + "\n"));
    },
    async pull(controller) {
      const res = await readMetrics(runDir, { sinceOffset: offset, maxBytes: step });
      const rows = res.records.filter(wanted).map((r) => csvRow(cols!.map((c) => r[c])) + "\n");
      if (rows.length) controller.enqueue(enc.encode(rows.join("")));
      offset = res.offset;
      if (!res.more) controller.close();
    },
  });
}
