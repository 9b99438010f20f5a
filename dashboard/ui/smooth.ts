/**
 * Exponential moving average smoothing (debiased, as TensorBoard's smoothing slider).
 *
 * @module
 */

/** Smooths `values` with weight `w` in [0, 1); nulls and NaNs pass through unchanged. */
export function smoothEma(values: readonly (number | null)[], w: number): (number | null)[] {
  if (!(w > 0)) return values.slice();
  let last = 0;
  let n = 0;
  return values.map((v) => {
    if (v === null || !Number.isFinite(v)) return v;
    last = last * w + (1 - w) * v;
    n++;
    return last / (1 - Math.pow(w, n));
  });
}
