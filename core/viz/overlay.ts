/**
 * Grad-CAM overlays: the image the model saw with the class activation heatmap (jet, as in
 * keras.io's Grad-CAM example) blended over it, enlarged so that small inputs (28x28, 32x32)
 * stay visible.
 *
 * @module
 */
import { jet } from "./colormap.ts";
import { resizeBilinear } from "../data/resize.ts";

/** Options of {@link camOverlay}. */
export interface CamOverlayOptions {
  /** Opacity of the heatmap, 0..1 (default 0.4, as keras.io). */
  alpha?: number;
  /**
   * The image is enlarged by a whole factor (nearest neighbour, so the model's pixels stay
   * visible) until its longer side is at least this (default 224; 0 keeps the input size).
   */
  minSide?: number;
}

/** An RGB image. */
export interface RgbImage {
  /** `width * height * 3` bytes, row-major. */
  data: Uint8Array;
  /** Width in pixels. */
  width: number;
  /** Height in pixels. */
  height: number;
}

/**
 * Blends a Grad-CAM heatmap (`camH` x `camW`, values 0..1) over an image (`height` x `width` x
 * `channels` bytes, 1 = gray or 3 = RGB). The heatmap is upsampled bilinearly to the output.
 *
 * @example
 * ```ts
 * import { camOverlay } from "./overlay.ts";
 * const image = new Uint8Array(32 * 32 * 3).fill(128);
 * const heat = new Float32Array(8 * 8).map((_, i) => i / 63);
 * const out = camOverlay(image, 32, 32, 3, heat, 8, 8);
 * console.log(out.width, out.data.length); // 224 150528
 * ```
 */
export function camOverlay(
  image: Uint8Array,
  width: number,
  height: number,
  channels: 1 | 3,
  heatmap: Float32Array,
  camW: number,
  camH: number,
  options: CamOverlayOptions = {},
): RgbImage {
  if (image.length !== width * height * channels) {
    throw new Error(`camOverlay: ${image.length} bytes for ${width}x${height}x${channels}`);
  }
  if (heatmap.length !== camW * camH) {
    throw new Error(`camOverlay: ${heatmap.length} heatmap values for ${camW}x${camH}`);
  }
  const alpha = Math.min(1, Math.max(0, options.alpha ?? 0.4));
  const minSide = options.minSide ?? 224;
  const scale = Math.max(1, Math.ceil(minSide / Math.max(width, height)));
  const ow = width * scale, oh = height * scale;
  const heat8 = Uint8Array.from(heatmap, (v) => Math.round(Math.min(1, Math.max(0, v)) * 255));
  const heat = resizeBilinear(heat8, camH, camW, 1, oh, ow);
  const data = new Uint8Array(ow * oh * 3);
  for (let y = 0; y < oh; y++) {
    const sy = Math.floor(y / scale);
    for (let x = 0; x < ow; x++) {
      const s = (sy * width + Math.floor(x / scale)) * channels;
      const p = y * ow + x;
      const colour = jet(heat[p] / 255);
      for (let k = 0; k < 3; k++) {
        const v = image[s + (channels === 3 ? k : 0)];
        data[p * 3 + k] = Math.round(v * (1 - alpha) + colour[k] * alpha);
      }
    }
  }
  return { data, width: ow, height: oh };
}
