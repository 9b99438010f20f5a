/**
 * Generates image files for the data tests and the data benchmark (never downloaded): solid
 * colours in every format and mode the loader must handle, and the bad files it must survive.
 *
 * @module
 */
import sharp from "sharp";
import { dirname } from "node:path";

/** An RGB colour. */
export type Rgb = readonly [number, number, number];

/** Solid-colour raw RGB pixels. */
export function solid(width: number, height: number, [r, g, b]: Rgb): Uint8Array {
  const raw = new Uint8Array(width * height * 3);
  for (let i = 0; i < raw.length; i += 3) {
    raw[i] = r;
    raw[i + 1] = g;
    raw[i + 2] = b;
  }
  return raw;
}

/** Left half `left`, right half `right` (to check orientation). */
export function halves(width: number, height: number, left: Rgb, right: Rgb): Uint8Array {
  const raw = new Uint8Array(width * height * 3);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const c = x < width / 2 ? left : right;
      raw.set(c, (y * width + x) * 3);
    }
  }
  return raw;
}

function fromRaw(raw: Uint8Array, width: number, height: number, channels: 1 | 2 | 3 | 4 = 3) {
  return sharp(raw, { raw: { width, height, channels } });
}

/** The image files a test can ask for, by kind. */
export const imageMakers = {
  /** Solid colour PNG (8-bit RGB). */
  png: (c: Rgb, w = 12, h = 10) => fromRaw(solid(w, h, c), w, h).png().toBuffer(),
  /** Baseline JPEG. */
  jpeg: (c: Rgb, w = 12, h = 10) => fromRaw(solid(w, h, c), w, h).jpeg({ quality: 95 }).toBuffer(),
  /** Lossless WebP. */
  webp: (c: Rgb, w = 12, h = 10) =>
    fromRaw(solid(w, h, c), w, h).webp({ lossless: true }).toBuffer(),
  /** Single-band (true grayscale) PNG of gray level `v`. */
  grayPng: (v: number, w = 12, h = 10) =>
    fromRaw(new Uint8Array(w * h).fill(v), w, h, 1).png().toBuffer(),
  /** RGBA PNG with the given alpha everywhere. */
  rgbaPng: (c: Rgb, alpha: number, w = 12, h = 10) => {
    const raw = new Uint8Array(w * h * 4);
    for (let i = 0; i < raw.length; i += 4) raw.set([...c, alpha], i);
    return fromRaw(raw, w, h, 4).png().toBuffer();
  },
  /** 16-bit-per-channel RGB PNG. */
  png16: (c: Rgb, w = 12, h = 10) =>
    fromRaw(solid(w, h, c), w, h).toColourspace("rgb16").png().toBuffer(),
  /** CMYK JPEG. */
  cmykJpeg: (c: Rgb, w = 12, h = 10) =>
    fromRaw(solid(w, h, c), w, h).toColourspace("cmyk").jpeg({ quality: 95 }).toBuffer(),
  /**
   * JPEG stored left `left` / right `right`, with EXIF orientation 6 (shown rotated 90 degrees
   * clockwise: `left` on top, `right` at the bottom).
   */
  exifRotatedJpeg: (left: Rgb, right: Rgb, w = 20, h = 10) =>
    fromRaw(halves(w, h, left, right), w, h).jpeg({ quality: 95 }).withMetadata({ orientation: 6 })
      .toBuffer(),
  /** Two-frame animated GIF: `first` then `second`. */
  animatedGif: (first: Rgb, second: Rgb, w = 12, h = 10) => {
    const frames = new Uint8Array(w * h * 3 * 2);
    frames.set(solid(w, h, first), 0);
    frames.set(solid(w, h, second), w * h * 3);
    return sharp(frames, { raw: { width: w, height: h * 2, channels: 3, pageHeight: h } })
      .gif({ loop: 0 }).toBuffer({ resolveWithObject: false });
  },
  /** A JPEG cut in half. */
  truncatedJpeg: async (w = 64, h = 48) => {
    const raw = new Uint8Array(w * h * 3).map((_, i) => (i * 31) & 255);
    const full = await fromRaw(raw, w, h).jpeg().toBuffer();
    return full.subarray(0, Math.floor(full.length / 2));
  },
};

/** Writes `bytes` to `path`, creating folders. */
export async function writeFileMkdir(path: string, bytes: Uint8Array | string): Promise<void> {
  await Deno.mkdir(dirname(path), { recursive: true });
  if (typeof bytes === "string") await Deno.writeTextFile(path, bytes);
  else await Deno.writeFile(path, bytes);
}

