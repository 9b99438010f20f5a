/**
 * Bilinear resizing of uint8 HWC images in plain TypeScript (half-pixel centres, like
 * `tf.image.resizeBilinear(..., halfPixelCenters=true)` and PIL), for small images such as
 * IDX digits where calling an image library per image would cost more than the work.
 *
 * @module
 */

/**
 * Resizes one `height` x `width` x `channels` uint8 image to `outHeight` x `outWidth`.
 *
 * @example
 * ```ts
 * import { resizeBilinear } from "./resize.ts";
 * const small = new Uint8Array(28 * 28);
 * const big = resizeBilinear(small, 28, 28, 1, 32, 32); // 32 * 32 bytes
 * ```
 */
export function resizeBilinear(
  src: Uint8Array,
  height: number,
  width: number,
  channels: number,
  outHeight: number,
  outWidth: number,
  out?: Uint8Array,
): Uint8Array {
  const dest = out ?? new Uint8Array(outHeight * outWidth * channels);
  if (outHeight === height && outWidth === width) {
    dest.set(src.subarray(0, height * width * channels));
    return dest;
  }
  const sy = height / outHeight;
  const sx = width / outWidth;
  for (let y = 0; y < outHeight; y++) {
    const fy = Math.min(Math.max((y + 0.5) * sy - 0.5, 0), height - 1);
    const y0 = Math.floor(fy);
    const y1 = Math.min(y0 + 1, height - 1);
    const wy = fy - y0;
    for (let x = 0; x < outWidth; x++) {
      const fx = Math.min(Math.max((x + 0.5) * sx - 0.5, 0), width - 1);
      const x0 = Math.floor(fx);
      const x1 = Math.min(x0 + 1, width - 1);
      const wx = fx - x0;
      const d = (y * outWidth + x) * channels;
      for (let c = 0; c < channels; c++) {
        const top = src[(y0 * width + x0) * channels + c] * (1 - wx) +
          src[(y0 * width + x1) * channels + c] * wx;
        const bottom = src[(y1 * width + x0) * channels + c] * (1 - wx) +
          src[(y1 * width + x1) * channels + c] * wx;
        dest[d + c] = Math.round(top * (1 - wy) + bottom * wy);
      }
    }
  }
  return dest;
}
