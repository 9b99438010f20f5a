/**
 * Image-folder datasets: `DIR/{train,val,test}/<class>/<images>`, the layout of the book's
 * dataset and of Keras's `image_dataset_from_directory`.
 *
 * Loading scans the folders (`scan.ts`), decodes and resizes every image once, several at a
 * time, into an on-disk cache (`decode.ts`, `image_cache.ts`; the second epoch and the second
 * run decode nothing), then serves batches from memory, or straight from the cache file when
 * the dataset is larger than the memory budget. Because every file is decoded before training
 * starts, bad files are known up front: they are skipped, counted and listed once (and in
 * `info.skipped` for run.json), or, with `strict`, reported together as one error. Nothing can
 * fail mid-epoch because of a bad file.
 *
 * Pixels are normalised as `x / 255` (`normalize.ts`); the train split is augmented
 * (`augment.ts`) only when the trainer passes an `augmentSeed`.
 *
 * @module
 */
import { availableParallelism, totalmem } from "node:os";
import { basename, dirname } from "node:path";
import { readConfined } from "../fs/confine.ts";
import { errorCode } from "../fs/os_error.ts";
import type { Dataset } from "./dataset.ts";
import type { DataOptions } from "./dataset.ts";
import { DataError } from "./data_error.ts";
import {
  type BadImageKind,
  DECODE_PIPELINE_VERSION,
  decodeImage,
  type Fit,
  fixFor,
} from "./decode.ts";
import { type AugmentOptions, DEFAULT_AUGMENT } from "./augment.ts";
import { cacheKey, ensureCached, resolveCacheDir } from "./image_cache.ts";
import { denormalizePixels, NORMALIZATION } from "./normalize.ts";
import { FilePixelStore, MemoryPixelStore, type PixelStore } from "./pixel_store.ts";
import { PixelSplit } from "./pixel_split.ts";
import { ProgressLine } from "../format/progress.ts";
import { stratifiedHoldout } from "./holdout.ts";
import { type BadFile, type ImageFile, scanImageFolder, type SplitName } from "./scan.ts";

/** Options of `loadImageFolder`. */
export interface ImageFolderOptions {
  /** Square size the images are resized to (default 224, the book's). */
  imageSize?: number;
  /** `squash` (default, as Keras) or `cover` (centre crop); see `decode.ts`. */
  fit?: Fit;
  /** Fraction of each class of train held out as val when there is no val/ folder (0.2). */
  valFraction?: number;
  /** Seed of that held-out split (default 1). */
  seed?: number;
  /** Any bad file, empty class folder or empty split is an error (default false: skip, warn). */
  strict?: boolean;
  /** Train-split augmentation (default `DEFAULT_AUGMENT`); `false` for none. */
  augment?: AugmentOptions | false;
  /**
   * Cache folder root (default: `<data>/.convdeck-cache` if writable, else
   * `~/.cache/convdeck/<name>-<hash>`); `false` for a temporary cache deleted by `close()`.
   */
  cacheDir?: string | false;
  /** Datasets up to this many decoded bytes are held in memory; larger ones stream from the cache file (default: a quarter of RAM, at most 2 GiB). */
  memoryBudgetBytes?: number;
  /** Images decoded at once (default: twice the CPU count). */
  concurrency?: number;
  /** Show a progress line while decoding: `auto` (default) when 200 or more files are new. */
  progress?: boolean | "auto";
  /** Where warnings and the skipped-file list go (default: stderr). */
  log?: (message: string) => void;
  /** Reads a file (default `Deno.readFile`); replaceable for tests. */
  readFile?: (path: string) => Promise<Uint8Array>;
  /** Dataset name for run.json (default: the folder's name). */
  name?: string;
}

