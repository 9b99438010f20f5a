/**
 * Tiny trained runs for the predict tests: one on an image folder (RGB, `cover` fit, so a
 * wrong fit would show) and one on IDX files (gray 10x10 sources resized to 12x12), each
 * trained for one epoch on the cpu backend by the real `runExperiment`, so run.json's dataset
 * facts are the ones training writes.
 *
 * @module
 */
import { join } from "node:path";
import sharp from "sharp";
import type { Experiment } from "../../core/experiment/experiment.ts";
import { runExperiment } from "../../core/experiment/run_experiment.ts";
import { loadImageFolder } from "../../core/data/image_folder.ts";
import { loadIdxFolder } from "../../core/data/idx.ts";
import { syntheticShapes } from "../../core/data/synthetic.ts";
import { smallConvnet } from "../../core/models/small_convnet.ts";
import { ModelCheckpoint } from "../../callbacks/model_checkpoint.ts";
import { writeSampleImageFolder } from "../data_fixtures.ts";

/** A trained run and the data it was trained on. */
export interface TrainedRun {
  /** The run directory. */
  runDir: string;
  /** The data folder. */
  dataDir: string;
}

/** Options of the image-folder dataset of {@link trainImageFolderRun} (to load it again). */
export const FOLDER_OPTIONS = {
  imageSize: 16,
  fit: "cover",
  augment: false,
  cacheDir: false,
  progress: false,
  log: () => {},
} as const;

/** Trains `experiment` on cpu into `root`/runs without output; returns the run folder. */
async function trainQuietly(root: string, experiment: Experiment): Promise<string> {
  const { run } = await runExperiment({
    experiment,
    backend: "cpu",
    runsDir: join(root, "runs"),
    log: () => {},
  });
  return run.dir;
}

/** Trains one epoch on a 3-class image folder (16x16, cover) under `root`. */
export async function trainImageFolderRun(root: string): Promise<TrainedRun> {
  const dataDir = join(root, "folder-data");
  await writeSampleImageFolder(dataDir, { classes: 3, perClass: 8, maxSide: 48 });
  const experiment: Experiment = {
    name: "tinyfolder",
    description: "predict test: image folder",
    defaults: { epochs: 1, batchSize: 8, learningRate: 3e-3, imageSize: 16, seed: 1 },
    dataset: () => loadImageFolder(dataDir, FOLDER_OPTIONS),
    model: (shape, k) => smallConvnet(shape, k, [4, 8, 8]),
    callbacks: () => [new ModelCheckpoint({ filepath: "best", saveBestOnly: true })],
  };
  return { runDir: await trainQuietly(root, experiment), dataDir };
}

/** Options of the synthetic dataset of {@link trainSyntheticRun} (to build it again). */
export const SYNTHETIC_OPTIONS = {
  imageSize: 16,
  numClasses: 3,
  trainSize: 30,
  valSize: 6,
  testSize: 6,
} as const;

/** Trains one epoch on a small synthetic-shapes dataset (what the default experiment uses). */
export async function trainSyntheticRun(root: string): Promise<string> {
  const experiment: Experiment = {
    name: "tinysynthetic",
    description: "predict test: synthetic shapes",
    defaults: { epochs: 1, batchSize: 8, learningRate: 3e-3, imageSize: 16, seed: 1 },
    dataset: () => Promise.resolve(syntheticShapes(SYNTHETIC_OPTIONS)),
    model: (shape, k) => smallConvnet(shape, k, [4, 8, 8]),
    callbacks: () => [],
  };
  return await trainQuietly(root, experiment);
}

/** Builds an IDX file of unsigned bytes. */
export function idxBytes(dims: number[], values: ArrayLike<number>): Uint8Array {
  const out = new Uint8Array(4 + 4 * dims.length + values.length);
  const view = new DataView(out.buffer);
  out[2] = 8;
  out[3] = dims.length;
  dims.forEach((d, i) => view.setUint32(4 + 4 * i, d, false));
  out.set(Array.from(values), 4 + 4 * dims.length);
  return out;
}

/** Source size of the IDX images (they are resized to {@link IDX_MODEL_SIZE}). */
export const IDX_SOURCE_SIZE = 10;
/** Model input size of the IDX run. */
export const IDX_MODEL_SIZE = 12;

