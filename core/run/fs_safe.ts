/**
 * Crash-safe file primitives: write-then-rename, on `node:` file APIs so the tracking client
 * (`track/`) shares them in Node. Whole-line appends are `line_log.ts`.
 *
 * @module
 */
import {
  closeSync,
  fdatasyncSync,
  mkdirSync,
  openSync,
  renameSync,
  rmSync,
  writeSync,
} from "node:fs";
import { mkdir, open, rename, rm } from "node:fs/promises";
import { dirname } from "node:path";
import process from "node:process";
import { plainFsError } from "./_runtime.ts";

function tempName(path: string): string {
  return `${path}.${process.pid}.${crypto.randomUUID().slice(0, 8)}.tmp`;
}

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
  await mkdir(dirname(path), { recursive: true });
  const tmp = tempName(path);
  const file = await open(tmp, "w");
  try {
    await file.writeFile(data);
    if (options.sync ?? true) await file.sync();
  } catch (err) {
    await file.close();
    await rm(tmp, { force: true }).catch(() => {});
    throw plainFsError(err);
  }
  await file.close();
  try {
    await rename(tmp, path);
  } catch (err) {
    await rm(tmp, { force: true }).catch(() => {});
    throw err;
  }
}

/**
 * {@linkcode writeFileAtomic}, synchronously: for exit handlers, which cannot wait.
 *
 * @example
 * ```ts
 * import { writeFileAtomicSync } from "./fs_safe.ts";
 * writeFileAtomicSync(`${Deno.makeTempDirSync()}/run.json`, "{}\n");
 * ```
 */
export function writeFileAtomicSync(path: string, data: Uint8Array | string): void {
  mkdirSync(dirname(path), { recursive: true });
  const tmp = tempName(path);
  const fd = openSync(tmp, "w");
  try {
    const bytes = typeof data === "string" ? new TextEncoder().encode(data) : data;
    let off = 0;
    while (off < bytes.length) off += writeSync(fd, bytes, off);
    fdatasyncSync(fd);
  } catch (err) {
    closeSync(fd);
    rmSync(tmp, { force: true });
    throw err;
  }
  closeSync(fd);
  renameSync(tmp, path);
}
