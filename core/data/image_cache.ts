/**
 * The disk cache of decoded, resized images, so that the second epoch and the second run decode
 * nothing.
 *
 * Layout, in the cache folder of one dataset:
 * ```
 * images-<size>-<fit>-v<pipeline>.json        the index (write-then-rename)
 * images-<size>-<fit>-v<pipeline>.<gen>.u8    the pixels: slot after slot of size*size*3 bytes
 * ```
 * The index maps each file (path relative to the data folder) to `[mtimeMs, size, slot]`, or to
 * `[mtimeMs, size, -1, kind, reason]` for a file that failed to decode (so it is not retried
 * until it changes). A file is a hit only when its path, mtime and size all match; the image size
 * and fit are in the file names. When anything must be decoded, a new pixel file (a new `<gen>`)
 * is written (hits copied, misses appended as they finish) and the index is renamed over the
 * old one, so a crash or a concurrent run never sees a half-written cache.
 *
 * Several processes (the trials of a sweep, on one machine or on several sharing the folder
 * over NFS) may fill the same cache at once: writers take `<key>.lock` (created exclusively,
 * its mtime renewed while decoding; one older than a minute is a dead writer's and is taken
 * over), and a process that waited for it reads the index again, so the images are decoded
 * once and shared. Readers never take the lock. A superseded or orphaned pixel file is kept for
 * a day (a run on another machine may still be reading it: deleting a file open elsewhere on
 * NFS breaks that reader), then removed by the next writer.
 *
 * @module
 */
import { createHash } from "node:crypto";
import { homedir } from "node:os";
import { basename, join } from "node:path";
import { open as openFile } from "node:fs/promises";
import type { FileHandle } from "node:fs/promises";
import type { ImageFile } from "./scan.ts";
import { confine, readConfinedText } from "../fs/confine.ts";
import {
  createExclusive,
  moveEntry,
  removeTemps,
  writeFileAtomic,
  writeNewFile,
} from "../fs/atomic.ts";

/** Cache files are used by the confinement policy (no symlink, FIFO or device; capped). */
const IN_CACHE = { scope: "the image cache" };

/** The most bytes a cache index may have. */
const MAX_CACHE_INDEX_BYTES = 1024 * 1024 * 1024;

const INDEX_FORMAT = "convdeck-image-cache";

type GoodEntry = [mtimeMs: number, size: number, slot: number];
type BadEntry = [mtimeMs: number, size: number, slot: -1, kind: string, reason: string];

/** The JSON index of a cache. */
export interface CacheIndex {
  /** Always `convdeck-image-cache`. */
  format: typeof INDEX_FORMAT;
  /** Index format version. */
  version: 1;
  /** Key of this cache (`images-<size>-<fit>-v<pipeline>`). */
  key: string;
  /** Bytes per image. */
  imageBytes: number;
  /** File name of the pixel file, in the same folder. */
  bin: string;
  /** Number of slots in the pixel file. */
  count: number;
  /** Per source file: `[mtimeMs, size, slot]` or `[mtimeMs, size, -1, kind, reason]`. */
  entries: Record<string, GoodEntry | BadEntry>;
}

/** A file that could not be decoded (`kind` as in `decode.ts`, or `unreadable`). */
export interface DecodeFailure {
  /** What kind of problem. */
  kind: string;
  /** The details. */
  reason: string;
}

/** The cache after `ensureCached`: where every good file's pixels are. */
export interface CachedImages {
  /** Absolute path of the pixel file (absent when no file decoded at all). */
  binPath?: string;
  /** Slots in the pixel file. */
  count: number;
  /** Slot of each good file, by relative path. */
  slotOf: Map<string, number>;
  /** Failure of each bad file, by relative path. */
  failures: Map<string, DecodeFailure>;
  /** Files found in the cache. */
  hits: number;
  /** Files decoded now. */
  decoded: number;
}

/** How to fill the cache. */
export interface EnsureCachedOptions {
  /** The cache folder of this dataset (see `resolveCacheDir`). */
  dir: string;
  /** `cacheKey(size, fit, pipeline)`. */
  key: string;
  /** Bytes per decoded image. */
  imageBytes: number;
  /** Every file that should be in the cache. */
  files: readonly ImageFile[];
  /**
   * Decodes one file to `imageBytes` bytes. Throws an error with a `kind` (and message) for a
   * bad file; kind `unreadable` is not remembered (permissions can be fixed without changing
   * mtime or size), every other kind is remembered until the file changes.
   */
  decode(file: ImageFile): Promise<Uint8Array>;
  /** Decodes in flight at once (default 4). */
  concurrency?: number;
  /** Called after each decoded file. */
  onProgress?(done: number, total: number): void;
}