/** Gray image `i` of class `label`: a bright bar whose position gives the class, plus noise. */
export function idxImage(i: number, label: number): Uint8Array {
  const s = IDX_SOURCE_SIZE;
  const px = new Uint8Array(s * s);
  let noise = (i + 1) * 2654435761;
  for (let y = 0; y < s; y++) {
    for (let x = 0; x < s; x++) {
      noise = (noise * 1103515245 + 12345) >>> 0;
      const bar = Math.floor(x / 3) === label ? 200 : 20;
      px[y * s + x] = Math.min(255, bar + ((noise >>> 24) & 31));
    }
  }
  return px;
}

/**
 * Trains one epoch on IDX files (3 classes, gray 10x10 resized to 12x12; the model takes 1
 * channel, or 3 with the gray copied, as `loadIdxFolder`'s `channels: 3`).
 */
export async function trainIdxRun(
  root: string,
  channels: 1 | 3 = 1,
): Promise<TrainedRun & { testImages: Uint8Array[] }> {
  const dataDir = join(root, `idx-data-${channels}`);
  await Deno.mkdir(dataDir, { recursive: true });
  const s = IDX_SOURCE_SIZE;
  const write = async (prefix: string, n: number, offset: number) => {
    const labels = Array.from({ length: n }, (_, i) => i % 3);
    const images = labels.map((l, i) => idxImage(i + offset, l));
    const flat = new Uint8Array(n * s * s);
    images.forEach((im, i) => flat.set(im, i * s * s));
    await Deno.writeFile(join(dataDir, `${prefix}-images-idx3-ubyte`), idxBytes([n, s, s], flat));
    await Deno.writeFile(join(dataDir, `${prefix}-labels-idx1-ubyte`), idxBytes([n], labels));
    return images;
  };
  await write("train", 30, 0);
  const testImages = await write("t10k", 9, 1000);
  const experiment: Experiment = {
    name: "tinyidx",
    description: "predict test: IDX",
    defaults: { epochs: 1, batchSize: 8, learningRate: 3e-3, imageSize: IDX_MODEL_SIZE, seed: 1 },
    channels,
    dataset: (o) =>
      loadIdxFolder(dataDir, {
        imageSize: o.imageSize,
        channels,
        classNames: ["left", "middle", "right"],
        log: () => {},
      }),
    model: (shape, k) => smallConvnet(shape, k, [4, 8, 8]),
    callbacks: () => [],
  };
  return { runDir: await trainQuietly(root, experiment), dataDir, testImages };
}

/** Encodes gray bytes as a PNG (1 channel, or the gray copied to 3 channels with `rgb`). */
export async function grayPng(px: Uint8Array, size: number, rgb = false): Promise<Uint8Array> {
  const raw = rgb
    ? Uint8Array.from({ length: px.length * 3 }, (_, i) => px[Math.floor(i / 3)])
    : px;
  return new Uint8Array(
    await sharp(raw, { raw: { width: size, height: size, channels: rgb ? 3 : 1 } }).png()
      .toBuffer(),
  );
}

/**
 * A valid 1x1 PNG whose header claims `width` x `height` (CRC fixed), to hit sharp's pixel
 * limit without allocating the pixels.
 */
export async function hugePngHeader(width: number, height: number): Promise<Uint8Array> {
  const png = new Uint8Array(
    await sharp(new Uint8Array(3), { raw: { width: 1, height: 1, channels: 3 } }).png().toBuffer(),
  );
  const view = new DataView(png.buffer, png.byteOffset, png.byteLength);
  // signature (8) + length (4) + "IHDR" (4): width at 16, height at 20, CRC after 13 data bytes.
  view.setUint32(16, width, false);
  view.setUint32(20, height, false);
  view.setUint32(29, crc32(png.subarray(12, 29)), false);
  return png;
}

function crc32(bytes: Uint8Array): number {
  let c = 0xffffffff;
  for (const b of bytes) {
    c ^= b;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0xedb88320 : c >>> 1;
  }
  return (c ^ 0xffffffff) >>> 0;
}
