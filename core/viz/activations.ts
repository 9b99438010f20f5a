/**
 * Activation maps as heatmaps: one tile per channel, normalised per channel as in Chollet's
 * "Deep Learning with Python" ((x - mean) / std * 64 + 128, clipped to 0..255), coloured with
 * viridis (cold blue to hot yellow).
 *
 * @module
 */
import { buildMosaic, type MosaicImage } from "./mosaic.ts";
import { viridis } from "./colormap.ts";

/** A rendered activation mosaic with its layout. */
export interface ActivationMosaic extends MosaicImage {
  /** Tile width (feature map width). */
  tileW: number;
  /** Tile height. */
  tileH: number;
  /** Channels drawn. */
  count: number;
}

/**
 * Renders one image's feature map of shape `[h, w, c]` (HWC, row-major) as a mosaic of at most
 * `maxChannels` channel heatmaps.
 *
 * @example
 * ```ts
 * import { renderActivations } from "./activations.ts";
 * const m = renderActivations(new Float32Array(4 * 4 * 2).map(Math.random), [4, 4, 2]);
 * console.log(m.count, m.width); // 2 9
 * ```
 */
export function renderActivations(
  data: Float32Array,
  shape: readonly number[],
  options: { maxChannels?: number; cols?: number } = {},
): ActivationMosaic {
  const [h, w, c] = shape;
  if (shape.length !== 3 || data.length !== h * w * c) {
    throw new Error(`renderActivations: ${data.length} values do not match [${shape}]`);
  }
  const count = Math.min(c, options.maxChannels ?? 32);
  const stats = Array.from({ length: count }, (_, ch) => {
    let sum = 0, sq = 0;
    for (let p = 0; p < h * w; p++) {
      const v = data[p * c + ch];
      sum += v;
      sq += v * v;
    }
    const mean = sum / (h * w);
    const std = Math.sqrt(Math.max(0, sq / (h * w) - mean * mean));
    return [mean, std + 1e-5] as const;
  });
  const m = buildMosaic(count, w, h, options.cols ?? 8, 1, (ch, x, y) => {
    const v = ((data[(y * w + x) * c + ch] - stats[ch][0]) / stats[ch][1]) * 64 + 128;
    return viridis(Math.min(255, Math.max(0, v)) / 255);
  });
  return { ...m, tileW: w, tileH: h, count };
}
