/**
 * A `Split` over decoded uint8 images in a `PixelStore`: reads the slots of a batch, normalises
 * them (`normalize.ts`), augments them when the caller passes a seed (`augment.ts`), and
 * replicates a gray channel to RGB when the model wants 3 channels.
 *
 * @module
 */
import type { Batch, BatchOptions, Split } from "./dataset.ts";
import { MemoryPixelStore, type PixelStore } from "./pixel_store.ts";
import { augmentImage, type AugmentOptions, isIdentityAugment } from "./augment.ts";
import { normalizePixels } from "./normalize.ts";

/** How to build a `PixelSplit`. */
export interface PixelSplitOptions {
  /** Where the images are. */
  store: PixelStore;
  /** Store slot of each example of this split. */
  slots: Int32Array;
  /** Class index of each example. */
  labels: Int32Array;
  /** `[height, width, channels]` of the stored images. */
  storedShape: readonly [number, number, number];
  /** Channels given to the model: the stored count, or 3 from a stored gray channel. */
  outChannels?: number;
  /** Augmentation applied when `batch` gets an `augmentSeed` (none when absent or false). */
  augment?: AugmentOptions | false;
}

/**
 * One split of a dataset whose images are decoded bytes.
 *
 * @example
 * ```ts
 * import { MemoryPixelStore } from "./pixel_store.ts";
 * import { PixelSplit } from "./pixel_split.ts";
 * const store = new MemoryPixelStore(new Uint8Array(2 * 4 * 4 * 3).fill(255), 4 * 4 * 3);
 * const split = new PixelSplit({
 *   store, slots: new Int32Array([0, 1]), labels: new Int32Array([0, 1]), storedShape: [4, 4, 3],
 * });
 * const { x, y } = await split.batch([1, 0]); // x: 2*4*4*3 floats, all 1
 * ```
 */
export class PixelSplit implements Split {
  readonly size: number;
  /** `[height, width, channels]` of each image in a batch. */
  readonly shape: readonly [number, number, number];
  private readonly options: PixelSplitOptions;

  /** Creates the split. @param options the store, slots, labels and augmentation. */
  constructor(options: PixelSplitOptions) {
    const { slots, labels, storedShape } = options;
    if (slots.length !== labels.length) {
      throw new Error(`PixelSplit: ${slots.length} slots but ${labels.length} labels`);
    }
    const out = options.outChannels ?? storedShape[2];
    if (out !== storedShape[2] && !(storedShape[2] === 1 && out === 3)) {
      throw new Error(`PixelSplit: cannot give ${out} channels from ${storedShape[2]}`);
    }
    this.options = options;
    this.size = slots.length;
    this.shape = [storedShape[0], storedShape[1], out];
  }

  /** Reads, normalises and (with `augmentSeed`) augments the examples at `indices`. */
  async batch(indices: ArrayLike<number>, options: BatchOptions = {}): Promise<Batch> {
    const { store, slots, labels, storedShape, augment } = this.options;
    const n = indices.length;
    const slotList = new Int32Array(n);
    const y = new Int32Array(n);
    for (let k = 0; k < n; k++) {
      const i = indices[k];
      if (!Number.isInteger(i) || i < 0 || i >= this.size) {
        throw new RangeError(`batch index ${i} out of range 0..${this.size - 1}`);
      }
      slotList[k] = slots[i];
      y[k] = labels[i];
    }
    const imageBytes = store.imageBytes;
    // In memory: read each image in place; on disk: read the batch's images in one go.
    let image: (k: number) => Uint8Array;
    if (store instanceof MemoryPixelStore) {
      const all = store.bytes;
      for (const s of slotList) {
        if (s < 0 || s >= store.count) throw new RangeError(`image slot ${s} out of range`);
      }
      image = (k) => all.subarray(slotList[k] * imageBytes, (slotList[k] + 1) * imageBytes);
    } else {
      const bytes = new Uint8Array(n * imageBytes);
      await store.readInto(slotList, bytes);
      image = (k) => bytes.subarray(k * imageBytes, (k + 1) * imageBytes);
    }

    const [h, w, c] = storedShape;
    const outC = this.shape[2];
    const outSize = h * w * outC;
    const x = new Float32Array(n * outSize);
    const seed = options.augmentSeed;
    const doAugment = seed !== undefined && augment && !isIdentityAugment(augment);
    const plain = new Float32Array(imageBytes);
    const augmented = doAugment ? new Float32Array(imageBytes) : plain;
    for (let k = 0; k < n; k++) {
      const src = image(k);
      if (!doAugment && outC === c) {
        normalizePixels(src, x, k * outSize);
        continue;
      }
      normalizePixels(src, plain);
      if (doAugment) augmentImage(plain, storedShape, augment, seed, indices[k], augmented);
      if (outC === c) {
        x.set(augmented, k * outSize);
      } else {
        const base = k * outSize;
        for (let p = 0; p < h * w; p++) {
          const v = augmented[p];
          x[base + p * 3] = v;
          x[base + p * 3 + 1] = v;
          x[base + p * 3 + 2] = v;
        }
      }
    }
    return { x, y };
  }

  /** Class index of every example. */
  labels(): Promise<Int32Array> {
    return Promise.resolve(this.options.labels.slice());
  }
}
