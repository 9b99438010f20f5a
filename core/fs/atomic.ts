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
 * It uses `node:` file APIs only, so it runs in Deno and in Node (the tracking client).
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
import {
  closeSync,
  constants,
  fdatasyncSync,
  openSync,
  renameSync,
  rmSync,
  unlinkSync,
  writeSync,
} from "node:fs";
import { link, lstat, mkdir, open, readdir, rename, rm, unlink } from "node:fs/promises";
import { basename, dirname, join, relative } from "node:path";
import process from "node:process";
import {
  confineSteps,
  FsError,
  type FsWalk,
  runSteps,
  runStepsSync,
  safeSegments,
} from "./confine.ts";
import { errorCode, plainFsError } from "./os_error.ts";

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
  return `${path}.${process.pid}.${crypto.randomUUID().slice(0, 8)}.tmp`;
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
export function ensureDirUnder(root: string, rel: string): Promise<string> {
  return runSteps(ensureDirSteps(root, rel));
}

/** The walk of {@linkcode ensureDirUnder}, for {@linkcode runSteps} or {@linkcode runStepsSync}. */
function* ensureDirSteps(root: string, rel: string): FsWalk<string> {
  try {
    yield* confineSteps(root, "", "dir");
  } catch (err) {
    throw rootGone(root, rel, err);
  }
  let at = "";
  for (const seg of safeSegments(rel)) {
    at = at ? `${at}/${seg}` : seg;
    try {
      yield* confineSteps(root, at, "dir");
      continue;
    } catch (err) {
      if (!(err instanceof FsError && err.status === 404)) throw err;
    }
    const made = yield { op: "mkdir", path: join(root, at) };
    if (made.err !== undefined && errorCode(made.err) !== "EEXIST") throw made.err;
    yield* confineSteps(root, at, "dir");
  }
  return join(root, at);
}

/**
 * Creates the folder `path` that the user named (the runs folder, a checkpoint path outside
 * any run) with its missing parents (`mkdir -p`); an existing folder is fine. Inside a run,
 * use {@linkcode ensureDirUnder}, which never re-creates the run.
 *
 * @example
 * ```ts
 * import { makeDirs } from "./atomic.ts";
 * await makeDirs(`${await Deno.makeTempDir()}/runs`);
 * ```
 */
export async function makeDirs(path: string): Promise<void> {
  try {
    await mkdir(path, { recursive: true });
  } catch (err) {
    throw plainFsError(err);
  }
}

/**
 * Creates the folder `path` (its parent must exist): `true` when this call created it,
 * `false` when it existed (two processes creating the same run id: only one gets it).
 *
 * @example
 * ```ts
 * import { makeDirExclusive } from "./atomic.ts";
 * const dir = `${await Deno.makeTempDir()}/run-1`;
 * console.log(await makeDirExclusive(dir), await makeDirExclusive(dir)); // true false
 * ```
 */
export async function makeDirExclusive(path: string): Promise<boolean> {
  try {
    await mkdir(path);
    return true;
  } catch (err) {
    if (errorCode(err) === "EEXIST") return false;
    throw plainFsError(err);
  }
}

/** The error for a root that failed its check: "gone" when it is missing. */
function rootGone(root: string, rel: string, err: unknown): unknown {
  if (err instanceof FsError && err.status === 404) {
    return new FsError(
      rel,
      `the folder ${basename(root)} is gone (deleted or moved while being written); ` +
        `nothing is re-created`,
      404,
    );
  }
  return err;
}

/** The folder of `path` relative to `root` (`/`-separated), refused when outside it. */
function parentBelow(path: string, root: string): string {
  const rel = relative(root, dirname(path)).split(/[\\/]/).filter((s) => s !== "").join("/");
  if (rel.startsWith("..")) {
    throw new FsError(basename(path), `${basename(path)} is outside its folder`, 400);
  }
  return rel;
}

function parentGone(path: string): FsError {
  return new FsError(basename(path), `the folder of ${basename(path)} is gone`, 404);
}

/**
 * The walk that makes sure the folder of `path` exists: below `root` see
 * {@linkcode ensureDirUnder}; without it, the folder must exist already.
 */
function* parentSteps(path: string, root: string | undefined): FsWalk<void> {
  if (root !== undefined) {
    yield* ensureDirSteps(root, parentBelow(path, root));
    return;
  }
  const seen = yield { op: "stat", path: dirname(path) };
  if (!seen.st?.isDirectory()) throw parentGone(path);
}

/** `open` flags of a new file: created exclusively, never through a symlink. */
const NEW_FILE = constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL |
  (constants.O_NOFOLLOW ?? 0);

