/**
 * IDX files (the MNIST format), optionally gzipped, and folders of them laid out like MNIST and
 * Fashion-MNIST (`train-images-idx3-ubyte[.gz]`, `train-labels-idx1-ubyte[.gz]`,
 * `t10k-images-idx3-ubyte[.gz]`, `t10k-labels-idx1-ubyte[.gz]`): train and test come from the
 * files, val is a seeded, stratified part of train.
 *
 * IDX layout: two zero bytes, a type code (0x08 uint8, 0x09 int8, 0x0B int16, 0x0C int32,
 * 0x0D float32, 0x0E float64), the number of dimensions, then each dimension as a big-endian
 * uint32, then the values, big-endian, row-major.
 *
 * @module
 */
import { gunzipSync } from "node:zlib";
import { basename, join, resolve as resolvePath } from "node:path";
import type { Dataset } from "./dataset.ts";
import { DataError } from "./data_error.ts";
import type { AugmentOptions } from "./augment.ts";
import { denormalizePixels, NORMALIZATION } from "./normalize.ts";
import { MemoryPixelStore } from "./pixel_store.ts";
import { PixelSplit } from "./pixel_split.ts";
import { resizeBilinear } from "./resize.ts";
import { stratifiedHoldout } from "./holdout.ts";

/** The element types of IDX files. */
export type IdxType = "uint8" | "int8" | "int16" | "int32" | "float32" | "float64";

const TYPES: Record<number, { type: IdxType; bytes: number }> = {
  0x08: { type: "uint8", bytes: 1 },
  0x09: { type: "int8", bytes: 1 },
  0x0b: { type: "int16", bytes: 2 },
  0x0c: { type: "int32", bytes: 4 },
  0x0d: { type: "float32", bytes: 4 },
  0x0e: { type: "float64", bytes: 8 },
};

/** A parsed IDX file. */
export interface IdxArray {
  /** Element type. */
  type: IdxType;
  /** Dimensions, outermost first (e.g. `[60000, 28, 28]`). */
  shape: number[];
  /** The values, row-major. */
  data: Uint8Array | Int8Array | Int16Array | Int32Array | Float32Array | Float64Array;
}

/**
 * Parses the bytes of an (uncompressed) IDX file; `name` is used in error messages. Throws
 * `DataError` for a wrong magic number, a truncated file or trailing bytes.
 *
 * @example
 * ```ts
 * import { parseIdx } from "./idx.ts";
 * const bytes = new Uint8Array([0, 0, 8, 1, 0, 0, 0, 2, 7, 9]);
 * parseIdx(bytes); // { type: "uint8", shape: [2], data: Uint8Array [7, 9] }
 * ```
 */
