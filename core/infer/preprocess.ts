/**
 * The one preprocessing from decoded pixels to a model's input, shared by `deno task predict`,
 * the page of an exported model and Node users of an export. Pure TypeScript with no
 * dependencies and no Deno APIs: `deno task export` bundles it into the export as
 * `preprocess.js`.
 *
 * Steps, in order, for an image of any size with 1 (gray), 3 (RGB) or 4 (RGBA) channels:
 * 1. alpha composited over white (as the dataset's decoder does);
 * 2. colour to gray when the model was trained on gray images (`0.299 R + 0.587 G + 0.114 B`);
 * 3. fit: `squash` takes the whole image, `cover` its centre square;
 * 4. resize to `decodeSize` x `decodeSize`: area average when shrinking, bilinear (half-pixel
 *    centres) when enlarging, rounded to bytes; skipped when the image already has that size;
 * 5. bilinear resize to the model's `height` x `width` when that differs from `decodeSize`
 *    (the IDX datasets' step, e.g. 28 -> 32);
 * 6. gray copied to RGB when the model takes RGB but was trained on gray sources;
 * 7. `x / 255`, NHWC, float32.
 *
 * `deno task predict` decodes with sharp (libvips, lanczos3) straight to `decodeSize` as the
 * training data was decoded, then runs steps 5-7 here; so for an image that already has the
 * decode size the page, Node and predict give the model identical input.
 *
 * @example
 * ```ts
 * import { preprocessImage } from "./preprocess.ts";
 * const spec = { height: 32, width: 32, channels: 3, decodeChannels: 3, decodeSize: 32, fit: "squash" } as const;
 * const rgba = new Uint8ClampedArray(64 * 48 * 4).fill(255);
 * const x = preprocessImage({ data: rgba, width: 64, height: 48, channels: 4 }, spec);
 * console.log(x.length); // 3072 (32 * 32 * 3), values in [0, 1]
 * ```
 *
 * @module
 */
import { resizeBilinear } from "../data/resize.ts";
import { normalizePixels } from "../data/normalize.ts";

/** How decoded pixels become the model's input (metadata.json's `preprocessing` holds it). */
export interface PreprocessSpec {
  /** Model input height. */
  height: number;
  /** Model input width. */
  width: number;
  /** Channels the model takes: 1 (gray) or 3 (RGB). */
  channels: 1 | 3;
  /** Channels of the training images before any copy to RGB: 1 for gray sources (IDX). */
  decodeChannels: 1 | 3;
  /** Square size images are first resized to (the IDX source size, else the model's). */
  decodeSize: number;
  /** `squash` (whole image, aspect ratio changed) or `cover` (centre square). */
  fit: "squash" | "cover";
}

/** Decoded pixels: row-major, `channels` bytes per pixel (canvas `ImageData` is 4). */
export interface DecodedImage {
  /** The bytes, `width * height * channels` of them. */
  data: ArrayLike<number>;
  /** Width in pixels. */
  width: number;
  /** Height in pixels. */
  height: number;
  /** 1 gray, 3 RGB or 4 RGBA. */
  channels: 1 | 2 | 3 | 4;
}

/** Resize methods, as metadata.json states them. */
export const RESIZE_METHOD = "area average when shrinking, bilinear (half-pixel centres) when " +
  "enlarging, rounded to bytes";

function checkImage(img: DecodedImage): void {
  const { width, height, channels, data } = img;
  if (!Number.isInteger(width) || !Number.isInteger(height) || width < 1 || height < 1) {
    throw new RangeError(`image size must be positive integers, got ${width}x${height}`);
  }
  if (![1, 2, 3, 4].includes(channels)) {
    throw new RangeError(`channels must be 1, 2, 3 or 4, got ${channels}`);
  }
  if (data.length < width * height * channels) {
    throw new RangeError(
      `${width}x${height}x${channels} needs ${width * height * channels} bytes, got ${data.length}`,
    );
  }
}

/** Steps 1-2: float pixels with `outChannels` (1 or 3) channels, alpha over white. */
function flatten(img: DecodedImage, outChannels: 1 | 3): Float32Array {
  const { data, width, height, channels } = img;
  const n = width * height;
  const out = new Float32Array(n * outChannels);
  const hasAlpha = channels === 2 || channels === 4;
  const colour = channels >= 3;
  for (let p = 0; p < n; p++) {
    const s = p * channels;
    let r = data[s], g = r, b = r;
    if (colour) {
      g = data[s + 1];
      b = data[s + 2];
    }
    if (hasAlpha) {
      const a = data[s + channels - 1] / 255;
      r = r * a + 255 * (1 - a);
      g = g * a + 255 * (1 - a);
      b = b * a + 255 * (1 - a);
    }
    if (outChannels === 1) out[p] = colour ? 0.299 * r + 0.587 * g + 0.114 * b : r;
    else {
      out[p * 3] = r;
      out[p * 3 + 1] = g;
      out[p * 3 + 2] = b;
    }
  }
  return out;
}

