/**
 * What each layer detects, as files: for each chosen conv layer, the filter patterns (gradient
 * ascent, `patterns.ts`) as one captioned PNG grid, the top-activating validation patches
 * (`top_patches.ts`) as a grid with one row per filter, and the index entry
 * ({@linkcode VizPatternSet}) that the dashboard reads. Shared by the `Visualize` callback and
 * `deno task patterns`; the files go through a sink (the run's writer, or an atomic writer into
 * an output folder).
 *
 * @module
 */
import type * as tfl from "@tensorflow/tfjs-layers";
import type { Split } from "../data/dataset.ts";
import type { VizImage, VizLayerPatterns, VizPatch, VizPatternSet } from "../run/viz_format.ts";
import { receptiveFields } from "../models/receptive_field.ts";
import { encodePng } from "./png.ts";
import { tileLayout } from "./mosaic.ts";
import { minMaxBytes } from "./image_bytes.ts";
import { convLayers } from "./grad_cam.ts";
import { filterPatterns, patternBytes, PatternInputError, patternLayer } from "./patterns.ts";
import { labelledMosaic, shortNumber } from "./tile_labels.ts";
import { topPatches } from "./top_patches.ts";

/** Where the files go: the run's writer (`RunLogger.artifact`) or an output folder. */
export interface FileSink {
  /** Writes `data` at `relPath` (write-then-rename). */
  artifact(relPath: string, data: Uint8Array | string): Promise<string>;
}

/** Options of {@link computePatternSet}. */
export interface PatternSetOptions {
  /** Folder (relative to the sink) for the PNGs, e.g. `viz/patterns/epoch-5`. */
  dir: string;
  /** Conv layers (default every conv layer of the model). */
  layers?: readonly string[];
  /** Filter indices for every layer (default the first 16 of each, fewer when it has fewer). */
  filters?: readonly number[];
  /** Gradient-ascent steps (default 40). */
  steps?: number;
  /** Seed (default 1). */
  seed?: number;
  /** Validation images for the top patches (none: no patches). */
  split?: Split;
  /** Patches per filter (default 8; 0 = none). */
  k?: number;
  /** Images scanned for patches (default 256). */
  maxImages?: number;
  /** Normalised image to bytes (default min-max scaling). */
  denormalize?: (x: Float32Array) => Uint8ClampedArray;
  /** Where the weights are from (stored in the index). */
  epoch?: number | null;
  /** Who computes it (stored in the index; default `patterns`). */
  source?: VizPatternSet["source"];
  /** Checkpoint name (stored in the index). */
  checkpoint?: string;
  /** Called with each step of the current layer. */
  onStep?: (layer: string, done: number, total: number) => void;
  /** Called when a layer is done, with the seconds it took. */
  onLayer?: (layer: string, seconds: number) => void;
}

const safe = (name: string) => name.replace(/[^A-Za-z0-9_.-]/g, "_");

/** RGB of pixel (x, y) of HWC bytes with `c` channels (gray repeated). */
function rgbAt(bytes: ArrayLike<number>, w: number, c: number, x: number, y: number) {
  const i = (y * w + x) * c;
  return c >= 3
    ? [bytes[i], bytes[i + 1], bytes[i + 2]] as const
    : [bytes[i], bytes[i], bytes[i]] as const;
}

/**
 * The layers and filters a pattern set would cover, checked: unknown or non-conv layers and
 * filters out of range throw a {@linkcode PatternInputError} that lists what exists.
 *
 * @example
 * ```ts ignore
 * const plan = planPatterns(model, ["conv2d_1"], [0, 1, 2]);
 * ```
 */
export function planPatterns(
  model: tfl.LayersModel,
  layers?: readonly string[],
  filters?: readonly number[],
): { layer: string; filters: number[] }[] {
  const names = layers?.length ? layers : convLayers(model).map((l) => l.name);
  if (names.length === 0) throw new PatternInputError("the model has no conv layer");
  return names.map((name) => {
    const layer = patternLayer(model, name);
    const channels = (layer.outputShape as number[])[3];
    const chosen = filters
      ? [...filters]
      : Array.from({ length: Math.min(16, channels) }, (_, i) => i);
    const bad = chosen.filter((f) => !Number.isInteger(f) || f < 0 || f >= channels);
    if (bad.length) {
      throw new PatternInputError(
        `filter ${bad.join(", ")} out of range: layer "${name}" has ${channels} filters ` +
          `(0-${channels - 1})`,
      );
    }
    return { layer: name, filters: chosen };
  });
}

/**
 * Computes filter patterns (and top patches when `split` is given) for the chosen layers,
 * writes their PNGs through `sink` and returns the index entry. Leaves no tensors behind.
 *
 * @example
 * ```ts ignore
 * const set = await computePatternSet(model, run, { dir: "viz/patterns/epoch-5", split: ds.val });
 * ```
 */