/** The cache file name stem for an image size, fit and decoding pipeline version. */
export function cacheKey(size: number, fit: string, pipeline: number): string {
  return `images-${size}-${fit}-v${pipeline}`;
}

async function isWritableDir(dir: string): Promise<boolean> {
  try {
    await Deno.mkdir(dir, { recursive: true });
    const probe = join(dir, `.probe-${Deno.pid}-${crypto.randomUUID()}`);
    await writeNewFile(probe, new Uint8Array(1), { sync: false });
    await Deno.remove(probe);
    return true;
  } catch {
    return false;
  }
}

/**
 * Chooses the cache folder of the dataset at `dataRoot` (absolute): `override/<name>-<hash>`
 * when given, else `<dataRoot>/.convdeck-cache` if writable, else
 * `$XDG_CACHE_HOME/convdeck/<name>-<hash>` (default `~/.cache/convdeck/...`). The hash is of
 * the absolute data path, so two datasets never share a cache.
 */
export async function resolveCacheDir(dataRoot: string, override?: string): Promise<string> {
  const id = `${basename(dataRoot).replace(/[^\w.-]+/g, "_") || "data"}-${
    createHash("sha1").update(dataRoot).digest("hex").slice(0, 10)
  }`;
  if (override) {
    const dir = join(override, id);
    if (!(await isWritableDir(dir))) {
      throw new Error(`cache folder "${dir}" is not writable: pass a writable cache folder`);
    }
    return dir;
  }
  const inData = join(dataRoot, ".convdeck-cache");
  if (await isWritableDir(inData)) return inData;
  const base = Deno.env.get("XDG_CACHE_HOME") || join(homedir(), ".cache");
  const dir = join(base, "convdeck", id);
  if (!(await isWritableDir(dir))) {
    throw new Error(
      `neither "${inData}" nor "${dir}" is writable for the image cache: pass a writable cache folder`,
    );
  }
  return dir;
}

/** Reads a cache index; undefined when absent, of another format, or its pixel file is wrong. */
export async function readCacheIndex(
  dir: string,
  key: string,
  imageBytes: number,
): Promise<CacheIndex | undefined> {
  let index: CacheIndex;
  try {
    index = JSON.parse(
      await readConfinedText(dir, `${key}.json`, MAX_CACHE_INDEX_BYTES, IN_CACHE),
    );
  } catch {
    return undefined;
  }
  if (
    index?.format !== INDEX_FORMAT || index.version !== 1 || index.key !== key ||
    index.imageBytes !== imageBytes || typeof index.entries !== "object"
  ) return undefined;
  try {
    // The pixel file: a regular file of the cache folder (never a symlink, FIFO or device).
    const { stat } = await confine(dir, String(index.bin), "file", IN_CACHE);
    if (stat.size < index.count * imageBytes) return undefined;
  } catch {
    if (index.count > 0) return undefined;
  }
  return index;
}

async function writeAt(handle: FileHandle, bytes: Uint8Array, position: number): Promise<void> {
  let done = 0;
  while (done < bytes.length) {
    const { bytesWritten } = await handle.write(bytes, done, bytes.length - done, position + done);
    done += bytesWritten;
  }
}

async function readAt(handle: FileHandle, dest: Uint8Array, position: number): Promise<void> {
  let done = 0;
  while (done < dest.length) {
    const { bytesRead } = await handle.read(dest, done, dest.length - done, position + done);
    if (bytesRead === 0) throw new Error("image cache file ended early");
    done += bytesRead;
  }
}

/** How long a superseded or orphaned pixel file is kept (readers elsewhere may hold it open). */
export const STALE_PIXEL_FILE_MS = 24 * 3600_000;

/** A writer's lock whose mtime is older than this belongs to a dead writer. */
export const CACHE_LOCK_STALE_MS = 60_000;

/**
 * Takes the cache's writer lock: `<key>.lock`, created exclusively, its mtime renewed every
 * few seconds until released; waits while another live writer holds it.
 */
