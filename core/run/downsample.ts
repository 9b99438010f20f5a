/**
 * Downsampling of long metric series by bucketed min/max: every spike survives (unlike the
 * random sampling of TensorBoard and W&B line plots).
 *
 * @module
 */

/**
 * Returns at most about `maxPoints` of `records` (kept in order): the first and last record,
 * and in each of `maxPoints / (2 * keys.length)` equal buckets the records holding the
 * minimum and the maximum of each key. Returns `records` itself when it is short enough.
 *
 * @example
 * ```ts
 * import { downsampleMinMax } from "./downsample.ts";
 * const recs = Array.from({ length: 10_000 }, (_, i) => ({ loss: i === 5000 ? 99 : 1 }));
 * const out = downsampleMinMax(recs, 100, ["loss"]);
 * console.log(out.length <= 100, out.some((r) => r.loss === 99)); // true true
 * ```
 */
export function downsampleMinMax<T extends Record<string, unknown>>(
  records: readonly T[],
  maxPoints: number,
  keys: readonly string[],
): T[] {
  const n = records.length;
  const limit = Math.max(2, Math.floor(maxPoints));
  if (n <= limit) return records.slice();
  const k = Math.max(1, keys.length);
  const buckets = Math.max(1, Math.floor((limit - 2) / (2 * k)));
  const keep = new Uint8Array(n);
  keep[0] = 1;
  keep[n - 1] = 1;
  for (let b = 0; b < buckets; b++) {
    const start = Math.floor((b * n) / buckets);
    const end = Math.floor(((b + 1) * n) / buckets);
    for (const key of keys) {
      let minI = -1, maxI = -1;
      let minV = Infinity, maxV = -Infinity;
      for (let i = start; i < end; i++) {
        const v = records[i][key];
        if (typeof v !== "number") continue;
        if (Number.isNaN(v)) {
          keep[i] = 1; // a NaN (divergence) is always shown
          continue;
        }
        if (v < minV) (minV = v), (minI = i);
        if (v > maxV) (maxV = v), (maxI = i);
      }
      if (minI >= 0) keep[minI] = 1;
      if (maxI >= 0) keep[maxI] = 1;
    }
  }
  const out: T[] = [];
  for (let i = 0; i < n; i++) if (keep[i]) out.push(records[i]);
  return out;
}

/** The metric keys of `records` (everything but epoch, step, time and batch), sorted. */
export function metricKeys(records: readonly Record<string, unknown>[]): string[] {
  const keys = new Set<string>();
  for (const r of records) {
    for (const k in r) {
      if (k !== "epoch" && k !== "step" && k !== "time" && k !== "batch") keys.add(k);
    }
  }
  const order = ["loss", "acc", "val_loss", "val_acc", "lr"];
  return [...keys].sort((a, b) => {
    const ia = order.indexOf(a), ib = order.indexOf(b);
    if (ia >= 0 || ib >= 0) return (ia < 0 ? 99 : ia) - (ib < 0 ? 99 : ib);
    return a.localeCompare(b);
  });
}