function toBytes(data: Uint8Array | string): Uint8Array {
  return typeof data === "string" ? new TextEncoder().encode(data) : data;
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
  const bytes = toBytes(data);
  try {
    const file = await open(path, NEW_FILE, 0o666);
    try {
      let off = 0;
      while (off < bytes.length) {
        off += (await file.write(bytes, off, bytes.length - off)).bytesWritten;
      }
      if (options.sync ?? true) await file.datasync();
    } finally {
      await file.close();
    }
  } catch (err) {
    throw plainFsError(err);
  }
}

/** {@linkcode writeNewFile}, synchronously (always flushed). */
function writeNewFileSync(path: string, data: Uint8Array | string): void {
  const bytes = toBytes(data);
  try {
    const fd = openSync(path, NEW_FILE, 0o666);
    try {
      let off = 0;
      while (off < bytes.length) off += writeSync(fd, bytes, off, bytes.length - off);
      fdatasyncSync(fd);
    } finally {
      closeSync(fd);
    }
  } catch (err) {
    throw plainFsError(err);
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
  await runSteps(parentSteps(path, options.root));
  const tmp = tempPath(path);
  try {
    await writeNewFile(tmp, data, { sync: options.sync });
    await rename(tmp, path);
  } catch (err) {
    await rm(tmp, { force: true }).catch(() => {});
    throw plainFsError(err);
  }
}

/**
 * {@linkcode writeFileAtomic}, synchronously and always flushed: for exit handlers, which
 * cannot wait for promises.
 *
 * @example
 * ```ts
 * import { writeFileAtomicSync } from "./atomic.ts";
 * const run = Deno.makeTempDirSync();
 * writeFileAtomicSync(`${run}/run.json`, "{}\n", { root: run });
 * ```
 */
export function writeFileAtomicSync(
  path: string,
  data: Uint8Array | string,
  options: { root?: string } = {},
): void {
  runStepsSync(parentSteps(path, options.root));
  const tmp = tempPath(path);
  try {
    writeNewFileSync(tmp, data);
    renameSync(tmp, path);
  } catch (err) {
    try {
      rmSync(tmp, { force: true });
    } catch { /* best effort */ }
    throw plainFsError(err);
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
  await runSteps(parentSteps(target, options.root));
  const tmp = tempPath(target);
  await mkdir(tmp);
  try {
    await fill(tmp);
    const old = await lstat(target).catch(() => null);
    if (old) {
      const aside = tempPath(target);
      await rename(target, aside);
      await rename(tmp, target);
      await rm(aside, { recursive: true, force: true });
    } else {
      await rename(tmp, target);
    }
  } catch (err) {
    await rm(tmp, { recursive: true, force: true }).catch(() => {});
    throw plainFsError(err);
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
  if (await lstat(to).then(() => true, () => false)) {
    throw new FsError(basename(to), `${basename(to)} exists already`, 409);
  }
  try {
    await rename(from, to);
  } catch (err) {
    if (errorCode(err) === "ENOENT") {
      throw new FsError(basename(from), `${basename(from)} does not exist`, 404);
    }
    throw plainFsError(err);
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
    if (errorCode(err) === "EEXIST") return false;
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
    await link(from, to);
    return true;
  } catch {
    return false;
  }
}

/**
 * Removes the file `path` (a lock, a leftover); a missing one is no error. Returns whether
 * this call removed it.
 *
 * @example
 * ```ts
 * import { removeFile } from "./atomic.ts";
 * const dir = await Deno.makeTempDir();
 * await Deno.writeTextFile(`${dir}/x.lock`, "me");
 * console.log(await removeFile(`${dir}/x.lock`), await removeFile(`${dir}/x.lock`)); // true false
 * ```
 */
export async function removeFile(path: string): Promise<boolean> {
  try {
    await unlink(path);
    return true;
  } catch (err) {
    if (errorCode(err) === "ENOENT") return false;
    throw plainFsError(err);
  }
}

/**
 * {@linkcode removeFile}, synchronously (for exit handlers).
 *
 * @example
 * ```ts
 * import { removeFileSync } from "./atomic.ts";
 * console.log(removeFileSync(`${Deno.makeTempDirSync()}/none`)); // false
 * ```
 */
export function removeFileSync(path: string): boolean {
  try {
    unlinkSync(path);
    return true;
  } catch (err) {
    if (errorCode(err) === "ENOENT") return false;
    throw plainFsError(err);
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
    for (const e of await readdir(dir, { withFileTypes: true })) {
      const name = String(e.name);
      if (!isTempName(name)) continue;
      if (options.prefix !== undefined && !name.startsWith(options.prefix)) continue;
      const path = join(dir, name);
      if (options.olderThanMs !== undefined) {
        const st = await lstat(path).catch(() => null);
        if (!st || Date.now() - st.mtimeMs < options.olderThanMs) continue;
      }
      await rm(path, { recursive: e.isDirectory(), force: true }).then(() => removed++, () => {});
    }
  } catch (err) {
    if (errorCode(err) !== "ENOENT") throw err;
  }
  return removed;
}
