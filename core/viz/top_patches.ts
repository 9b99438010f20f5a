/**
 * Top-activating patches (Zeiler & Fergus): for each filter of a conv layer, the `k` images of a
 * split whose strongest response of that filter is the highest, each cropped to the filter's
 * receptive field around the position of that response: what real data the filter answers to.
 * One patch per image and filter, so the `k` patches come from `k` different images.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs-core";
import * as tfl from "@tensorflow/tfjs-layers";
import type { Split } from "../data/dataset.ts";
import { fieldWindow, type ReceptiveField } from "../models/receptive_field.ts";
import { checkFilters, patternLayer } from "./patterns.ts";

/** One top-activating patch. */
export interface TopPatch {
  /** Index of the image in the split. */
  image: number;
  /** Position of the strongest response in the layer's map. */
  y: number;
  /** Position of the strongest response in the layer's map. */
  x: number;
  /** The response (the layer's output there). */
  activation: number;
  /** The input window `[y0, x0, h, w]` cropped (the receptive field shifted inside the image). */
  window: [number, number, number, number];
}

/** The top patches of one layer's filters. */
export interface LayerTopPatches {
  /** Layer name. */
  layer: string;
  /** Images scanned. */
  scanned: number;
  /** Per requested filter, best first (fewer than `k` when fewer images were scanned). */
  filters: { filter: number; patches: TopPatch[] }[];
}

/** Options of {@link topPatches}. */
export interface TopPatchOptions {
  /** Filter indices (default the first 16). */
  filters?: readonly number[];
  /** Patches per filter (default 8). */
  k?: number;
  /** Images scanned: the first `maxImages` of the split, evenly spaced (default 256). */
  maxImages?: number;
  /** Images per forward pass (default 32). */
  batchSize?: number;
}

/** Evenly spaced indices `0 .. size-1`, at most `n` of them. */
export function spacedIndices(size: number, n: number): number[] {
  const m = Math.min(size, n);
  return Array.from({ length: m }, (_, i) => Math.floor((i * size) / m));
}

/**
 * Scans `split` with `model` and returns, per filter of `layerName`, the `k` strongest
 * responses (one per image) with the receptive-field window to crop (from `field`, the layer's
 * receptive field). Leaves no tensors behind.
 *
 * @example
 * ```ts ignore
 * const top = await topPatches(model, "conv2d_4", dataset.val!, field, { k: 6 });
 * console.log(top.filters[0].patches[0]); // { image: 17, y: 3, x: 9, activation: 2.1, window: [...] }
 * ```
 */
export async function topPatches(
  model: tfl.LayersModel,
  layerName: string,
  split: Split,
  field: ReceptiveField,
  options: TopPatchOptions = {},
): Promise<LayerTopPatches> {
  const layer = patternLayer(model, layerName);
  const channels = (layer.outputShape as number[])[3];
  const filters = options.filters ?? Array.from({ length: Math.min(16, channels) }, (_, i) => i);
  checkFilters(layerName, filters, channels);
  const k = options.k ?? 8;
  const indices = spacedIndices(split.size, options.maxImages ?? 256);
  const batchSize = options.batchSize ?? 32;
  const inShape = model.inputs[0].shape as number[];
  const [ih, iw] = [inShape[1], inShape[2]];
  const feature = tfl.model({ inputs: model.inputs, outputs: layer.output as tfl.SymbolicTensor });
  const best = filters.map(() => [] as TopPatch[]);
  const sel = tf.tensor1d([...filters], "int32");
  try {
    for (let b0 = 0; b0 < indices.length; b0 += batchSize) {
      const ids = indices.slice(b0, b0 + batchSize);
      const batch = await split.batch(ids);
      const { maxT, argT, w } = tf.tidy(() => {
        const x = tf.tensor4d(batch.x, [ids.length, ih, iw, batch.x.length / ids.length / ih / iw]);
        const maps = tf.gather(feature.predict(x) as tf.Tensor4D, sel, 3); // [n, h, w, f]
        const [n, h, w, f] = maps.shape;
        const flat = tf.reshape(maps, [n, h * w, f]);
        return { maxT: tf.max(flat, 1), argT: tf.argMax(flat, 1), w };
      });
      const [maxV, argV] = await Promise.all([maxT.data(), argT.data()]);
      tf.dispose([maxT, argT]);
      ids.forEach((image, i) => {
        filters.forEach((_, fi) => {
          const activation = maxV[i * filters.length + fi];
          const list = best[fi];
          if (list.length === k && activation <= list[k - 1].activation) return;
          const pos = argV[i * filters.length + fi];
          const y = Math.floor(pos / w), x = pos % w;
          const window = fieldWindow(field, y, x, ih, iw, false);
          list.push({ image, y, x, activation, window });
          list.sort((a, b) => b.activation - a.activation);
          if (list.length > k) list.pop();
        });
      });
    }
  } finally {
    sel.dispose();
  }
  return {
    layer: layerName,
    scanned: indices.length,
    filters: filters.map((filter, fi) => ({ filter, patches: best[fi] })),
  };
}
