/**
 * The built-in default dataset: procedurally generated RGB images of shapes and textures,
 * made in code from a seed (no download). The class is the pattern, never the colour: every
 * image has a random colour, position, size, rotation and a noisy background, so a model must
 * learn spatial features to tell the classes apart.
 *
 * @module
 */
import type { Batch, BatchOptions, Dataset, Split } from "./dataset.ts";
import { hashInts, mulberry32 } from "../random.ts";
import { NORMALIZATION } from "./normalize.ts";

/** The classes of the synthetic dataset, in label order. */
export const SYNTHETIC_CLASSES = [
  "circle",
  "square",
  "triangle",
  "cross",
  "ring",
  "stripes",
  "checker",
  "dots",
] as const;

/** Options of {@link syntheticShapes}. */
export interface SyntheticOptions {
  /** Square image size in pixels (default 32). */
  imageSize?: number;
  /** Training examples (default 2400). */
  trainSize?: number;
  /** Validation examples (default 600). */
  valSize?: number;
  /** Test examples (default 600). */
  testSize?: number;
  /** Seed of the whole dataset (default 1). */
  seed?: number;
  /** Number of classes to use, from the start of {@link SYNTHETIC_CLASSES} (default all 8). */
  numClasses?: number;
}

type Rand = () => number;

function hsvToRgb(h: number, s: number, v: number): [number, number, number] {
  const i = Math.floor(h * 6);
  const f = h * 6 - i;
  const p = v * (1 - s), q = v * (1 - f * s), t = v * (1 - (1 - f) * s);
  const m = i % 6;
  const rgb = [[v, t, p], [q, v, p], [p, v, t], [p, q, v], [t, p, v], [v, p, q]][m];
  return [rgb[0], rgb[1], rgb[2]];
}

/** Coverage (0..1) of the pattern of class `cls` at normalised coordinates (u, v) in [-1, 1]. */
function pattern(cls: number, u: number, v: number, period: number): number {
  const soft = (d: number) => Math.max(0, Math.min(1, 0.5 - d * 6)); // d: signed distance
  switch (cls) {
    case 0: // circle
      return soft(Math.hypot(u, v) - 0.8);
    case 1: // square
      return soft(Math.max(Math.abs(u), Math.abs(v)) - 0.7);
    case 2: { // triangle (pointing up)
      const d = Math.max(-v - 0.6, (Math.abs(u) * 1.732 + v) / 2 - 0.45);
      return soft(d);
    }
    case 3: // cross
      return soft(Math.min(
        Math.max(Math.abs(u) - 0.25, Math.abs(v) - 0.85),
        Math.max(Math.abs(v) - 0.25, Math.abs(u) - 0.85),
      ));
    case 4: // ring
      return soft(Math.abs(Math.hypot(u, v) - 0.6) - 0.17);
    case 5: // stripes
      return Math.hypot(u, v) < 0.95 ? (Math.sin(u * Math.PI * period) > 0 ? 1 : 0) : 0;
    case 6: // checker
      return Math.max(Math.abs(u), Math.abs(v)) < 0.85
        ? ((Math.sin(u * Math.PI * period * 0.75) * Math.sin(v * Math.PI * period * 0.75)) > 0
          ? 1
          : 0)
        : 0;
    default: { // dots: a 3x3 grid of small discs
      const gu = Math.round(u / 0.6) * 0.6, gv = Math.round(v / 0.6) * 0.6;
      if (Math.abs(gu) > 0.61 || Math.abs(gv) > 0.61) return 0;
      return soft(Math.hypot(u - gu, v - gv) - 0.17);
    }
  }
}

/** Renders example `index` of a split: returns its label and writes RGB bytes into `out`. */
export function renderExample(
  seed: number,
  index: number,
  size: number,
  numClasses: number,
  out: Uint8Array,
): number {
  const rand: Rand = mulberry32(hashInts(seed, index));
  const cls = index % numClasses;
  const hue = rand();
  const fg = hsvToRgb(hue, 0.5 + 0.5 * rand(), 0.7 + 0.3 * rand());
  const bgHue = (hue + 0.25 + 0.5 * rand()) % 1;
  const bg0 = hsvToRgb(bgHue, 0.3 * rand(), 0.1 + 0.35 * rand());
  const bg1 = hsvToRgb(bgHue, 0.3 * rand(), 0.1 + 0.35 * rand());
  const scale = 0.45 + 0.3 * rand(); // radius as a fraction of the half-size
  const cx = (rand() - 0.5) * (1 - scale) * 1.6, cy = (rand() - 0.5) * (1 - scale) * 1.6;
  const angle = rand() * Math.PI * 2;
  const cos = Math.cos(angle), sin = Math.sin(angle);
  const period = 3 + rand() * 2;
  const noise = 0.06 + 0.06 * rand();
  const gx = rand() - 0.5, gy = rand() - 0.5;
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      const nx = (x + 0.5) / size * 2 - 1, ny = (y + 0.5) / size * 2 - 1;
      const dx = (nx - cx) / scale, dy = (ny - cy) / scale;
      const u = dx * cos - dy * sin, v = dx * sin + dy * cos;
      const a = pattern(cls, u, v, period);
      const g = Math.max(0, Math.min(1, 0.5 + nx * gx + ny * gy));
      const o = (y * size + x) * 3;
      for (let k = 0; k < 3; k++) {
        const bg = bg0[k] * (1 - g) + bg1[k] * g + (rand() - 0.5) * noise;
        const val = bg * (1 - a) + fg[k] * a;
        out[o + k] = Math.max(0, Math.min(255, Math.round(val * 255)));
      }
    }
  }
  return cls;
}