/** Facts about a loaded image folder, stored in run.json. */
export interface ImageFolderInfo {
  /** Always `image-folder`. */
  format: "image-folder";
  /** Absolute path of the data folder. */
  source: string;
  /** Side of the square images. */
  imageSize: number;
  /** How images were made square. */
  fit: Fit;
  /** How pixels are normalised. */
  normalization: string;
  /** Examples per split. */
  splits: Partial<Record<SplitName, number>>;
  /** Where val comes from (`val/` or a seeded fraction of train). */
  valSource: string;
  /** Augmentation of the train split. */
  augment: AugmentOptions | false;
  /** Skipped files: how many, and each with the reason. */
  skipped: { count: number; files: { file: string; reason: string }[] };
  /** Warnings shown while loading. */
  warnings: string[];
  /** The decoded-image cache. */
  cache: {
    dir: string;
    hits: number;
    decoded: number;
    inMemory: boolean;
    bytes: number;
    seconds: number;
  };
}

/** A loaded image-folder dataset. */
export interface ImageFolderDataset extends Dataset {
  /** Facts for run.json. */
  readonly info: ImageFolderInfo & Record<string, unknown>;
  /** Converts normalised RGB floats back to the exact RGB bytes. */
  denormalize(x: Float32Array): Uint8ClampedArray;
  /** Closes the cache file and removes a temporary cache. */
  close(): Promise<void>;
}

function defaultLog(message: string): void {
  console.warn(message);
}

function describeReadError(e: unknown): string {
  if (errorCode(e) === "EACCES") return "cannot read it (permission denied)";
  if (errorCode(e) === "ENOENT") return "it disappeared while loading";
  return `cannot read it (${e instanceof Error ? e.message : String(e)})`;
}

function formatBad(b: BadFile): string {
  return `${b.file}: ${b.reason}; ${b.fix}`;
}

/**
 * Loads `DIR/{train,val,test}/<class>/<images>` as a `Dataset` of `imageSize` x `imageSize` x 3
 * float images normalised to [0, 1]. Throws `DataError` for a missing folder, a train split
 * without images, or (with `strict`) any bad file.
 *
 * @example
 * ```ts
 * import { loadImageFolder } from "./image_folder.ts";
 * const data = await loadImageFolder("data/snacks", { imageSize: 224, seed: 1 });
 * console.log(data.classNames, data.train.size, data.info.skipped.count);
 * const { x, y } = await data.train.batch([0, 1, 2], { augmentSeed: 7 });
 * await data.close();
 * ```
 */
