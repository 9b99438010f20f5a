/**
 * Decodes one image file's bytes to RGB bytes of a fixed size with sharp (libvips): JPEG, PNG,
 * WebP, GIF (first frame), TIFF and AVIF; grayscale, alpha, 16-bit, CMYK and EXIF-rotated
 * images all come out as 8-bit sRGB, upright, `size` x `size` x 3 (or, with `channels: 1`,
 * 8-bit gray by libvips's luminance conversion, for models trained on gray images).
 *
 * Fit: `squash` (default) resizes the whole photo to the square, changing its aspect ratio, as
 * Keras's `image_dataset_from_directory` does by default (`crop_to_aspect_ratio=False`), so the
 * model sees the same framing as the book's and nothing near an edge is cut off. `cover` keeps
 * the aspect ratio and crops the centre square (no distortion, but loses the sides).
 * Transparent pixels are composited over white.
 *
 * @module
 */
import sharp from "sharp";

/** How a non-square image becomes square. */
export type Fit = "squash" | "cover";

/** Output size and fit. */
export interface DecodeOptions {
  /** Output width and height in pixels. */
  size: number;
  /** `squash` (default) or `cover`; see the module doc. */
  fit?: Fit;
  /** 3 (default): sRGB bytes; 1: gray bytes (colour images converted to luminance). */
  channels?: 1 | 3;
  /**
   * Refuse images with more pixels (width x height) than this, before decoding them (default:
   * sharp's own limit, {@link DEFAULT_MAX_PIXELS}).
   */
  maxPixels?: number;
}

/**
 * sharp's default `limitInputPixels` (0x3FFF x 0x3FFF): larger images are refused.
 *
 * @example
 * ```ts
 * import { DEFAULT_MAX_PIXELS } from "./decode.ts";
 * console.log(DEFAULT_MAX_PIXELS); // 268402689
 * ```
 */
export const DEFAULT_MAX_PIXELS = 0x3fff * 0x3fff;

/** The kinds of undecodable files, each with its own fix. */
export type BadImageKind = "empty" | "not-image" | "unsupported" | "corrupt";

/** Raised by `decodeImage` for a file that is not a usable image. */
export class ImageDecodeError extends Error {
  /** Creates the error. @param kind what is wrong. @param message the details. */
  constructor(readonly kind: BadImageKind, message: string) {
    super(message);
    this.name = "ImageDecodeError";
  }
}

/** Formats accepted, as sharp names them. Vector and document formats are refused. */
const RASTER_FORMATS = new Set(["jpeg", "png", "webp", "gif", "tiff", "heif", "avif", "jp2"]);

let cacheDisabled = false;

/** Identifies the decoding pipeline in cache keys: bump when its output changes. */
export const DECODE_PIPELINE_VERSION = 1;

/**
 * Decodes `input` (the bytes of an image file) to `size * size * 3` RGB bytes (`size * size`
 * gray bytes with `channels: 1`). Throws `ImageDecodeError` for an empty, non-image,
 * unsupported, too large (`maxPixels`) or corrupt/truncated file.
 *
 * @example
 * ```ts
 * import { decodeImage } from "./decode.ts";
 * const bytes = await Deno.readFile("photo.jpg");
 * const rgb = await decodeImage(bytes, { size: 224 }); // 224 * 224 * 3 bytes
 * ```
 */
export async function decodeImage(input: Uint8Array, options: DecodeOptions): Promise<Uint8Array> {
  const { size, fit = "squash", channels = 3, maxPixels = DEFAULT_MAX_PIXELS } = options;
  if (!Number.isInteger(size) || size < 1) {
    throw new RangeError(`image size must be a positive integer, got ${size}`);
  }
  if (channels !== 1 && channels !== 3) {
    throw new RangeError(`channels must be 1 or 3, got ${channels}`);
  }
  if (input.length === 0) throw new ImageDecodeError("empty", "empty file (0 bytes)");
  if (!cacheDisabled) {
    // libvips keeps recent results for reuse; every file is decoded once here, so that would
    // only hold memory.
    sharp.cache(false);
    cacheDisabled = true;
  }
  let format: string | undefined;
  try {
    // failOn "error": warnings (common in camera JPEGs) pass, truncation and corruption fail.
    const image = sharp(input, { failOn: "error", pages: 1, limitInputPixels: maxPixels });
    format = (await image.metadata()).format;
    if (!format || !RASTER_FORMATS.has(format)) {
      throw new ImageDecodeError(
        "unsupported",
        `unsupported image format "${format ?? "unknown"}"`,
      );
    }
    const { data, info } = await image
      .autoOrient()
      .resize(size, size, { fit: fit === "cover" ? "cover" : "fill", position: "centre" })
      .flatten({ background: "#ffffff" })
      .toColourspace(channels === 1 ? "b-w" : "srgb")
      .raw({ depth: "uchar" })
      .toBuffer({ resolveWithObject: true });
    const bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
    return channels === 1 ? toGray(bytes, info.channels) : toRgb(bytes, info.channels);
  } catch (e) {
    if (e instanceof ImageDecodeError) throw e;
    const message = e instanceof Error ? e.message : String(e);
    if (format === undefined && /unsupported image format/i.test(message)) {
      throw new ImageDecodeError("not-image", "not an image (unrecognised content)");
    }
    if (/pixel limit/i.test(message)) {
      throw new ImageDecodeError(
        "unsupported",
        `image too large to decode: more than ${maxPixels} pixels (${message.trim()})`,
      );
    }
    throw new ImageDecodeError(
      "corrupt",
      `corrupt or truncated ${format ?? "image"} (${message.trim()})`,
    );
  }
}

/** Converts 1, 2 (gray + alpha), 3 or 4-channel bytes to RGB (a copy when not already RGB). */
function toRgb(data: Uint8Array, channels: number): Uint8Array {
  if (channels === 3) return data.slice();
  const pixels = data.length / channels;
  const out = new Uint8Array(pixels * 3);
  for (let p = 0; p < pixels; p++) {
    const s = p * channels;
    if (channels <= 2) {
      out[p * 3] = out[p * 3 + 1] = out[p * 3 + 2] = data[s];
    } else {
      out[p * 3] = data[s];
      out[p * 3 + 1] = data[s + 1];
      out[p * 3 + 2] = data[s + 2];
    }
  }
  return out;
}

/** Keeps the first channel of 1 or 2 (gray + alpha) channel bytes (a copy). */
function toGray(data: Uint8Array, channels: number): Uint8Array {
  if (channels === 1) return data.slice();
  if (channels !== 2) {
    throw new Error(`expected gray output from libvips, got ${channels} channels`);
  }
  const out = new Uint8Array(data.length / 2);
  for (let p = 0; p < out.length; p++) out[p] = data[p * 2];
  return out;
}

/** What to tell the user to do about each kind of bad file. */
export function fixFor(kind: BadImageKind | "unreadable"): string {
  switch (kind) {
    case "empty":
      return "delete it or replace it with the real image";
    case "not-image":
      return "remove it from the class folder (only images belong there)";
    case "unsupported":
      return "convert it to JPEG or PNG, or remove it";
    case "corrupt":
      return "re-download or re-export it, or delete it";
    case "unreadable":
      return "fix its permissions (e.g. chmod a+r) or remove it";
  }
}
