/**
 * The one duration format, in milliseconds everywhere: `words` (`1h 02m`, `3m 05s`, `12s`)
 * for tables and pages, `clock` (`1:02:05`, `3:05`) for progress lines.
 *
 * @example
 * ```ts
 * import { formatDuration } from "./duration.ts";
 * formatDuration(185_000); // "3m 05s"
 * formatDuration(185_000, "clock"); // "3:05"
 * ```
 *
 * @module
 */

/**
 * `ms` as text: `words` (default; `""` when unknown) or `clock` (`"?"` when unknown).
 *
 * @example
 * ```ts
 * import { formatDuration } from "./duration.ts";
 * formatDuration(3_725_000); // "1h 02m"
 * formatDuration(3_725_000, "clock"); // "1:02:05"
 * formatDuration(null); // ""
 * ```
 */
export function formatDuration(
  ms: number | null | undefined,
  style: "words" | "clock" = "words",
): string {
  if (ms === null || ms === undefined || !Number.isFinite(ms) || ms < 0) {
    return style === "clock" ? "?" : "";
  }
  const s = Math.round(ms / 1000);
  const m = Math.floor(s / 60);
  const ss = String(s % 60).padStart(2, "0");
  if (style === "clock") {
    const h = Math.floor(m / 60);
    return h > 0 ? `${h}:${String(m % 60).padStart(2, "0")}:${ss}` : `${m}:${ss}`;
  }
  if (s < 60) return `${s}s`;
  if (m < 60) return `${m}m ${ss}s`;
  return `${Math.floor(m / 60)}h ${String(m % 60).padStart(2, "0")}m`;
}