export async function loadImageFolder(
  dir: string,
  options: ImageFolderOptions = {},
): Promise<ImageFolderDataset> {
  const {
    imageSize = 224,
    fit = "squash",
    valFraction = 0.2,
    seed = 1,
    strict = false,
    augment = DEFAULT_AUGMENT,
    log = defaultLog,
    readFile = Deno.readFile,
    progress = "auto",
  } = options;
  if (!Number.isInteger(imageSize) || imageSize < 1) {
    throw new RangeError(`imageSize must be a positive integer, got ${imageSize}`);
  }
  if (fit !== "squash" && fit !== "cover") {
    throw new RangeError(`fit must be "squash" or "cover", got "${fit}"`);
  }
  const cores = availableParallelism();
  const concurrency = options.concurrency ?? 2 * cores;
  const memoryBudget = options.memoryBudgetBytes ?? Math.min(2 ** 31, totalmem() / 4);
  const started = performance.now();

  const scan = await scanImageFolder(dir);
  const warnings = [...scan.warnings];

  // Decode everything not yet cached (several files at once; sharp runs them on its threads).
  const temporaryCache = options.cacheDir === false;
  const cacheDir = temporaryCache
    ? await Deno.makeTempDir({ prefix: "convdeck-cache-" })
    : await resolveCacheDir(scan.root, options.cacheDir || undefined);
  const imageBytes = imageSize * imageSize * 3;
  let bar: ProgressLine | undefined;
  const cached = await ensureCached({
    dir: cacheDir,
    key: cacheKey(imageSize, fit, DECODE_PIPELINE_VERSION),
    imageBytes,
    files: scan.files,
    concurrency,
    decode: async (file) => {
      let bytes: Uint8Array;
      try {
        bytes = await readFile(file.path);
      } catch (e) {
        throw Object.assign(new Error(describeReadError(e)), { kind: "unreadable" });
      }
      return await decodeImage(bytes, { size: imageSize, fit });
    },
    onProgress: (done, total) => {
      if (!bar && (progress === true || (progress === "auto" && total >= 200))) {
        bar = new ProgressLine(
          `decoding ${basename(scan.root)} to ${imageSize}x${imageSize}`,
          total,
        );
      }
      bar?.update(done);
    },
  });
  bar?.finish();

  // Bad files: scan problems plus decoding failures.
  const bad: BadFile[] = [...scan.bad];
  for (const [file, failure] of cached.failures) {
    const kind = failure.kind as BadImageKind | "unreadable";
    bad.push({ file, reason: failure.reason, fix: fixFor(kind) ?? "remove it" });
  }
  bad.sort((a, b) => (a.file < b.file ? -1 : a.file > b.file ? 1 : 0));

  const problems: string[] = bad.map(formatBad);
  for (const folder of scan.emptyClassFolders) {
    problems.push(`${folder}/ is empty: add images to it or delete the folder`);
  }
  const splitDir = (s: SplitName) => scan.splitDirs[s] ?? s;
  for (const split of scan.emptySplits) {
    if (split === "train") continue; // an error below in any mode
    problems.push(
      split === "val"
        ? `${splitDir(split)}/ has no images: add some, or delete it to hold out ${
          valFraction * 100
        }% of train as validation`
        : `${splitDir(split)}/ has no images: add some, or delete it (there will be no test split)`,
    );
  }
  if (strict && problems.length > 0) {
    await cleanup();
    throw new DataError(
      `${problems.length} problem${problems.length > 1 ? "s" : ""} in data folder "${dir}" ` +
        `(strict mode, --strict-data):\n  ${problems.join("\n  ")}\n` +
        `Fix them, or run without --strict-data to skip bad files.`,
    );
  }

  // Build the splits from the good files.
  const classIndex = new Map(scan.classNames.map((c, i) => [c, i]));
  const good = (split: SplitName): ImageFile[] =>
    scan.files.filter((f) => f.split === split && cached.slotOf.has(f.rel));
  const trainFiles = good("train");
  if (trainFiles.length === 0) {
    await cleanup();
    throw new DataError(
      `${splitDir("train")}/ in "${dir}" has no usable images` +
        (bad.length
          ? ` (${bad.length} bad files: ${bad.slice(0, 3).map((b) => b.file).join(", ")}${
            bad.length > 3 ? " ..." : ""
          })`
          : "") +
        `: put images in ${splitDir("train")}/<class>/ (JPEG, PNG, WebP or GIF)`,
    );
  }
  const toArrays = (files: ImageFile[]) => ({
    slots: Int32Array.from(files, (f) => cached.slotOf.get(f.rel)!),
    labels: Int32Array.from(files, (f) => classIndex.get(f.className)!),
  });
  let train = toArrays(trainFiles);
  let val: { slots: Int32Array; labels: Int32Array } | undefined;
  let valSource = "none";
  const valFiles = good("val");
  if (valFiles.length > 0) {
    val = toArrays(valFiles);
    valSource = `${splitDir("val")}/`;
  } else if (valFraction > 0) {
    const { kept, heldOut } = stratifiedHoldout(train.labels, valFraction, seed);
    if (heldOut.length > 0) {
      val = {
        slots: Int32Array.from(heldOut, (i) => train.slots[i]),
        labels: Int32Array.from(heldOut, (i) => train.labels[i]),
      };
      train = {
        slots: Int32Array.from(kept, (i) => train.slots[i]),
        labels: Int32Array.from(kept, (i) => train.labels[i]),
      };
      valSource = `${valFraction * 100}% of ${splitDir("train")}/ per class (seed ${seed})`;
    }
  }
  const testFiles = good("test");
  const test = testFiles.length > 0 ? toArrays(testFiles) : undefined;

  const trainCounts = new Array(scan.classNames.length).fill(0);
  for (const l of train.labels) trainCounts[l]++;
  scan.classNames.forEach((c, i) => {
    if (trainCounts[i] === 0 && scan.files.some((f) => f.className === c && f.split === "train")) {
      problems.push(`class "${c}" has no usable training images: the model cannot learn it`);
    }
  });

  // Tell the user, once.
  for (const w of warnings) log(`warning: ${w}`);
  const otherProblems = problems.slice(bad.length);
  for (const p of otherProblems) log(`warning: ${p}`);
  if (bad.length > 0) {
    log(
      `skipped ${bad.length} bad file${bad.length > 1 ? "s" : ""} in "${dir}" ` +
        `(use --strict-data to make this an error):\n  ${bad.map(formatBad).join("\n  ")}`,
    );
  }

  // Serve from memory when it fits, else from the cache file.
  const bytes = cached.count * imageBytes;
  let store: PixelStore;
  if (bytes <= memoryBudget) {
    // A cache file: read through the confinement policy (a regular file, never a symlink or
    // FIFO), capped by the memory budget (an interrupted write may leave it longer than used).
    const cap = Math.max(bytes, memoryBudget);
    const pixels = await readConfined(dirname(cached.binPath!), basename(cached.binPath!), cap, {
      scope: "the image cache",
    });
    store = new MemoryPixelStore(pixels, imageBytes);
  } else {
    store = await FilePixelStore.open(cached.binPath!, cached.count, imageBytes);
  }
  const shape = [imageSize, imageSize, 3] as const;
  const split = (a: { slots: Int32Array; labels: Int32Array }, aug: AugmentOptions | false) =>
    new PixelSplit({ store, slots: a.slots, labels: a.labels, storedShape: shape, augment: aug });

  const info: ImageFolderInfo = {
    format: "image-folder",
    source: scan.root,
    imageSize,
    fit,
    normalization: NORMALIZATION,
    splits: { train: train.labels.length, val: val?.labels.length, test: test?.labels.length },
    valSource,
    augment,
    skipped: { count: bad.length, files: bad.map((b) => ({ file: b.file, reason: b.reason })) },
    warnings: [...warnings, ...otherProblems],
    cache: {
      dir: cacheDir,
      hits: cached.hits,
      decoded: cached.decoded,
      inMemory: store.inMemory,
      bytes,
      seconds: Math.round(performance.now() - started) / 1000,
    },
  };

  async function cleanup() {
    if (temporaryCache) await Deno.remove(cacheDir, { recursive: true }).catch(() => {});
  }

  return {
    name: options.name ?? basename(scan.root),
    classNames: scan.classNames,
    imageShape: shape,
    train: split(train, augment),
    val: val && split(val, false),
    test: test && split(test, false),
    denormalize: denormalizePixels,
    info: info as ImageFolderInfo & Record<string, unknown>,
    async close() {
      await store.close();
      await cleanup();
    },
  };
}

/**
 * Loads the image folder an experiment was given with `--data`, with the experiment's image
 * size, seed and `--strict-data`; `extra` adds or overrides options (fit, augmentation ...).
 * Throws `DataError` when no `--data` was given.
 *
 * @example
 * ```ts
 * import { loadImageFolderFor } from "./image_folder.ts";
 * const dataset = (options: { data?: string; imageSize: number; seed: number }) =>
 *   loadImageFolderFor(options, { augment: { flip: true, rotate: 36, zoom: 0.2 } });
 * ```
 */
export async function loadImageFolderFor(
  options: DataOptions,
  extra: ImageFolderOptions = {},
): Promise<ImageFolderDataset> {
  if (!options.data) {
    throw new DataError(
      "this experiment reads an image folder: pass --data DIR, where DIR holds " +
        "train/<class>/<images> (and optionally val/ and test/ beside it)",
    );
  }
  return await loadImageFolder(options.data, {
    imageSize: options.imageSize,
    seed: options.seed,
    strict: options.strictData ?? false,
    ...extra,
  });
}
