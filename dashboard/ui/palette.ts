/**
 * The one palette of lines that stand for runs (the comparison, a sweep's trials): 20
 * colours, each far from the others and from the faded grey of unselected lines, so that
 * "Compare these 20" shows 20 distinguishable runs. Past 20 the colours repeat.
 *
 * @module
 */

/**
 * Tableau's 10, then 10 more chosen greedily for the largest CIELAB distance to all before them,
 * to `#ccc` (the faded line) and to the white page (every pair differs by ΔE > 27).
 */
export const RUN_PALETTE: readonly string[] = [
  "#1f77b4",
  "#ff7f0e",
  "#2ca02c",
  "#d62728",
  "#9467bd",
  "#8c564b",
  "#e377c2",
  "#7f7f7f",
  "#bcbd22",
  "#17becf",
  "#0000ff",
  "#ff00ff",
  "#000f99",
  "#465a16",
  "#ff0080",
  "#161d5a",
  "#700043",
  "#996b00",
  "#3370ff",
  "#0b8e67",
];

/**
 * The colour of the `i`-th run.
 *
 * @example
 * ```ts
 * import { runColor } from "./palette.ts";
 * console.log(runColor(0), runColor(19) !== runColor(0)); // #1f77b4 true
 * ```
 */
export function runColor(i: number): string {
  return RUN_PALETTE[((i % RUN_PALETTE.length) + RUN_PALETTE.length) % RUN_PALETTE.length];
}
