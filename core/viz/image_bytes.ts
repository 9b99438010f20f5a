/**
 * Turning a normalised image (any float range) into displayable bytes: the one min-max scaling
 * the viz pictures use when no `denormalize` is given.
 *
 * @module
 */

/**
 * Min-max scaling of a normalised image to bytes: its lowest value becomes 0 and its highest
 * 255 (a constant image becomes all 0).
 *
 * @example
 * ```ts
 * import { minMaxBytes } from "./image_bytes.ts";
 * console.log(minMaxBytes(new Float32Array([-1, 0, 1]))); // Uint8ClampedArray [0, 128, 255]
 * ```
 */
export function minMaxBytes(x: Float32Array): Uint8ClampedArray {
  let lo = Infinity, hi = -Infinity;
  for (const v of x) {
    if (v < lo) lo = v;
    if (v > hi) hi = v;
  }
  const span = hi - lo || 1;
  return Uint8ClampedArray.from(x, (v) => ((v - lo) / span) * 255);
}
