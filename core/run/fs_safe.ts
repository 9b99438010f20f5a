/**
 * Crash-safe file primitives: whole-line appends and write-then-rename.
 *
 * @module
 */
import { dirname } from "node:path";

/**
 * Writes `data` to `path` atomically: the bytes go to a temporary file in the same folder,
 * which is flushed to disk and then renamed over `path`. A crash at any instant leaves either
 * the old file or the new one, never a mix. Parent folders are created.
 */
export async function writeFileAtomic(
  path: string,
  data: Uint8Array | string,
  options: { sync?: boolean } = {},
): Promise<void> {
  await Deno.mkdir(dirname(path), { recursive: true });
  const tmp = `${path}.${Deno.pid}.${crypto.randomUUID().slice(0, 8)}.tmp`;
  const bytes = typeof data === "string" ? new TextEncoder().encode(data) : data;
  const file = await Deno.open(tmp, { write: true, create: true, truncate: true });
  try {
    let off = 0;
    while (off < bytes.length) off += await file.write(bytes.subarray(off));
    if (options.sync ?? true) await file.sync();
  } catch (err) {
    file.close();
    await Deno.remove(tmp).catch(() => {});
    throw err;
  }
  file.close();
  try {
    await Deno.rename(tmp, path);
  } catch (err) {
    await Deno.remove(tmp).catch(() => {});
    throw err;
  }
}

/**
 * An append-only file of JSON lines. Each record is written with a single `write` of one
 * whole line, so readers never see half a record except possibly a torn last line after a
 * crash (readers skip it). `sync()` flushes to disk.
 */
export class JsonlAppender {
  #file: Deno.FsFile | undefined;
  #path: string;
  #queue: Promise<void> = Promise.resolve();

  /** Opens (creating) `path` for appending. */
  constructor(path: string) {
    this.#path = path;
  }

  /** The file's path. */
  get path(): string {
    return this.#path;
  }

  /** Appends one record as a JSON line; `sync` flushes it to disk before resolving. */
  append(record: unknown, sync = false): Promise<void> {
    const line = new TextEncoder().encode(JSON.stringify(record) + "\n");
    this.#queue = this.#queue.then(async () => {
      this.#file ??= await Deno.open(this.#path, { append: true, create: true });
      await writeAll(this.#file, line);
      if (sync) await this.#file.sync();
    });
    return this.#queue;
  }

  /** Waits for pending writes and closes the file. */
  async close(): Promise<void> {
    await this.#queue.catch(() => {});
    this.#file?.close();
    this.#file = undefined;
  }
}

async function writeAll(file: Deno.FsFile, bytes: Uint8Array): Promise<void> {
  // A regular-file append of a few hundred bytes completes in one write; loop for safety.
  let off = 0;
  while (off < bytes.length) off += await file.write(bytes.subarray(off));
}
