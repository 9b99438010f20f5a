/**
 * The one atomic write: files and folders are written under a temporary name beside their
 * destination and renamed into place, so a crash at any instant leaves the old version or the
 * new one, never a mix. One temporary-name scheme (`<name>.<pid>.<8 hex>.tmp`, see
 * {@linkcode tempPath}) and its own cleanup of what a crash leaves ({@linkcode removeTemps}).
 *
 * Folders are never created implicitly: a write below `root` creates missing folders between
 * `root` and the file (none of them a symlink, see `confine.ts`), and fails when `root`
 * itself is gone, so a writer never re-creates a run folder that was deleted under it.
 *
 * @example
 * ```ts
 * import { writeFileAtomic } from "./atomic.ts";
 * const dir = await Deno.makeTempDir();
 * await writeFileAtomic(`${dir}/run.json`, '{"status":"running"}');
 * ```
 *
 * @module
 */
import { basename, dirname, join, relative } from "node:path";
import { confine, FsError, safeSegments } from "./confine.ts";

/** Matches the names {@linkcode tempPath} makes (and nothing a user would name a file). */
export const TEMP_NAME = /\.\d+\.[0-9a-f]{8}\.tmp$/;

/** Names older convdeck versions used for checkpoint temporaries (cleaned up as well). */
const LEGACY_TEMP_NAME = /(\.(tmp|old)-[0-9a-z]+-[0-9a-z]+$)|(^\..+\.tmp-[0-9a-z]+-[0-9a-z]+$)/;

/**
 * A fresh temporary path beside `path` (same folder, so the rename is atomic):
 * `<path>.<pid>.<8 hex>.tmp`.
 *
 * @example
 * ```ts
 * import { tempPath, TEMP_NAME } from "./atomic.ts";
 * console.log(TEMP_NAME.test(tempPath("runs/r/run.json"))); // true
 * ```
 */
export function tempPath(path: string): string {
  return `${path}.${Deno.pid}.${crypto.randomUUID().slice(0, 8)}.tmp`;
}

/**
 * Whether `name` is a temporary left by an atomic write (this scheme or an older one).
 *
 * @example
 * ```ts
 * import { isTempName } from "./atomic.ts";
 * console.log(isTempName("run.json.123.deadbeef.tmp"), isTempName("run.json")); // true false
 * ```
 */
export function isTempName(name: string): boolean {
  return TEMP_NAME.test(name) || LEGACY_TEMP_NAME.test(name);
}

/** Options of {@linkcode writeFileAtomic}. */
export interface AtomicWriteOptions {
  /** Flush the data to disk before the rename (default true). */
  sync?: boolean;
  /**
   * The existing folder the file belongs to (a run folder, a sweep folder, the cache): it must
   * exist (else {@linkcode FsError} 404, "the folder is gone"), and folders between it and the
   * file are created, none a symlink. Without it, the file's own folder must exist.
   */
  root?: string;
}

/**
 * Makes sure the folder `rel` below the existing folder `root` exists, creating the missing
 * folders one by one (each checked by the confinement policy: none may be a symlink). Throws
 * {@linkcode FsError} 404 when `root` itself is gone: it is never re-created.
 *
 * @example
 * ```ts
 * import { ensureDirUnder } from "./atomic.ts";
 * const run = await Deno.makeTempDir();
 * await ensureDirUnder(run, "checkpoints/resume");
 * ```
 */
export async function ensureDirUnder(root: string, rel: string): Promise<string> {
  try {
    await confine(root, "", "dir");
  } catch (err) {
    if (err instanceof FsError && err.status === 404) {
      throw new FsError(
        rel,
        `the folder ${basename(root)} is gone (deleted or moved while being written); ` +
          `nothing is re-created`,
        404,
      );
    }
    throw err;
  }
  let at = "";
  for (const seg of safeSegments(rel)) {
    at = at ? `${at}/${seg}` : seg;
    try {
      await confine(root, at, "dir");
    } catch (err) {
      if (!(err instanceof FsError && err.status === 404)) throw err;
      await Deno.mkdir(join(root, at)).catch((e) => {
        if (!(e instanceof Deno.errors.AlreadyExists)) throw e;
      });
      await confine(root, at, "dir");
    }
  }
  return join(root, at);
}