async function acquireCacheLock(dir: string, key: string): Promise<() => Promise<void>> {
  const path = join(dir, `${key}.lock`);
  for (;;) {
    try {
      if (!(await createExclusive(path, `${Deno.hostname()} ${Deno.pid}\n`))) {
        throw new Deno.errors.AlreadyExists(path);
      }
      const timer = setInterval(() => {
        const now = new Date();
        Deno.utime(path, now, now).catch(() => {});
      }, CACHE_LOCK_STALE_MS / 6);
      return async () => {
        clearInterval(timer);
        await Deno.remove(path).catch(() => {});
      };
    } catch (err) {
      if (!(err instanceof Deno.errors.AlreadyExists)) throw err;
    }
    try {
      const age = Date.now() - ((await Deno.stat(path)).mtime?.getTime() ?? 0);
      if (age > CACHE_LOCK_STALE_MS) {
        // A dead writer's: move it aside (one taker wins the rename) and try again.
        const aside = `${path}.${crypto.randomUUID().slice(0, 8)}.stale`;
        await moveEntry(path, aside).then(() => Deno.remove(aside)).catch(() => {});
        continue;
      }
    } catch {
      continue; // released meanwhile
    }
    await new Promise((r) => setTimeout(r, 100 + Math.random() * 200));
  }
}

/** Removes pixel files of `key` that no index refers to (left by an interrupted run). */
async function removeOrphans(dir: string, key: string, keep: string | undefined): Promise<void> {
  const cutoff = Date.now() - STALE_PIXEL_FILE_MS;
  // Index temporaries of a writer that died (a live writer holds the lock we hold now).
  await removeTemps(dir, { prefix: `${key}.json` }).catch(() => 0);
  try {
    for await (const entry of Deno.readDir(dir)) {
      if (entry.name.startsWith(`${key}.lock.`) && entry.name.endsWith(".stale")) {
        await Deno.remove(join(dir, entry.name)).catch(() => {});
        continue;
      }
      if (!entry.name.startsWith(`${key}.`) || !entry.name.endsWith(".u8") || entry.name === keep) {
        continue;
      }
      const path = join(dir, entry.name);
      const info = await Deno.stat(path);
      if ((info.mtime?.getTime() ?? 0) < cutoff) await Deno.remove(path);
    }
  } catch {
    // Cleaning up is best effort.
  }
}

async function writeIndex(dir: string, index: CacheIndex): Promise<void> {
  await writeFileAtomic(join(dir, `${index.key}.json`), JSON.stringify(index), { root: dir });
}

/**
 * Makes sure every file in `options.files` is in the cache: reuses entries whose mtime and size
 * match, decodes the rest (several at once), and returns where each image's pixels are.
 * Never throws for a bad file: its failure is returned in `failures`.
 *
 * @example
 * ```ts
 * import { cacheKey, ensureCached, resolveCacheDir } from "./image_cache.ts";
 * import { decodeImage } from "./decode.ts";
 * import { scanImageFolder } from "./scan.ts";
 * const scan = await scanImageFolder("data/snacks");
 * const cached = await ensureCached({
 *   dir: await resolveCacheDir(scan.root), key: cacheKey(224, "squash", 1),
 *   imageBytes: 224 * 224 * 3, files: scan.files,
 *   decode: async (f) => decodeImage(await Deno.readFile(f.path), { size: 224 }),
 * });
 * ```
 */
export async function ensureCached(options: EnsureCachedOptions): Promise<CachedImages> {
  const first = await fillCache(options, false);
  if (first) return first;
  // Something must be decoded: one writer at a time; after the wait, another writer may have
  // done it already.
  const release = await acquireCacheLock(options.dir, options.key);
  try {
    return (await fillCache(options, true))!;
  } finally {
    await release();
  }
}