export function parseIdx(bytes: Uint8Array, name = "IDX data"): IdxArray {
  const fix = "re-download it, or point --data at a folder of valid IDX files";
  if (bytes.length < 4) {
    throw new DataError(`${name}: truncated IDX file (${bytes.length} bytes, no header): ${fix}`);
  }
  const code = bytes[2];
  const ndims = bytes[3];
  if (bytes[0] !== 0 || bytes[1] !== 0 || !TYPES[code] || ndims === 0) {
    const hex = [...bytes.subarray(0, 4)].map((b) => b.toString(16).padStart(2, "0")).join(" ");
    throw new DataError(
      `${name}: not an IDX file (magic bytes ${hex}; expected 00 00 <type 08..0e> <dimensions>): ${fix}`,
    );
  }
  const headerBytes = 4 + 4 * ndims;
  if (bytes.length < headerBytes) {
    throw new DataError(
      `${name}: truncated IDX header (${bytes.length} of ${headerBytes} bytes): ${fix}`,
    );
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const shape = Array.from({ length: ndims }, (_, i) => view.getUint32(4 + 4 * i, false));
  const { type, bytes: size } = TYPES[code];
  const count = shape.reduce((a, b) => a * b, 1);
  const expected = count * size;
  const actual = bytes.length - headerBytes;
  if (actual < expected) {
    throw new DataError(
      `${name}: truncated IDX file: the header promises ${shape.join("x")} ${type} values ` +
        `(${expected} bytes) but only ${actual} bytes follow: ${fix}`,
    );
  }
  if (actual > expected) {
    throw new DataError(
      `${name}: ${actual - expected} unexpected bytes after the ${
        shape.join("x")
      } ${type} values ` +
        `the header describes (a corrupt or concatenated file?): ${fix}`,
    );
  }
  const body = bytes.subarray(headerBytes);
  let data: IdxArray["data"];
  switch (type) {
    case "uint8":
      data = body.slice();
      break;
    case "int8":
      data = new Int8Array(body.slice().buffer);
      break;
    default: {
      const Ctor = {
        int16: Int16Array,
        int32: Int32Array,
        float32: Float32Array,
        float64: Float64Array,
      }[type];
      const out = new Ctor(count);
      for (let i = 0; i < count; i++) {
        const at = headerBytes + i * size;
        out[i] = type === "int16"
          ? view.getInt16(at, false)
          : type === "int32"
          ? view.getInt32(at, false)
          : type === "float32"
          ? view.getFloat32(at, false)
          : view.getFloat64(at, false);
      }
      data = out;
    }
  }
  return { type, shape, data };
}

/**
 * Reads an IDX file, gunzipping it when its content is gzip (whatever its name says).
 * Throws `DataError` naming the file for a missing, unreadable, corrupt or truncated file.
 */
export async function readIdxFile(path: string): Promise<IdxArray> {
  let bytes: Uint8Array;
  try {
    bytes = await Deno.readFile(path);
  } catch (e) {
    const why = e instanceof Deno.errors.NotFound
      ? "does not exist"
      : e instanceof Deno.errors.PermissionDenied
      ? "cannot be read (permission denied; fix its permissions)"
      : `cannot be read (${(e as Error).message})`;
    throw new DataError(`IDX file "${path}" ${why}`);
  }
  if (bytes.length >= 2 && bytes[0] === 0x1f && bytes[1] === 0x8b) {
    try {
      bytes = new Uint8Array(gunzipSync(bytes));
    } catch (e) {
      throw new DataError(
        `"${path}" is a damaged gzip file (${(e as Error).message}): re-download it`,
      );
    }
  }
  return parseIdx(bytes, `"${path}"`);
}

/** Finds `<stem>` or `<stem>.gz` (also with `.` instead of the last `-`, as some mirrors name them). */
async function findIdx(
  dir: string,
  prefix: string,
  kind: "images-idx3" | "labels-idx1",
): Promise<string | undefined> {
  const [what, idx] = kind.split("-");
  for (const stem of [`${prefix}-${what}-${idx}-ubyte`, `${prefix}-${what}.${idx}-ubyte`]) {
    for (const name of [stem, `${stem}.gz`]) {
      try {
        if ((await Deno.stat(join(dir, name))).isFile) return join(dir, name);
      } catch {
        // try the next name
      }
    }
  }
  return undefined;
}

/** Options of `loadIdxFolder`. */
export interface IdxFolderOptions {
  /** Square size given to the model (default: the files' own, 28 for MNIST); bilinear resize. */
  imageSize?: number;
  /** 1 (default, gray) or 3 (gray replicated to RGB, for models that want RGB). */
  channels?: 1 | 3;
  /** Fraction of each class of train held out as val (default 0.1). */
  valFraction?: number;
  /** Seed of the held-out split (default 1). */
  seed?: number;
  /** Class names (default `"0"`, `"1"` ...); every label must be below their count. */
  classNames?: readonly string[];
  /** Train-split augmentation (default none: flips change what a digit means). */
  augment?: AugmentOptions | false;
  /** Dataset name for run.json (default: the folder's name). */
  name?: string;
  /** Where warnings go (default: stderr). */
  log?: (message: string) => void;
}

interface LoadedPart {
  images: Uint8Array;
  labels: Int32Array;
  height: number;
  width: number;
}

async function loadPair(imagesPath: string, labelsPath: string): Promise<LoadedPart> {
  const [images, labels] = await Promise.all([readIdxFile(imagesPath), readIdxFile(labelsPath)]);
  if (images.type !== "uint8" || images.shape.length !== 3) {
    throw new DataError(
      `"${imagesPath}" holds ${images.type} values of shape ${images.shape.join("x")}; ` +
        `expected uint8 images (an idx3-ubyte file of count x height x width): is it the right file?`,
    );
  }
  if (labels.shape.length !== 1 || !["uint8", "int8", "int16", "int32"].includes(labels.type)) {
    throw new DataError(
      `"${labelsPath}" holds ${labels.type} values of shape ${labels.shape.join("x")}; ` +
        `expected integer labels (an idx1-ubyte file): is it the right file?`,
    );
  }
  if (images.shape[0] !== labels.shape[0]) {
    throw new DataError(
      `"${imagesPath}" has ${images.shape[0]} images but "${labelsPath}" has ${labels.shape[0]} ` +
        `labels: the two files must come from the same set; re-download them`,
    );
  }
  return {
    images: images.data as Uint8Array,
    labels: Int32Array.from(labels.data as ArrayLike<number>),
    height: images.shape[1],
    width: images.shape[2],
  };
}

/**
 * Loads an MNIST-style folder of IDX files as a `Dataset`: train from `train-*`, test from
 * `t10k-*` (optional), val a seeded part of train. Images are `[size, size, channels]` floats
 * in [0, 1] (`x / 255`).
 *
 * @example
 * ```ts
 * import { loadIdxFolder } from "./idx.ts";
 * const data = await loadIdxFolder("/usr/share/datasets/fashion-mnist", { channels: 1 });
 * console.log(data.train.size, data.val?.size, data.test?.size); // 54000 6000 10000
 * ```
 */
export async function loadIdxFolder(dir: string, options: IdxFolderOptions = {}): Promise<Dataset> {
  const { valFraction = 0.1, seed = 1, channels = 1, augment = false, log = console.warn } =
    options;
  const root = resolvePath(dir);
  try {
    if (!(await Deno.stat(root)).isDirectory) throw new Error("not a folder");
  } catch {
    throw new DataError(
      `IDX data folder "${dir}" does not exist or is not a folder: pass --data with a folder ` +
        `holding train-images-idx3-ubyte[.gz] and train-labels-idx1-ubyte[.gz]`,
    );
  }
  const trainImages = await findIdx(root, "train", "images-idx3");
  const trainLabels = await findIdx(root, "train", "labels-idx1");
  if (!trainImages || !trainLabels) {
    const found = [];
    for await (const e of Deno.readDir(root)) found.push(e.name);
    throw new DataError(
      `IDX data folder "${dir}" has no ${
        !trainImages ? "train-images-idx3-ubyte" : "train-labels-idx1-ubyte"
      }[.gz] ` +
        `(found: ${found.sort().join(", ") || "nothing"}); expected the MNIST file names ` +
        `train-images-idx3-ubyte, train-labels-idx1-ubyte, t10k-images-idx3-ubyte, ` +
        `t10k-labels-idx1-ubyte (each optionally .gz)`,
    );
  }
  const testImages = await findIdx(root, "t10k", "images-idx3");
  const testLabels = await findIdx(root, "t10k", "labels-idx1");
  const train = await loadPair(trainImages, trainLabels);
  let test: LoadedPart | undefined;
  if (testImages && testLabels) {
    test = await loadPair(testImages, testLabels);
    if (test.height !== train.height || test.width !== train.width) {
      throw new DataError(
        `"${testImages}" has ${test.height}x${test.width} images but "${trainImages}" has ` +
          `${train.height}x${train.width}: they must come from the same dataset`,
      );
    }
  } else {
    log(`warning: "${dir}" has no t10k-images/t10k-labels IDX files: there is no test split`);
  }

  let maxLabel = 0;
  for (const part of [train, test]) {
    if (!part) continue;
    for (let i = 0; i < part.labels.length; i++) {
      const l = part.labels[i];
      if (l < 0 || (options.classNames && l >= options.classNames.length)) {
        throw new DataError(
          `"${part === train ? trainLabels : testLabels}": label ${l} of example ${i} is outside ` +
            `0..${(options.classNames?.length ?? 1) - 1}` +
            (options.classNames ? ` (${options.classNames.length} class names given)` : "") +
            `: is it the right labels file?`,
        );
      }
      if (l > maxLabel) maxLabel = l;
    }
  }
  const classNames = options.classNames
    ? [...options.classNames]
    : Array.from({ length: maxLabel + 1 }, (_, i) => String(i));

  const size = options.imageSize ?? train.height;
  if (!Number.isInteger(size) || size < 1) {
    throw new RangeError(`imageSize must be a positive integer, got ${size}`);
  }
  if (options.imageSize === undefined && train.height !== train.width) {
    throw new DataError(
      `"${trainImages}" has non-square ${train.height}x${train.width} images: pass imageSize`,
    );
  }
  const resized = (part: LoadedPart) => {
    if (part.height === size && part.width === size) return part.images;
    const n = part.labels.length;
    const inBytes = part.height * part.width;
    const out = new Uint8Array(n * size * size);
    for (let i = 0; i < n; i++) {
      resizeBilinear(
        part.images.subarray(i * inBytes, (i + 1) * inBytes),
        part.height,
        part.width,
        1,
        size,
        size,
        out.subarray(i * size * size, (i + 1) * size * size),
      );
    }
    return out;
  };

  const storedShape = [size, size, 1] as const;
  const trainStore = new MemoryPixelStore(resized(train), size * size);
  const { kept, heldOut } = stratifiedHoldout(train.labels, valFraction, seed);
  const pick = (positions: number[]) => ({
    slots: Int32Array.from(positions),
    labels: Int32Array.from(positions, (i) => train.labels[i]),
  });
  const make = (
    store: MemoryPixelStore,
    part: { slots: Int32Array; labels: Int32Array },
    aug: AugmentOptions | false,
  ) => new PixelSplit({ store, ...part, storedShape, outChannels: channels, augment: aug });
  const testSplit = test &&
    make(
      new MemoryPixelStore(resized(test), size * size),
      { slots: Int32Array.from(test.labels, (_, i) => i), labels: test.labels },
      false,
    );
  return {
    name: options.name ?? basename(root),
    classNames,
    imageShape: [size, size, channels],
    train: make(trainStore, pick(kept), augment),
    val: heldOut.length > 0 ? make(trainStore, pick(heldOut), false) : undefined,
    test: testSplit,
    denormalize: denormalizePixels,
    info: {
      format: "idx",
      source: root,
      files: [trainImages, trainLabels, testImages, testLabels].filter(Boolean).map((f) =>
        basename(f!)
      ),
      originalShape: [train.height, train.width, 1],
      imageSize: size,
      channels,
      normalization: NORMALIZATION,
      splits: { train: kept.length, val: heldOut.length, test: test?.labels.length },
      valSource: `${valFraction * 100}% of train per class (seed ${seed})`,
      augment,
    },
  };
}
