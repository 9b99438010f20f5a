/**
 * Seeded data augmentation on normalised HWC float images (plain typed-array loops, no tfjs):
 * horizontal flip, translation, rotation and zoom (one affine transform, bilinear sampling,
 * `reflect` fill like Keras's preprocessing layers), then brightness and contrast.
 *
 * The transform of example `index` is a pure function of `(seed, index)`: the trainer passes a
 * seed per epoch, and a resumed run sees exactly the same augmented images.
 *
 * @module
 */
import { mixSeeds, mulberry32 } from "../random.ts";

/** What to randomise, and how much. Every field is optional; absent or 0 means off. */
export interface AugmentOptions {
  /** Flip left-right with probability 0.5 (Keras `RandomFlip("horizontal")`). */
  flip?: boolean;
  /** Largest shift, as a fraction of the width and of the height (Keras `RandomTranslation`). */
  translate?: number;
  /** Largest rotation either way, in degrees. (Keras `RandomRotation(0.1)` is 36 degrees.) */
  rotate?: number;
  /** Largest zoom: the scale is drawn from `[1 - zoom, 1 + zoom]` (Keras `RandomZoom`). */
  zoom?: number;
  /** Largest brightness change, added to every value (images are in [0, 1]). */
  brightness?: number;
  /** Largest contrast change: each channel is scaled around its mean by `[1 - c, 1 + c]`. */
  contrast?: number;
  /** How pixels outside the source are filled: `reflect` (default, as Keras) or `nearest`. */
  fill?: "reflect" | "nearest";
}

/**
 * The default for photo datasets: small, label-preserving changes (flip, 10% shift, 10 degrees,
 * 10% zoom, 10% brightness and contrast). The book uses flip, 36 degrees and 20% zoom; pass
 * `{ flip: true, rotate: 36, zoom: 0.2 }` to match it exactly.
 */
export const DEFAULT_AUGMENT: Readonly<AugmentOptions> = Object.freeze({
  flip: true,
  translate: 0.1,
  rotate: 10,
  zoom: 0.1,
  brightness: 0.1,
  contrast: 0.1,
});

/** The drawn parameters of one example's augmentation. */
export interface AugmentParams {
  /** Mirror left-right. */
  flip: boolean;
  /** Rotation in radians (counter-clockwise on screen). */
  angle: number;
  /** Zoom factor (> 1 zooms in). */
  scale: number;
  /** Shift in pixels, right and down. */
  tx: number;
  /** Shift in pixels, right and down. */
  ty: number;
  /** Added to every value. */
  brightness: number;
  /** Contrast factor around each channel's mean. */
  contrast: number;
}

/** True when `options` changes nothing. */
export function isIdentityAugment(options: AugmentOptions | undefined | false): boolean {
  if (!options) return true;
  return !options.flip && !options.translate && !options.rotate && !options.zoom &&
    !options.brightness && !options.contrast;
}

/**
 * Draws the augmentation parameters of example `index` for an image of `width` x `height`:
 * the same `(options, seed, index)` always gives the same parameters.
 */
export function sampleAugmentParams(
  options: AugmentOptions,
  seed: number,
  index: number,
  width: number,
  height: number,
): AugmentParams {
  const rand = mulberry32(mixSeeds(seed, index));
  const sym = (max = 0) => (rand() * 2 - 1) * max; // one draw per field, always, in this order
  const flip = rand() < 0.5;
  const tx = sym(options.translate) * width;
  const ty = sym(options.translate) * height;
  const angle = sym(options.rotate) * Math.PI / 180;
  const scale = 1 + sym(options.zoom);
  const brightness = sym(options.brightness);
  const contrast = 1 + sym(options.contrast);
  return { flip: !!options.flip && flip, angle, scale, tx, ty, brightness, contrast };
}

function reflectIndex(i: number, n: number): number {
  if (n === 1) return 0;
  const period = 2 * n;
  i = ((i % period) + period) % period;
  return i < n ? i : period - 1 - i;
}

function clampIndex(i: number, n: number): number {
  return i < 0 ? 0 : i >= n ? n - 1 : i;
}

/**
 * Applies `params` to one HWC float image (`shape` = `[height, width, channels]`), writing into
 * `out` (a new array when absent; must not be `src`). Values are clipped to `[0, 1]`, the range
 * of normalised pixels.
 *
 * @example
 * ```ts
 * import { applyAugment, sampleAugmentParams } from "./augment.ts";
 * const img = new Float32Array(8 * 8 * 3).fill(0.5);
 * const p = sampleAugmentParams({ flip: true, rotate: 10 }, 42, 0, 8, 8);
 * const out = applyAugment(img, [8, 8, 3], p);
 * ```
 */