/** Reuses the cache when every file hits; otherwise writes it when `write`, else undefined. */
async function fillCache(
  options: EnsureCachedOptions,
  write: boolean,
): Promise<CachedImages | undefined> {
  const { dir, key, imageBytes, files } = options;
  const old = await readCacheIndex(dir, key, imageBytes);
  const result: CachedImages = {
    count: 0,
    slotOf: new Map(),
    failures: new Map(),
    hits: 0,
    decoded: 0,
  };
  const goodHits: [ImageFile, number][] = [];
  const misses: ImageFile[] = [];
  for (const file of files) {
    const entry = old?.entries[file.rel];
    if (entry && entry[0] === file.mtimeMs && entry[1] === file.size) {
      result.hits++;
      if (entry[2] >= 0) goodHits.push([file, entry[2]]);
      else result.failures.set(file.rel, { kind: String(entry[3]), reason: String(entry[4]) });
    } else {
      misses.push(file);
    }
  }
  if (misses.length === 0 && old) {
    for (const [file, slot] of goodHits) result.slotOf.set(file.rel, slot);
    result.count = old.count;
    if (old.count > 0) result.binPath = join(dir, old.bin);
    return result;
  }
  if (!write) return undefined;
  await removeOrphans(dir, key, old?.bin);

  const gen = `${Date.now().toString(36)}${crypto.randomUUID().slice(0, 6)}`;
  const bin = `${key}.${gen}.u8`;
  const binPath = join(dir, bin);
  const index: CacheIndex = {
    format: INDEX_FORMAT,
    version: 1,
    key,
    imageBytes,
    bin,
    count: 0,
    entries: {},
  };
  const out = await openFile(binPath, "w");
  let slots = 0; // slots handed out
  let written = 0; // 1 + the highest slot whose pixels are fully written
  try {
    // Copy the hits into the new pixel file.
    if (goodHits.length > 0 && old) {
      const from = await openFile(join(dir, old.bin), "r");
      try {
        const buf = new Uint8Array(imageBytes);
        for (const [file, oldSlot] of goodHits) {
          await readAt(from, buf, oldSlot * imageBytes);
          await writeAt(out, buf, slots * imageBytes);
          result.slotOf.set(file.rel, slots);
          index.entries[file.rel] = [file.mtimeMs, file.size, slots];
          slots++;
          written = slots;
        }
      } finally {
        await from.close();
      }
    }
    const byRel = new Map(files.map((f) => [f.rel, f]));
    for (const [rel, failure] of result.failures) {
      const file = byRel.get(rel)!;
      index.entries[rel] = [file.mtimeMs, file.size, -1, failure.kind, failure.reason];
    }
    // Decode the misses, several at once; each result goes to the next free slot.
    let next = 0;
    let done = 0;
    let lastFlush = performance.now();
    const worker = async () => {
      while (next < misses.length) {
        const file = misses[next++];
        let pixels: Uint8Array | undefined;
        try {
          pixels = await options.decode(file);
          if (pixels.length !== imageBytes) {
            throw new Error(`decoder returned ${pixels.length} bytes, expected ${imageBytes}`);
          }
        } catch (e) {
          pixels = undefined;
          const kind = String((e as { kind?: unknown }).kind ?? "corrupt");
          const reason = e instanceof Error ? e.message : String(e);
          result.failures.set(file.rel, { kind, reason });
          if (kind !== "unreadable") {
            index.entries[file.rel] = [file.mtimeMs, file.size, -1, kind, reason];
          }
        }
        if (pixels) {
          const slot = slots++;
          await writeAt(out, pixels, slot * imageBytes).catch((e) => {
            throw new Error(
              `cannot write the image cache "${binPath}" (${(e as Error).message}): free some ` +
                `disk space or choose another cache folder`,
            );
          });
          written = Math.max(written, slot + 1);
          result.slotOf.set(file.rel, slot);
          index.entries[file.rel] = [file.mtimeMs, file.size, slot];
          result.decoded++;
        }
        done++;
        options.onProgress?.(done, misses.length);
        if (performance.now() - lastFlush > 5000) {
          // Keep the work done so far if the process is interrupted during a long first decode.
          lastFlush = performance.now();
          await out.sync();
          // Only finished slots are in the entries; `written` bounds them all.
          await writeIndex(dir, { ...index, count: written, entries: { ...index.entries } });
        }
      }
    };
    const concurrency = Math.max(1, options.concurrency ?? 4);
    await Promise.all(Array.from({ length: concurrency }, worker));
    await out.sync();
  } finally {
    await out.close();
  }
  index.count = slots;
  await writeIndex(dir, index);
  if (old && old.bin !== bin) {
    // Superseded: kept for STALE_PIXEL_FILE_MS from now (readers elsewhere may have it open).
    const now = new Date();
    await Deno.utime(join(dir, old.bin), now, now).catch(() => {});
  }
  result.count = slots;
  result.binPath = binPath;
  return result;
}