/** Source positions and weights of each output position along one axis. */
function axisWeights(
  start: number,
  length: number,
  outLength: number,
): { from: number[]; weights: number[][] } {
  const scale = length / outLength;
  const from: number[] = [];
  const weights: number[][] = [];
  for (let o = 0; o < outLength; o++) {
    if (scale > 1) {
      // Area: the source interval [o * scale, (o + 1) * scale), partial pixels weighted.
      const a = o * scale, b = (o + 1) * scale;
      const first = Math.floor(a);
      const w: number[] = [];
      for (let i = first; i < Math.min(Math.ceil(b), length); i++) {
        w.push((Math.min(b, i + 1) - Math.max(a, i)) / scale);
      }
      from.push(start + first);
      weights.push(w);
    } else {
      const f = Math.min(Math.max((o + 0.5) * scale - 0.5, 0), length - 1);
      const i0 = Math.floor(f);
      const t = f - i0;
      from.push(start + i0);
      weights.push(i0 + 1 < length ? [1 - t, t] : [1]);
    }
  }
  return { from, weights };
}

/** Steps 3-4: the fitted square, resized to `size` x `size`, as bytes. */
function fitResize(
  px: Float32Array,
  width: number,
  height: number,
  c: number,
  fit: "squash" | "cover",
  size: number,
): Uint8Array {
  let x0 = 0, y0 = 0, w = width, h = height;
  if (fit === "cover") {
    const side = Math.min(width, height);
    x0 = Math.floor((width - side) / 2);
    y0 = Math.floor((height - side) / 2);
    w = h = side;
  }
  const out = new Uint8Array(size * size * c);
  if (w === size && h === size) {
    for (let y = 0; y < size; y++) {
      for (let i = 0; i < size * c; i++) {
        out[y * size * c + i] = Math.round(px[((y0 + y) * width + x0) * c + i]);
      }
    }
    return out;
  }
  const xs = axisWeights(x0, w, size);
  const ys = axisWeights(y0, h, size);
  // Horizontal pass over the rows the vertical pass needs, then the vertical pass.
  const rowsNeeded = new Set<number>();
  ys.from.forEach((f, o) => ys.weights[o].forEach((_, k) => rowsNeeded.add(f + k)));
  const rows = new Map<number, Float32Array>();
  for (const y of rowsNeeded) {
    const row = new Float32Array(size * c);
    for (let o = 0; o < size; o++) {
      const ws = xs.weights[o];
      for (let ch = 0; ch < c; ch++) {
        let v = 0;
        for (let k = 0; k < ws.length; k++) v += ws[k] * px[(y * width + xs.from[o] + k) * c + ch];
        row[o * c + ch] = v;
      }
    }
    rows.set(y, row);
  }
  for (let o = 0; o < size; o++) {
    const ws = ys.weights[o];
    for (let i = 0; i < size * c; i++) {
      let v = 0;
      for (let k = 0; k < ws.length; k++) v += ws[k] * rows.get(ys.from[o] + k)![i];
      out[o * size * c + i] = Math.min(255, Math.max(0, Math.round(v)));
    }
  }
  return out;
}

/**
 * Steps 1-6: the bytes the model sees before `x / 255` (`height * width * channels`).
 *
 * @example
 * ```ts
 * import { prepareImage } from "./preprocess.ts";
 * const spec = { height: 32, width: 32, channels: 1, decodeChannels: 1, decodeSize: 28, fit: "squash" } as const;
 * const bytes = prepareImage({ data: new Uint8Array(28 * 28), width: 28, height: 28, channels: 1 }, spec);
 * console.log(bytes.length); // 1024
 * ```
 */
export function prepareImage(img: DecodedImage, spec: PreprocessSpec): Uint8Array {
  checkImage(img);
  const { height, width, channels, decodeChannels: dc, decodeSize, fit } = spec;
  let px: Uint8Array;
  if (
    img.width === decodeSize && img.height === decodeSize && img.channels === dc &&
    img.data instanceof Uint8Array
  ) {
    px = img.data; // already decoded as training did (predict's sharp output)
  } else {
    px = fitResize(flatten(img, dc), img.width, img.height, dc, fit, decodeSize);
  }
  if (decodeSize !== height || decodeSize !== width) {
    px = resizeBilinear(px, decodeSize, decodeSize, dc, height, width);
  }
  if (dc === channels) return px === img.data ? px.slice() : px;
  const out = new Uint8Array(height * width * 3);
  for (let i = 0; i < height * width; i++) out[i * 3] = out[i * 3 + 1] = out[i * 3 + 2] = px[i];
  return out;
}

/**
 * Steps 1-7: the model's input for one image, `height * width * channels` floats in [0, 1]
 * (NHWC), written into `out` at `offset` when given (a batch).
 *
 * @example
 * ```ts
 * import { preprocessImage } from "./preprocess.ts";
 * const spec = { height: 2, width: 2, channels: 3, decodeChannels: 3, decodeSize: 2, fit: "cover" } as const;
 * const x = preprocessImage({ data: new Uint8Array(4 * 2 * 4).fill(255), width: 4, height: 2, channels: 4 }, spec);
 * console.log(x); // Float32Array(12) [1, 1, ...]
 * ```
 */
export function preprocessImage(
  img: DecodedImage,
  spec: PreprocessSpec,
  out?: Float32Array,
  offset = 0,
): Float32Array {
  return normalizePixels(prepareImage(img, spec), out, offset);
}
