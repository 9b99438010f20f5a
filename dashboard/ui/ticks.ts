/**
 * Axis ticks for counted things (epochs, steps): whole numbers only, spaced 1, 2, 5, 10,
 * 20, 50, ... so that an axis over three epochs reads 1 2 3, never 1.2 1.4.
 *
 * @module
 */

/**
 * Whole-number ticks between `min` and `max`, at most about `maxTicks` of them, on the first
 * step of 1, 2, 5, 10, 20, 50, ... that fits.
 *
 * @example
 * ```ts
 * import { integerTicks } from "./ticks.ts";
 * console.log(integerTicks(1, 3, 10)); // [1, 2, 3]
 * console.log(integerTicks(0, 100, 5)); // [0, 50, 100]
 * ```
 */
export function integerTicks(min: number, max: number, maxTicks: number): number[] {
  if (!Number.isFinite(min) || !Number.isFinite(max) || max < min) return [];
  const room = Math.max(1, Math.floor(maxTicks));
  let step = 1;
  for (let k = 0; (max - min) / step > room; k++) {
    step = [1, 2, 5][k % 3] * 10 ** Math.floor(k / 3);
  }
  const out: number[] = [];
  for (let v = Math.ceil(min / step) * step; v <= max + 1e-9; v += step) out.push(v);
  return out;
}
