/**
 * Data-loading benchmark: generates a folder of JPEGs of mixed sizes and reports images per
 * second for decode + resize (cold: nothing cached, with 1 decode in flight and with the
 * default, to show what the second core gives) against reading the same images from the cache
 * (a second load, then a whole epoch of batches, from memory and streamed from the cache file).
 *
 * Run alone: `deno run -A tests/bench/data.ts [--images 300] [--size 224] [--repeats 3]`.
 *
 * @module
 */
import { parseArgs } from "node:util";
import { loadImageFolder } from "../../core/data/image_folder.ts";
import type { Split } from "../../core/data/dataset.ts";
import { writeMixedJpegFolder } from "../data_fixtures.ts";

/** Options of `benchData`. */
export interface BenchDataOptions {
  /** JPEGs to generate (default 300). */
  images?: number;
  /** Square size to decode to (default 224, the book's). */
  imageSize?: number;
  /** Timed repetitions; medians are reported (default 3). */
  repeats?: number;
  /** Where each result line goes (default `console.log`). */
  log?: (line: string) => void;
}

function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

async function timed(fn: () => Promise<void>): Promise<number> {
  const t0 = performance.now();
  await fn();
  return (performance.now() - t0) / 1000;
}

async function readEpoch(split: Split, batchSize: number, augmentSeed?: number): Promise<void> {
  for (let start = 0; start < split.size; start += batchSize) {
    const indices = Array.from(
      { length: Math.min(batchSize, split.size - start) },
      (_, i) => start + i,
    );
    await split.batch(indices, { augmentSeed });
  }
}

/**
 * Runs the data benchmark and prints one line per measurement (medians of `repeats` runs).
 *
 * @example
 * ```ts
 * import { benchData } from "./data.ts";
 * await benchData({ images: 100, repeats: 1 });
 * ```
 */
export async function benchData(options: BenchDataOptions = {}): Promise<void> {
  const { images = 300, imageSize = 224, repeats = 3, log = console.log } = options;
  const root = await Deno.makeTempDir({ prefix: "convdeck-bench-data-" });
  try {
    const data = `${root}/data`;
    const genTime = await timed(async () => {
      const bytes = await writeMixedJpegFolder(data, images);
      log(
        `data: generated ${images} JPEGs (160..1199 x 120..899 px, ${
          (bytes / 2 ** 20).toFixed(1)
        } MiB)`,
      );
    });
    log(`data: generation took ${genTime.toFixed(1)} s`);
    const base = {
      imageSize,
      valFraction: 0,
      augment: false as const,
      progress: false,
      log: () => {},
    };
    const rate = (s: number) => `${(images / s).toFixed(0)} img/s`;
    const cold = async (concurrency: number) => {
      const times: number[] = [];
      for (let r = 0; r < repeats; r++) {
        const cacheDir = `${root}/cache-cold-${concurrency}-${r}`;
        times.push(
          await timed(async () => {
            const ds = await loadImageFolder(data, { ...base, cacheDir, concurrency });
            await ds.close();
          }),
        );
      }
      return median(times);
    };
    const cold1 = await cold(1);
    log(
      `data: cold decode+resize to ${imageSize}, 1 in flight:  ${rate(cold1)} (${
        cold1.toFixed(2)
      } s)`,
    );
    const defaultConcurrency = 2 * navigator.hardwareConcurrency;
    const coldN = await cold(defaultConcurrency);
    log(
      `data: cold decode+resize to ${imageSize}, ${defaultConcurrency} in flight (default): ${
        rate(coldN)
      } ` +
        `(${coldN.toFixed(2)} s, ${(cold1 / coldN).toFixed(2)}x of 1 in flight)`,
    );

    const cacheDir = `${root}/cache-cold-${defaultConcurrency}-0`;
    const loads: number[] = [];
    const plain: number[] = [];
    const streamed: number[] = [];
    const augmented: number[] = [];
    for (let r = 0; r < repeats; r++) {
      let ds!: Awaited<ReturnType<typeof loadImageFolder>>;
      loads.push(
        await timed(async () => {
          ds = await loadImageFolder(data, { ...base, cacheDir, augment: undefined });
        }),
      );
      if (ds.info.cache.decoded !== 0) throw new Error("benchmark: the cached load decoded images");
      if (r === 0) await readEpoch(ds.train, 32); // warm up the JIT before timing epochs
      plain.push(await timed(() => readEpoch(ds.train, 32)));
      augmented.push(await timed(() => readEpoch(ds.train, 32, r + 1)));
      await ds.close();
      const st = await loadImageFolder(data, { ...base, cacheDir, memoryBudgetBytes: 0 });
      streamed.push(await timed(() => readEpoch(st.train, 32)));
      await st.close();
    }
    const load = median(loads);
    const epoch = median(plain);
    const stream = median(streamed);
    const aug = median(augmented);
    log(`data: cached load (scan, stat, read the cache): ${rate(load)} (${load.toFixed(3)} s)`);
    log(`data: cached epoch, batches of 32 as floats, from memory: ${rate(epoch)}`);
    log(
      `data: cached epoch, batches of 32 as floats, streamed from the cache file: ${rate(stream)}`,
    );
    log(`data: cached epoch, batches of 32 as floats, default augmentation: ${rate(aug)}`);
    // A cold epoch decodes every image and then builds the same float batches.
    log(
      `data: cold epoch (decode + batches) vs cached epoch (batches), issue 4 requires >= 10x: ` +
        `${((coldN + epoch) / epoch).toFixed(1)}x from memory, ` +
        `${((coldN + stream) / stream).toFixed(1)}x streamed; ` +
        `second run's load + epoch ${((coldN + epoch) / (load + epoch)).toFixed(1)}x`,
    );
  } finally {
    await Deno.remove(root, { recursive: true });
  }
}

if (import.meta.main) {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      images: { type: "string", default: "300" },
      size: { type: "string", default: "224" },
      repeats: { type: "string", default: "3" },
    },
  });
  await benchData({
    images: Number(values.images),
    imageSize: Number(values.size),
    repeats: Number(values.repeats),
  });
}
