/**
 * Pixel normalisation, the single definition shared by training, evaluation and the
 * visualisations: the model sees `x = byte / 255` (values in [0, 1], like the book's
 * `Rescaling(1/255)`), and `denormalizePixels` turns those floats back into the exact bytes, so
 * the dashboard shows the image the model saw (augmentation included).
 *
 * @module
 */

/** How pixels are normalised, as recorded in run.json. */
export const NORMALIZATION = "x / 255 (RGB or gray bytes to [0, 1])";

/**
 * Converts bytes (0..255) to normalised floats `byte / 255`, writing into `out` at `offset`
 * (a new array when `out` is absent).
 *
 * @example
 * ```ts
 * import { denormalizePixels, normalizePixels } from "./normalize.ts";
 * const x = normalizePixels(new Uint8Array([0, 128, 255])); // [0, 0.50196, 1]
 * denormalizePixels(x); // Uint8ClampedArray [0, 128, 255]
 * ```
 */
export function normalizePixels(bytes: Uint8Array, out?: Float32Array, offset = 0): Float32Array {
  const dest = out ?? new Float32Array(bytes.length);
  const table = BYTE_TO_FLOAT;
  for (let i = 0; i < bytes.length; i++) dest[offset + i] = table[bytes[i]];
  return dest;
}

/** `byte / 255` for every byte (a lookup is faster than a division per pixel). */
const BYTE_TO_FLOAT = Float32Array.from({ length: 256 }, (_, b) => b / 255);

/**
 * Inverse of `normalizePixels`: `round(x * 255)` clamped to 0..255, same layout and length (HWC
 * with the image's own channel count: RGB for 3 channels, gray for 1). Exact for any float that
 * `normalizePixels` produced.
 */
export function denormalizePixels(x: Float32Array): Uint8ClampedArray {
  const out = new Uint8ClampedArray(x.length);
  for (let i = 0; i < x.length; i++) out[i] = x[i] * 255;
  return out;
}

/**
 * Expands HWC bytes with 1 (gray), 3 (RGB) or 4 (RGBA) channels to RGBA (alpha 255 when absent),
 * the layout of `ImageData` and PNG encoders.
 */
export function toRgba(bytes: ArrayLike<number>, channels: number): Uint8ClampedArray {
  if (channels !== 1 && channels !== 3 && channels !== 4) {
    throw new RangeError(`toRgba: expected 1, 3 or 4 channels, got ${channels}`);
  }
  const pixels = Math.floor(bytes.length / channels);
  const out = new Uint8ClampedArray(pixels * 4);
  for (let p = 0; p < pixels; p++) {
    const s = p * channels;
    const d = p * 4;
    if (channels === 1) {
      out[d] = out[d + 1] = out[d + 2] = bytes[s];
      out[d + 3] = 255;
    } else {
      out[d] = bytes[s];
      out[d + 1] = bytes[s + 1];
      out[d + 2] = bytes[s + 2];
      out[d + 3] = channels === 4 ? bytes[s + 3] : 255;
    }
  }
  return out;
}