export function applyAugment(
  src: Float32Array,
  shape: readonly [number, number, number],
  params: AugmentParams,
  out?: Float32Array,
  fill: "reflect" | "nearest" = "reflect",
): Float32Array {
  const [h, w, c] = shape;
  const dest = out ?? new Float32Array(src.length);
  if (dest === src) throw new Error("applyAugment: out must not be the source array");
  const geometric = params.angle !== 0 || params.scale !== 1 || params.tx !== 0 || params.ty !== 0;
  if (!geometric) {
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < w; x++) {
        const sx = params.flip ? w - 1 - x : x;
        const d = (y * w + x) * c;
        const s = (y * w + sx) * c;
        for (let k = 0; k < c; k++) dest[d + k] = src[s + k];
      }
    }
  } else {
    // Output pixel -> source pixel: undo the shift, then the rotation and zoom about the
    // centre, then the flip.
    const cx = (w - 1) / 2;
    const cy = (h - 1) / 2;
    const cos = Math.cos(params.angle) / params.scale;
    const sin = Math.sin(params.angle) / params.scale;
    const wrap = fill === "reflect" ? reflectIndex : clampIndex;
    for (let y = 0; y < h; y++) {
      const v = y - cy - params.ty;
      for (let x = 0; x < w; x++) {
        const u = x - cx - params.tx;
        let sx = cx + cos * u - sin * v;
        const sy = cy + sin * u + cos * v;
        if (params.flip) sx = w - 1 - sx;
        const x0f = Math.floor(sx);
        const y0f = Math.floor(sy);
        const fx = sx - x0f;
        const fy = sy - y0f;
        let x0 = x0f, x1 = x0f + 1, y0 = y0f, y1 = y0f + 1;
        if (x0 < 0 || x1 >= w || y0 < 0 || y1 >= h) {
          x0 = wrap(x0, w);
          x1 = wrap(x1, w);
          y0 = wrap(y0, h);
          y1 = wrap(y1, h);
        }
        const i00 = (y0 * w + x0) * c;
        const i01 = (y0 * w + x1) * c;
        const i10 = (y1 * w + x0) * c;
        const i11 = (y1 * w + x1) * c;
        const w00 = (1 - fx) * (1 - fy);
        const w01 = fx * (1 - fy);
        const w10 = (1 - fx) * fy;
        const w11 = fx * fy;
        const d = (y * w + x) * c;
        if (c === 3) {
          dest[d] = src[i00] * w00 + src[i01] * w01 + src[i10] * w10 + src[i11] * w11;
          dest[d + 1] = src[i00 + 1] * w00 + src[i01 + 1] * w01 + src[i10 + 1] * w10 +
            src[i11 + 1] * w11;
          dest[d + 2] = src[i00 + 2] * w00 + src[i01 + 2] * w01 + src[i10 + 2] * w10 +
            src[i11 + 2] * w11;
        } else {
          for (let k = 0; k < c; k++) {
            dest[d + k] = src[i00 + k] * w00 + src[i01 + k] * w01 + src[i10 + k] * w10 +
              src[i11 + k] * w11;
          }
        }
      }
    }
  }
  // Flips and bilinear sampling stay within [0, 1]; brightness and contrast (per channel,
  // around its mean) are applied and clipped to [0, 1] in one pass.
  if (params.brightness !== 0 || params.contrast !== 1) {
    const n = h * w * c;
    const sums = new Float64Array(c);
    for (let i = 0; i < n; i += c) for (let k = 0; k < c; k++) sums[k] += dest[i + k];
    const offset = Array.from(
      sums,
      (sum) => (sum / (h * w)) * (1 - params.contrast) + params.brightness,
    );
    const scale = params.contrast;
    for (let i = 0; i < n; i += c) {
      for (let k = 0; k < c; k++) {
        const v = dest[i + k] * scale + offset[k];
        dest[i + k] = v < 0 ? 0 : v > 1 ? 1 : v;
      }
    }
  }
  return dest;
}

/**
 * Augments example `index` of a run with `seed`: `sampleAugmentParams` then `applyAugment`.
 * A pure function of its arguments.
 */
export function augmentImage(
  src: Float32Array,
  shape: readonly [number, number, number],
  options: AugmentOptions,
  seed: number,
  index: number,
  out?: Float32Array,
): Float32Array {
  const params = sampleAugmentParams(options, seed, index, shape[1], shape[0]);
  return applyAugment(src, shape, params, out, options.fill ?? "reflect");
}