export async function computePatternSet(
  model: tfl.LayersModel,
  sink: FileSink,
  options: PatternSetOptions,
): Promise<VizPatternSet> {
  const plan = planPatterns(model, options.layers, options.filters);
  const fields = new Map((receptiveFields(model) ?? []).map((f) => [f.name, f.field]));
  const steps = options.steps ?? 40;
  const seed = options.seed ?? 1;
  const k = options.split ? options.k ?? 8 : 0;
  const toBytes = options.denormalize ?? minMaxBytes;
  const inShape = model.inputs[0].shape as number[];
  const [ih, iw, ic] = [inShape[1], inShape[2], inShape[3]];
  const images: VizImage[] = [];
  const imageSlot = new Map<number, number>();
  const layers: VizLayerPatterns[] = [];
  for (const { layer, filters } of plan) {
    const t0 = performance.now();
    const field = fields.get(layer) ??
      {
        size: [ih, iw] as [number, number],
        jump: [1, 1] as [number, number],
        start: [0, 0] as [number, number],
        global: true,
      };
    const result = await filterPatterns(model, layer, {
      filters,
      steps,
      seed,
      onStep: (d, t) => options.onStep?.(layer, d, t),
    });
    const [h, w, c] = result.shape;
    const tiles = result.patterns.map((p) => patternBytes(p.image));
    const grid = labelledMosaic(
      tiles.length,
      w,
      h,
      8,
      (t, x, y) => rgbAt(tiles[t], w, c, x, y),
      (t) => `${result.patterns[t].filter} ${shortNumber(result.patterns[t].activation)}`,
    );
    const file = `${options.dir}/${safe(layer)}-patterns.png`;
    await sink.artifact(file, encodePng(grid.data, grid.width, grid.height, 3));
    const entry: VizLayerPatterns = {
      layer,
      receptiveField: field,
      patterns: {
        file,
        ...tileLayout(grid),
        gap: grid.gap,
        labelH: grid.labelH,
        scale: grid.scale,
      },
      filters: result.patterns.map((p) => ({
        filter: p.filter,
        start: p.start,
        activation: p.activation,
      })),
      seconds: 0,
    };
    if (k > 0 && options.split && options.split.size > 0) {
      const top = await topPatches(model, layer, options.split, field, {
        filters,
        k,
        maxImages: options.maxImages,
      });
      const used = [...new Set(top.filters.flatMap((f) => f.patches.map((p) => p.image)))];
      const pixels = new Map<number, Uint8ClampedArray>();
      for (let i = 0; i < used.length; i += 64) {
        const ids = used.slice(i, i + 64);
        const batch = await options.split.batch(ids);
        const size = batch.x.length / ids.length;
        ids.forEach((id, j) => pixels.set(id, toBytes(batch.x.subarray(j * size, (j + 1) * size))));
      }
      const ch = used.length ? pixels.get(used[0])!.length / (ih * iw) : ic;
      // The image of each filter's best patch, for the receptive-field box on the page.
      for (const f of top.filters) {
        const best = f.patches[0];
        if (!best || imageSlot.has(best.image)) continue;
        const imgFile = `${options.dir}/images/${images.length}.png`;
        const bytes = pixels.get(best.image)!;
        await sink.artifact(imgFile, encodePng(bytes, iw, ih, ch as 1 | 3 | 4));
        imageSlot.set(best.image, images.length);
        images.push({ file: imgFile, label: -1, width: iw, height: ih });
      }
      const [pw, ph] = top.filters.flatMap((f) => f.patches)[0]?.window.slice(2).reverse() ??
        [1, 1];
      const cells = top.filters.flatMap((f) =>
        Array.from({ length: k }, (_, j) => f.patches[j] as (typeof f.patches)[number] | undefined)
      );
      const pgrid = labelledMosaic(
        cells.length,
        pw,
        ph,
        k,
        (t, x, y) => {
          const p = cells[t];
          if (!p) return [255, 255, 255];
          return rgbAt(pixels.get(p.image)!, iw, ch, p.window[1] + x, p.window[0] + y);
        },
        (t) => (cells[t] ? shortNumber(cells[t]!.activation) : ""),
      );
      const pfile = `${options.dir}/${safe(layer)}-patches.png`;
      await sink.artifact(pfile, encodePng(pgrid.data, pgrid.width, pgrid.height, 3));
      entry.patches = {
        file: pfile,
        ...tileLayout(pgrid),
        gap: pgrid.gap,
        labelH: pgrid.labelH,
        scale: pgrid.scale,
        k,
        items: top.filters.map((f) =>
          f.patches.map((p): VizPatch => ({
            image: imageSlot.get(p.image) ?? -1,
            activation: p.activation,
            window: p.window,
          }))
        ),
      };
    }
    entry.seconds = (performance.now() - t0) / 1000;
    options.onLayer?.(layer, entry.seconds);
    layers.push(entry);
  }
  return {
    epoch: options.epoch ?? null,
    source: options.source ?? "patterns",
    ...(options.checkpoint ? { checkpoint: options.checkpoint } : {}),
    createdAt: new Date().toISOString(),
    steps,
    seed,
    shape: [ih, iw, ic],
    images,
    layers,
  };
}

/**
 * Adds `set` to a list of pattern sets, replacing an earlier set from the same source for the
 * same epoch and checkpoint; oldest first.
 *
 * @example
 * ```ts ignore
 * index.patterns = mergePatternSets(index.patterns ?? [], set);
 * ```
 */
export function mergePatternSets(
  sets: readonly VizPatternSet[],
  set: VizPatternSet,
): VizPatternSet[] {
  const same = (s: VizPatternSet) =>
    s.source === set.source && s.epoch === set.epoch && s.checkpoint === set.checkpoint;
  return [...sets.filter((s) => !same(s)), set];
}
