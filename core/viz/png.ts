/**
 * PNG encoding for visualisations (fast-png).
 *
 * @module
 */
import { encode } from "fast-png";

/**
 * Encodes 8-bit pixels as PNG. `channels` is 1 (grey), 3 (RGB) or 4 (RGBA).
 *
 * @example
 * ```ts
 * import { encodePng } from "./png.ts";
 * const png = encodePng(new Uint8Array([255, 0, 0]), 1, 1, 3);
 * console.log(png.length);
 * ```
 */
export function encodePng(
  data: Uint8Array | Uint8ClampedArray,
  width: number,
  height: number,
  channels: 1 | 3 | 4,
): Uint8Array {
  if (data.length !== width * height * channels) {
    throw new Error(
      `encodePng: ${data.length} bytes for ${width}x${height}x${channels} ` +
        `(expected ${width * height * channels})`,
    );
  }
  const bytes = data instanceof Uint8Array
    ? data
    : new Uint8Array(data.buffer, data.byteOffset, data.length);
  return encode({ width, height, data: bytes, channels, depth: 8 });
}