/**
 * Writes `count` JPEGs of mixed sizes (photo-like gradients with noise, 160..1200 px wide) to
 * `dir/train/<class>/`, spread over `classes` classes, and returns the total bytes written.
 */
export async function writeMixedJpegFolder(
  dir: string,
  count: number,
  classes = 4,
): Promise<number> {
  let total = 0;
  for (let i = 0; i < count; i++) {
    const w = 160 + ((i * 397) % 1040);
    const h = 120 + ((i * 263) % 780);
    const raw = new Uint8Array(w * h * 3);
    let noise = i * 2654435761;
    for (let y = 0, p = 0; y < h; y++) {
      for (let x = 0; x < w; x++, p += 3) {
        noise = (noise * 1103515245 + 12345) >>> 0;
        const n = (noise >>> 24) & 31;
        raw[p] = ((x * 255) / w + n) & 255;
        raw[p + 1] = ((y * 255) / h + n) & 255;
        raw[p + 2] = ((i * 37 + (x ^ y)) + n) & 255;
      }
    }
    const jpeg = await fromRaw(raw, w, h).jpeg({ quality: 85 }).toBuffer();
    await writeFileMkdir(`${dir}/train/class_${i % classes}/img_${i}.jpg`, jpeg);
    total += jpeg.length;
  }
  return total;
}

/** Options of `writeSampleImageFolder`. */
export interface SampleFolderOptions {
  /** Number of classes (default 3). */
  classes?: number;
  /** Images per class in train/ (default 20); val/ and test/ get a quarter each. */
  perClass?: number;
  /** Largest side in pixels (default 320); sizes vary between half of it and all of it. */
  maxSide?: number;
}

/**
 * Writes a small learnable image-folder dataset (`train/`, `val/`, `test/`, one JPEG per image,
 * class `k` tinted with its own colour plus noise and stripes), for trying
 * `deno task train --experiment <name> --data DIR` without real photos.
 * Returns the number of images written.
 */
export async function writeSampleImageFolder(
  dir: string,
  options: SampleFolderOptions = {},
): Promise<number> {
  const { classes = 3, perClass = 20, maxSide = 320 } = options;
  const tints: Rgb[] = [[220, 60, 40], [40, 180, 70], [50, 80, 220], [230, 200, 40], [
    160,
    60,
    200,
  ]];
  let written = 0;
  const splits: [string, number][] = [
    ["train", perClass],
    ["val", Math.max(1, perClass >> 2)],
    ["test", Math.max(1, perClass >> 2)],
  ];
  for (const [split, count] of splits) {
    for (let c = 0; c < classes; c++) {
      const tint = tints[c % tints.length];
      for (let i = 0; i < count; i++) {
        const seed = (c * 1000 + i) * 2654435761 + split.length;
        const w = Math.round(maxSide / 2 + ((seed >>> 3) % (maxSide / 2)));
        const h = Math.round(maxSide / 2 + ((seed >>> 7) % (maxSide / 2)));
        const raw = new Uint8Array(w * h * 3);
        let noise = seed >>> 0;
        for (let y = 0, p = 0; y < h; y++) {
          for (let x = 0; x < w; x++, p += 3) {
            noise = (noise * 1103515245 + 12345) >>> 0;
            const n = ((noise >>> 24) & 63) - 32;
            const stripe = ((x + y * (c + 1)) >> 4) & 1 ? 30 : -30;
            for (let k = 0; k < 3; k++) {
              raw[p + k] = Math.max(0, Math.min(255, tint[k] + n + stripe));
            }
          }
        }
        const jpeg = await fromRaw(raw, w, h).jpeg({ quality: 85 }).toBuffer();
        await writeFileMkdir(`${dir}/${split}/class_${c}/${split}_${i}.jpg`, jpeg);
        written++;
      }
    }
  }
  return written;
}

if (import.meta.main) {
  const [dir, classes = "3", perClass = "20"] = Deno.args;
  if (!dir) {
    console.error("usage: deno run -A tests/data_fixtures.ts OUT_DIR [CLASSES=3] [PER_CLASS=20]");
    Deno.exit(2);
  }
  const n = await writeSampleImageFolder(dir, { classes: +classes, perClass: +perClass });
  console.log(`wrote ${n} JPEGs to ${dir}/{train,val,test}/class_*/`);
}