/** Makes sure the folder of `path` exists: below `root` see {@linkcode ensureDirUnder}. */
async function ensureParent(path: string, root: string | undefined): Promise<void> {
  const parent = dirname(path);
  if (root === undefined) {
    const st = await Deno.stat(parent).catch(() => null);
    if (!st?.isDirectory) {
      throw new FsError(basename(path), `the folder of ${basename(path)} is gone`, 404);
    }
    return;
  }
  const rel = relative(root, parent).split(/[\\/]/).filter((s) => s !== "").join("/");
  if (rel.startsWith("..")) {
    throw new FsError(basename(path), `${basename(path)} is outside its folder`, 400);
  }
  await ensureDirUnder(root, rel);
}

/**
 * Creates a new file at `path` (refusing to follow or replace anything already there) holding
 * `data`, flushed to disk unless `sync` is false. The building block of the atomic writes;
 * also for files inside a fresh temporary folder.
 *
 * @example
 * ```ts
 * import { writeNewFile } from "./atomic.ts";
 * const dir = await Deno.makeTempDir();
 * await writeNewFile(`${dir}/weights.bin`, new Uint8Array(8));
 * ```
 */
export async function writeNewFile(
  path: string,
  data: Uint8Array | string,
  options: { sync?: boolean } = {},
): Promise<void> {
  const bytes = typeof data === "string" ? new TextEncoder().encode(data) : data;
  const file = await Deno.open(path, { write: true, createNew: true });
  try {
    let off = 0;
    while (off < bytes.length) off += await file.write(bytes.subarray(off));
    if (options.sync ?? true) await file.syncData();
  } finally {
    file.close();
  }
}

/**
 * Writes `data` to `path` atomically: the bytes go to a temporary file in the same folder
 * ({@linkcode tempPath}), flushed to disk, then renamed over `path`. See
 * {@linkcode AtomicWriteOptions} for which folders are created.
 *
 * @example
 * ```ts
 * import { writeFileAtomic } from "./atomic.ts";
 * const run = await Deno.makeTempDir();
 * await writeFileAtomic(`${run}/viz/index.json`, "{}", { root: run, sync: false });
 * ```
 */
export async function writeFileAtomic(
  path: string,
  data: Uint8Array | string,
  options: AtomicWriteOptions = {},
): Promise<void> {
  await ensureParent(path, options.root);
  const tmp = tempPath(path);
  try {
    await writeNewFile(tmp, data, { sync: options.sync });
    await Deno.rename(tmp, path);
  } catch (err) {
    await Deno.remove(tmp).catch(() => {});
    throw err;
  }
}

/**
 * Writes a whole folder atomically: `fill` writes into a fresh temporary folder beside
 * `target`, which then replaces `target` (an older `target` is moved aside under a temporary
 * name and removed). A crash leaves the old folder or the new one, plus temporaries that
 * {@linkcode removeTemps} cleans up.
 *
 * @example
 * ```ts
 * import { writeDirAtomic, writeNewFile } from "./atomic.ts";
 * const run = await Deno.makeTempDir();
 * await writeDirAtomic(`${run}/checkpoints/best`, async (tmp) => {
 *   await writeNewFile(`${tmp}/weights.bin`, new Uint8Array(4));
 * }, { root: run });
 * ```
 */
export async function writeDirAtomic(
  target: string,
  fill: (tmpDir: string) => Promise<void>,
  options: { root?: string } = {},
): Promise<void> {
  await ensureParent(target, options.root);
  const tmp = tempPath(target);
  await Deno.mkdir(tmp);
  try {
    await fill(tmp);
    const old = await Deno.lstat(target).catch(() => null);
    if (old) {
      const aside = tempPath(target);
      await Deno.rename(target, aside);
      await Deno.rename(tmp, target);
      await Deno.remove(aside, { recursive: true });
    } else {
      await Deno.rename(tmp, target);
    }
  } catch (err) {
    await Deno.remove(tmp, { recursive: true }).catch(() => {});
    throw err;
  }
}

