/**
 * Where decoded images live: fixed-size uint8 HWC slots, either in one array in memory or in a
 * cache file read slot by slot (positioned reads, so concurrent batches are safe) when the
 * dataset is larger than the memory budget.
 *
 * @module
 */
import { open as openFile } from "node:fs/promises";
import type { FileHandle } from "node:fs/promises";

/** Fixed-size images addressed by slot number. */
export interface PixelStore {
  /** Number of slots. */
  readonly count: number;
  /** Bytes per image (`height * width * channels`). */
  readonly imageBytes: number;
  /** True when the whole store is in memory. */
  readonly inMemory: boolean;
  /** Copies the images at `slots`, one after another, into `dest` (`slots.length * imageBytes`). */
  readInto(slots: ArrayLike<number>, dest: Uint8Array): Promise<void>;
  /** Releases the file handle, if any. */
  close(): Promise<void>;
}

function checkSlots(store: PixelStore, slots: ArrayLike<number>, dest: Uint8Array): void {
  if (dest.length < slots.length * store.imageBytes) {
    throw new RangeError(
      `readInto: destination holds ${dest.length} bytes, needs ${slots.length * store.imageBytes}`,
    );
  }
  for (let i = 0; i < slots.length; i++) {
    const s = slots[i];
    if (!Number.isInteger(s) || s < 0 || s >= store.count) {
      throw new RangeError(`image slot ${s} out of range 0..${store.count - 1}`);
    }
  }
}

/**
 * A store backed by one `Uint8Array` of `count * imageBytes` bytes.
 *
 * @example
 * ```ts
 * import { MemoryPixelStore } from "./pixel_store.ts";
 * const store = new MemoryPixelStore(new Uint8Array([1, 2, 3, 4, 5, 6]), 3);
 * const dest = new Uint8Array(3);
 * await store.readInto([1], dest); // dest = [4, 5, 6]
 * ```
 */
export class MemoryPixelStore implements PixelStore {
  readonly count: number;
  readonly inMemory = true;

  /** Wraps `bytes`, all images slot after slot, `imageBytes` each. */
  constructor(readonly bytes: Uint8Array, readonly imageBytes: number) {
    this.count = Math.floor(bytes.length / imageBytes);
  }

  readInto(slots: ArrayLike<number>, dest: Uint8Array): Promise<void> {
    checkSlots(this, slots, dest);
    const n = this.imageBytes;
    for (let i = 0; i < slots.length; i++) {
      dest.set(this.bytes.subarray(slots[i] * n, (slots[i] + 1) * n), i * n);
    }
    return Promise.resolve();
  }

  close(): Promise<void> {
    return Promise.resolve();
  }
}

/** A store that reads slots from a file on demand (for datasets larger than memory). */
export class FilePixelStore implements PixelStore {
  readonly inMemory = false;

  private constructor(
    private handle: FileHandle | undefined,
    readonly path: string,
    readonly count: number,
    readonly imageBytes: number,
  ) {}

  /** Opens `path`, a file of `count` slots of `imageBytes` bytes. */
  static async open(path: string, count: number, imageBytes: number): Promise<FilePixelStore> {
    const handle = await openFile(path, "r");
    const { size } = await handle.stat();
    if (size < count * imageBytes) {
      await handle.close();
      throw new Error(
        `image cache file "${path}" is truncated (${size} bytes, expected ${
          count * imageBytes
        }): delete it to rebuild the cache`,
      );
    }
    return new FilePixelStore(handle, path, count, imageBytes);
  }

  async readInto(slots: ArrayLike<number>, dest: Uint8Array): Promise<void> {
    checkSlots(this, slots, dest);
    const handle = this.handle;
    if (!handle) throw new Error(`image cache "${this.path}" is closed`);
    const n = this.imageBytes;
    const reads: Promise<unknown>[] = [];
    for (let i = 0; i < slots.length; i++) {
      reads.push(readFully(handle, dest.subarray(i * n, (i + 1) * n), slots[i] * n, this.path));
    }
    await Promise.all(reads);
  }

  async close(): Promise<void> {
    const handle = this.handle;
    this.handle = undefined;
    await handle?.close();
  }
}

async function readFully(handle: FileHandle, dest: Uint8Array, position: number, path: string) {
  let done = 0;
  while (done < dest.length) {
    const { bytesRead } = await handle.read(dest, done, dest.length - done, position + done);
    if (bytesRead === 0) {
      throw new Error(
        `image cache "${path}" ended early at byte ${position + done}: delete it to rebuild`,
      );
    }
    done += bytesRead;
  }
}