class SyntheticSplit implements Split {
  readonly size: number;
  #pixels: Uint8Array;
  #labels: Int32Array;
  #pixelsPerImage: number;
  #imageSize: number;

  constructor(seed: number, size: number, imageSize: number, numClasses: number) {
    this.size = size;
    this.#imageSize = imageSize;
    this.#pixelsPerImage = imageSize * imageSize * 3;
    this.#pixels = new Uint8Array(size * this.#pixelsPerImage);
    this.#labels = new Int32Array(size);
    for (let i = 0; i < size; i++) {
      this.#labels[i] = renderExample(
        seed,
        i,
        imageSize,
        numClasses,
        this.#pixels.subarray(i * this.#pixelsPerImage, (i + 1) * this.#pixelsPerImage),
      );
    }
  }

  batch(indices: ArrayLike<number>, options: BatchOptions = {}): Promise<Batch> {
    const n = indices.length;
    const p = this.#pixelsPerImage;
    const s = this.#imageSize;
    const x = new Float32Array(n * p);
    const y = new Int32Array(n);
    for (let j = 0; j < n; j++) {
      const i = indices[j];
      if (!(i >= 0 && i < this.size)) throw new RangeError(`example index ${i} out of range`);
      y[j] = this.#labels[i];
      const src = this.#pixels.subarray(i * p, (i + 1) * p);
      const dst = x.subarray(j * p, (j + 1) * p);
      if (options.augmentSeed === undefined) {
        for (let k = 0; k < p; k++) dst[k] = src[k] / 255;
        continue;
      }
      // Light augmentation: a seeded horizontal flip and a shift of up to 2 pixels.
      const r = mulberry32(hashInts(options.augmentSeed, i));
      const flip = r() < 0.5;
      const sx = Math.floor(r() * 5) - 2, sy = Math.floor(r() * 5) - 2;
      for (let yy = 0; yy < s; yy++) {
        const srcY = Math.min(s - 1, Math.max(0, yy + sy));
        for (let xx = 0; xx < s; xx++) {
          const fx = flip ? s - 1 - xx : xx;
          const srcX = Math.min(s - 1, Math.max(0, fx + sx));
          const so = (srcY * s + srcX) * 3, d = (yy * s + xx) * 3;
          dst[d] = src[so] / 255;
          dst[d + 1] = src[so + 1] / 255;
          dst[d + 2] = src[so + 2] / 255;
        }
      }
    }
    return Promise.resolve({ x, y });
  }

  labels(): Promise<Int32Array> {
    return Promise.resolve(this.#labels.slice());
  }
}

/**
 * Builds the synthetic shapes dataset. Deterministic: the same options give the same pixels.
 * Pixels are normalised to [0, 1] (x / 255).
 *
 * @example
 * ```ts
 * import { syntheticShapes } from "./synthetic.ts";
 * const ds = syntheticShapes({ imageSize: 16, trainSize: 80, valSize: 16, testSize: 16 });
 * const { x, y } = await ds.train.batch([0, 1, 2]);
 * console.log(x.length === 3 * 16 * 16 * 3, y); // true Int32Array [0, 1, 2]
 * ```
 */
export function syntheticShapes(options: SyntheticOptions = {}): Dataset {
  const imageSize = options.imageSize ?? 32;
  if (!Number.isInteger(imageSize) || imageSize < 8) {
    throw new Error(`The synthetic dataset needs an image size of at least 8, got ${imageSize}`);
  }
  const numClasses = options.numClasses ?? SYNTHETIC_CLASSES.length;
  if (!Number.isInteger(numClasses) || numClasses < 2 || numClasses > SYNTHETIC_CLASSES.length) {
    throw new Error(`numClasses must be 2..${SYNTHETIC_CLASSES.length}, got ${numClasses}`);
  }
  const seed = options.seed ?? 1;
  return {
    name: "synthetic-shapes",
    classNames: SYNTHETIC_CLASSES.slice(0, numClasses),
    imageShape: [imageSize, imageSize, 3],
    train: new SyntheticSplit(hashInts(seed, 1), options.trainSize ?? 2400, imageSize, numClasses),
    val: new SyntheticSplit(hashInts(seed, 2), options.valSize ?? 600, imageSize, numClasses),
    test: new SyntheticSplit(hashInts(seed, 3), options.testSize ?? 600, imageSize, numClasses),
    denormalize: (x) => {
      const out = new Uint8ClampedArray(x.length);
      for (let i = 0; i < x.length; i++) out[i] = x[i] * 255;
      return out;
    },
    info: {
      generator: "synthetic-shapes",
      seed,
      imageSize,
      numClasses,
      normalization: NORMALIZATION,
    },
  };
}