/**
 * Renames `from` to `to` (one atomic step, same file system), refusing when `to` exists; a
 * missing `from` is an {@linkcode FsError} (404). For moving whole folders (trash, restore,
 * quarantine) and setting lock files aside.
 *
 * @example
 * ```ts
 * import { moveEntry } from "./atomic.ts";
 * const dir = await Deno.makeTempDir();
 * await Deno.mkdir(`${dir}/a`);
 * await moveEntry(`${dir}/a`, `${dir}/b`);
 * ```
 */
export async function moveEntry(from: string, to: string): Promise<void> {
  if (await Deno.lstat(to).then(() => true, () => false)) {
    throw new FsError(basename(to), `${basename(to)} exists already`, 409);
  }
  try {
    await Deno.rename(from, to);
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) {
      throw new FsError(basename(from), `${basename(from)} does not exist`, 404);
    }
    throw err;
  }
}

/**
 * Creates `path` exclusively with `data` (flushed): `true` when this call created it, `false`
 * when it existed (another process holds it). The primitive of the lock files.
 *
 * @example
 * ```ts
 * import { createExclusive } from "./atomic.ts";
 * const dir = await Deno.makeTempDir();
 * console.log(await createExclusive(`${dir}/x.lock`, "me"), await createExclusive(`${dir}/x.lock`, "you"));
 * ```
 */
export async function createExclusive(path: string, data: string): Promise<boolean> {
  try {
    await writeNewFile(path, data);
    return true;
  } catch (err) {
    if (err instanceof Deno.errors.AlreadyExists) return false;
    throw err;
  }
}

/**
 * Makes a hard link `to` of the file `from` (fails when `to` exists): puts a lock file that
 * was set aside back without ever replacing a new one.
 *
 * @example
 * ```ts
 * import { linkBack } from "./atomic.ts";
 * const dir = await Deno.makeTempDir();
 * await Deno.writeTextFile(`${dir}/a`, "x");
 * console.log(await linkBack(`${dir}/a`, `${dir}/b`)); // true
 * ```
 */
export async function linkBack(from: string, to: string): Promise<boolean> {
  try {
    await Deno.link(from, to);
    return true;
  } catch {
    return false;
  }
}

/**
 * Removes the temporaries that interrupted atomic writes left in `dir` (files and folders
 * whose names {@linkcode isTempName} recognises); with `prefix`, only those of that file;
 * with `olderThanMs`, only those not touched for that long (another process may be writing
 * the younger ones). Returns how many went.
 *
 * @example
 * ```ts
 * import { removeTemps } from "./atomic.ts";
 * const dir = await Deno.makeTempDir();
 * await Deno.writeTextFile(`${dir}/run.json.1.deadbeef.tmp`, "{");
 * console.log(await removeTemps(dir)); // 1
 * ```
 */
export async function removeTemps(
  dir: string,
  options: { prefix?: string; olderThanMs?: number } = {},
): Promise<number> {
  let removed = 0;
  try {
    for await (const e of Deno.readDir(dir)) {
      if (!isTempName(e.name)) continue;
      if (options.prefix !== undefined && !e.name.startsWith(options.prefix)) continue;
      const path = join(dir, e.name);
      if (options.olderThanMs !== undefined) {
        const st = await Deno.lstat(path).catch(() => null);
        if (!st || Date.now() - (st.mtime?.getTime() ?? 0) < options.olderThanMs) continue;
      }
      await Deno.remove(path, { recursive: e.isDirectory }).then(() => removed++, () => {});
    }
  } catch (err) {
    if (!(err instanceof Deno.errors.NotFound)) throw err;
  }
  return removed;
}
