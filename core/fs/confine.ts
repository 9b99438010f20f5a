/**
 * The one confinement policy for every file convdeck reads or writes below a root it was
 * given: a run folder, the runs folder (index, locks, trash), a sweep folder, the image cache.
 *
 * The policy:
 * - **names**: a path below the root is `/`-separated segments, none empty, `.` or `..`, none
 *   with a backslash, NUL or `%` (nothing encoded can be decoded later), never absolute;
 * - **symlinks**: the root itself may be one (the user named it); no component below it may
 *   be: every component is checked with `lstat` and a symlink is refused, wherever it points;
 * - **file types**: folders on the way must be folders, the target a regular file (or a
 *   folder when asked): FIFOs, devices and sockets are refused *before* any `open`, so
 *   opening never blocks;
 * - **sizes**: whole-file reads are capped by the caller ({@linkcode readConfined}) and read
 *   only the bytes the file had when checked, never "until end of file";
 * - **errors**: one class, {@linkcode FsError}, with an HTTP-like `status` and a message that
 *   names the path relative to the root, never an absolute path.
 *
 * Nothing here imports from the rest of `core/`: it is the lowest leaf. It uses `node:` file
 * APIs only, so the same policy runs in Deno and in Node (the tracking client's bundle).
 *
 * @example
 * ```ts
 * import { FsError, readConfinedText } from "./confine.ts";
 * const root = await Deno.makeTempDir();
 * await Deno.writeTextFile(`${root}/run.json`, "{}");
 * console.log(await readConfinedText(root, "run.json", 1024)); // "{}"
 * await readConfinedText(root, "../etc/passwd", 1024).catch((e) => {
 *   console.log(e instanceof FsError, e.status); // true 400
 * });
 * ```
 *
 * @module
 */
import {
  closeSync,
  constants,
  fstatSync,
  lstatSync,
  mkdirSync,
  openSync,
  readSync,
  type Stats,
  statSync,
  writeSync,
} from "node:fs";
import {
  type FileHandle,
  lstat,
  mkdir,
  open,
  readdir,
  realpath,
  stat as statPath,
} from "node:fs/promises";
import { isAbsolute, join } from "node:path";
import { errorCode, osError } from "./os_error.ts";

/** HTTP-like status of an {@linkcode FsError}: 400 refused, 404 missing, 409 conflict. */
export type FsErrorStatus = 400 | 404 | 409;

/**
 * A path below a confined root could not be used: refused by the policy (400), missing (404),
 * or in conflict with another process (409). The message names the path relative to the root,
 * never an absolute path.
 *
 * @example
 * ```ts
 * import { FsError } from "./confine.ts";
 * const err = new FsError("run.json", "run.json does not exist", 404);
 * console.log(err.status, err.rel); // 404 "run.json"
 * ```
 */
export class FsError extends Error {
  /** `404` when the path does not exist, `400` when it may not be used, `409` on a conflict. */
  readonly status: FsErrorStatus;
  /** The path relative to its root. */
  readonly rel: string;
  /** Creates the error for `rel` with the HTTP-like `status`. */
  constructor(rel: string, message: string, status: FsErrorStatus) {
    super(message);
    this.name = "FsError";
    this.rel = rel;
    this.status = status;
  }
}

/** What the target of a confined path must be. */
export type ConfinedKind = "file" | "dir" | "any";

/** Options of the confined operations. */
export interface ConfineOptions {
  /** Words for the root in messages, e.g. "a run" (the default), "a sweep folder". */
  scope?: string;
}

/**
 * Checks a `/`-separated path relative to a root and returns its segments (`[]` for `""`,
 * the root itself). Throws {@linkcode FsError} (400) for empty segments, `.`, `..`,
 * backslashes, NUL, `%` and absolute paths.
 *
 * @example
 * ```ts
 * import { safeSegments } from "./confine.ts";
 * console.log(safeSegments("viz/index.json")); // ["viz", "index.json"]
 * ```
 */
export function safeSegments(rel: string): string[] {
  if (typeof rel !== "string") throw new FsError(String(rel), "path not allowed", 400);
  if (rel === "") return [];
  if (isAbsolute(rel) || /^[a-zA-Z]:/.test(rel)) {
    throw new FsError(rel, `absolute path not allowed: ${JSON.stringify(rel)}`, 400);
  }
  const segments = rel.split("/");
  for (const s of segments) {
    if (s === "" || s === "." || s === "..") {
      throw new FsError(rel, `path segment ${JSON.stringify(s)} not allowed in ${rel}`, 400);
    }
    if (/[\\\0%]/.test(s)) {
      throw new FsError(rel, `character not allowed in path ${JSON.stringify(rel)}`, 400);
    }
  }
  return segments;
}

/**
 * A file opened by {@linkcode openConfined} or {@linkcode openConfinedAppend}: a `node:fs`
 * `FileHandle` (positional `read`, `write`, `stat`, `sync`, `close`), in Deno and Node.
 */
export type ConfinedFile = FileHandle;

/** What {@linkcode confine} found at a path (from `lstat`: a symlink is never followed). */
export interface ConfinedStat {
  /** A regular file. */
  isFile: boolean;
  /** A folder. */
  isDirectory: boolean;
  /** A symbolic link. */
  isSymlink: boolean;
  /** Size in bytes. */
  size: number;
  /** Last modification time. */
  mtime: Date | null;
}

function toStat(st: Stats): ConfinedStat {
  return {
    isFile: st.isFile(),
    isDirectory: st.isDirectory(),
    isSymlink: st.isSymbolicLink(),
    size: st.size,
    mtime: st.mtime ?? null,
  };
}

/** "a FIFO", "a device", ... for a `lstat` result that is neither file, folder nor symlink. */
function kindWord(st: Stats): string {
  if (st.isFIFO()) return "a FIFO";
  if (st.isCharacterDevice() || st.isBlockDevice()) return "a device";
  if (st.isSocket()) return "a socket";
  if (st.isDirectory()) return "a folder";
  if (st.isFile()) return "a file";
  return "a special file";
}

/** Flags every confined `open` adds: never follow a symlink, never block (on a FIFO). */
const SAFE_FLAGS = (constants.O_NOFOLLOW ?? 0) | (constants.O_NONBLOCK ?? 0);

/**
 * The policy for one path component (`lstat` result `st`, or the error lstat threw): returns
 * nothing when it may be used as `want`, else the {@linkcode FsError} to throw.
 */
function checkComponent(
  rel: string,
  st: Stats | undefined,
  err: unknown,
  want: ConfinedKind,
  scope: string,
): FsError | undefined {
  if (!st) {
    const code = errorCode(err);
    if (code === "ENOENT" || code === "ENOTDIR") {
      return new FsError(rel, `${rel} does not exist`, 404);
    }
    return new FsError(rel, `${rel} cannot be read (${code ?? (err as Error)?.name})`, 400);
  }
  if (st.isSymbolicLink()) {
    return new FsError(rel, `${rel} is refused: a symlink inside ${scope} is never followed`, 400);
  }
  const ok = want === "dir"
    ? st.isDirectory()
    : want === "file"
    ? st.isFile()
    : st.isFile() || st.isDirectory();
  if (ok) return undefined;
  const what = want === "dir" ? "folder" : want === "file" ? "file" : "file or folder";
  return new FsError(rel, `${rel} is refused: not a regular ${what} (${kindWord(st)})`, 400);
}

/** The check of the root itself (it may be a symlink the user made; it must be a folder). */
function checkRoot(st: Stats | undefined): FsError | undefined {
  if (!st) return new FsError("", `the folder does not exist`, 404);
  if (!st.isDirectory()) return new FsError("", `the folder is not a folder`, 400);
  return undefined;
}

/**
 * One file-system look or change a policy walk asks its driver for: `lstat` of a path
 * component, `stat` of the root (which may be a symlink), or `mkdir` of one folder. The walk
 * itself ({@linkcode confineSteps}) is written once; {@linkcode runSteps} and
 * {@linkcode runStepsSync} carry it out asynchronously or synchronously.
 */
export interface FsStep {
  /** What to do. */
  op: "lstat" | "stat" | "mkdir";
  /** On which path. */
  path: string;
}

/** What a {@linkcode FsStep} found: the stat, or the error the system raised. */
export interface FsStepResult {
  /** The `lstat`/`stat` result (absent after an error or a `mkdir`). */
  st?: Stats;
  /** The error, if the step failed. */
  err?: unknown;
}

/** A policy walk: yields the steps it needs, gets their results back, returns `T`. */
export type FsWalk<T> = Generator<FsStep, T, FsStepResult>;

/**
 * Carries out a policy walk with the asynchronous `node:fs` calls and returns its result.
 *
 * @example
 * ```ts
 * import { confineSteps, runSteps } from "./confine.ts";
 * const root = await Deno.makeTempDir();
 * console.log((await runSteps(confineSteps(root, "", "dir"))).stat.isDirectory); // true
 * ```
 */
export async function runSteps<T>(walk: FsWalk<T>): Promise<T> {
  let r = walk.next();
  while (!r.done) {
    const { op, path } = r.value;
    let res: FsStepResult;
    try {
      res = op === "mkdir"
        ? (await mkdir(path), {})
        : { st: op === "lstat" ? await lstat(path) : await statPath(path) };
    } catch (err) {
      res = { err };
    }
    r = walk.next(res);
  }
  return r.value;
}

/**
 * {@linkcode runSteps} with the synchronous `node:fs` calls: for exit handlers.
 *
 * @example
 * ```ts
 * import { confineSteps, runStepsSync } from "./confine.ts";
 * console.log(runStepsSync(confineSteps(Deno.makeTempDirSync(), "", "dir")).path);
 * ```
 */
export function runStepsSync<T>(walk: FsWalk<T>): T {
  let r = walk.next();
  while (!r.done) {
    const { op, path } = r.value;
    let res: FsStepResult;
    try {
      res = op === "mkdir"
        ? (mkdirSync(path), {})
        : { st: op === "lstat" ? lstatSync(path) : statSync(path) };
    } catch (err) {
      res = { err };
    }
    r = walk.next(res);
  }
  return r.value;
}

/**
 * The policy walk of {@linkcode confine} (see there), as steps for {@linkcode runSteps} or
 * {@linkcode runStepsSync}.
 *
 * @example
 * ```ts
 * import { confineSteps, runSteps } from "./confine.ts";
 * const { path } = await runSteps(confineSteps(await Deno.makeTempDir(), "", "dir"));
 * console.log(path);
 * ```
 */
export function* confineSteps(
  root: string,
  rel: string,
  kind: ConfinedKind = "file",
  options: ConfineOptions = {},
): FsWalk<{ path: string; stat: ConfinedStat }> {
  const parts = safeSegments(rel);
  const scope = options.scope ?? "a run";
  let path = root;
  let st: Stats | undefined;
  for (const [i, part] of parts.entries()) {
    path = join(path, part);
    const seen = yield { op: "lstat", path };
    st = seen.st;
    const refused = checkComponent(rel, st, seen.err, i === parts.length - 1 ? kind : "dir", scope);
    if (refused) throw refused;
  }
  if (!st) {
    st = (yield { op: "stat", path: root }).st;
    const refused = checkRoot(st);
    if (refused) throw refused;
  }
  return { path, stat: toStat(st!) };
}

/**
 * Checks `rel` below `root` by the policy (see the module doc): every folder on the way a real
 * folder, the target of `kind`, no symlink anywhere below the root. Returns the absolute path
 * and the target's `lstat`. Throws {@linkcode FsError}: 404 when something on the way is
 * missing, 400 when refused.
 *
 * @example
 * ```ts
 * import { confine } from "./confine.ts";
 * const root = await Deno.makeTempDir();
 * await Deno.mkdir(`${root}/viz`);
 * const { stat } = await confine(root, "viz", "dir");
 * console.log(stat.isDirectory); // true
 * ```
 */
export function confine(
  root: string,
  rel: string,
  kind: ConfinedKind = "file",
  options: ConfineOptions = {},
): Promise<{ path: string; stat: ConfinedStat }> {
  return runSteps(confineSteps(root, rel, kind, options));
}

/**
 * {@linkcode confine}, synchronously: for exit handlers, which cannot wait.
 *
 * @example
 * ```ts
 * import { confineSync } from "./confine.ts";
 * console.log(confineSync(Deno.makeTempDirSync(), "", "dir").stat.isDirectory); // true
 * ```
 */
export function confineSync(
  root: string,
  rel: string,
  kind: ConfinedKind = "file",
  options: ConfineOptions = {},
): { path: string; stat: ConfinedStat } {
  return runStepsSync(confineSteps(root, rel, kind, options));
}

/**
 * Whether `rel` below `root` exists as `kind` by the policy: `false` when it is missing,
 * throws {@linkcode FsError} (400) when it exists but is refused (a symlink, a FIFO ...).
 *
 * @example
 * ```ts
 * import { existsConfined } from "./confine.ts";
 * console.log(await existsConfined(await Deno.makeTempDir(), "state.json")); // false
 * ```
 */
export async function existsConfined(
  root: string,
  rel: string,
  kind: ConfinedKind = "file",
  options: ConfineOptions = {},
): Promise<boolean> {
  try {
    await confine(root, rel, kind, options);
    return true;
  } catch (err) {
    if (err instanceof FsError && err.status === 404) return false;
    throw err;
  }
}

/** The error of an `open` of a checked path, worded by the policy. */
function openError(rel: string, err: unknown, scope: string): unknown {
  const code = errorCode(err);
  if (code === "ELOOP") {
    return new FsError(rel, `${rel} is refused: a symlink inside ${scope} is never followed`, 400);
  }
  if (code === "ENOENT") return new FsError(rel, `${rel} does not exist`, 404);
  if (code === "ENXIO") return new FsError(rel, `${rel} is refused: not a regular file`, 400);
  return err;
}

/**
 * Opens a regular file below `root` for reading after {@linkcode confine}; the open never
 * follows a symlink and never blocks (`O_NOFOLLOW | O_NONBLOCK`), and the opened file is
 * checked again (a file swapped for a FIFO or a folder between the check and the open is
 * refused).
 *
 * @example
 * ```ts
 * import { openConfined } from "./confine.ts";
 * const root = await Deno.makeTempDir();
 * await Deno.writeTextFile(`${root}/a.txt`, "hi");
 * const f = await openConfined(root, "a.txt");
 * await f.close();
 * ```
 */
export async function openConfined(
  root: string,
  rel: string,
  options: ConfineOptions = {},
): Promise<ConfinedFile> {
  const { path } = await confine(root, rel, "file", options);
  return await openRegular(path, rel, constants.O_RDONLY, options.scope ?? "a run");
}

/**
 * Opens `path` with `flags` (plus `O_NOFOLLOW | O_NONBLOCK`) and checks the opened file is a
 * regular file (a path swapped for something else after its check is refused); `rel` names
 * it in messages.
 */
async function openRegular(
  path: string,
  rel: string,
  flags: number,
  scope: string,
): Promise<ConfinedFile> {
  let file: FileHandle;
  try {
    file = await open(path, flags | SAFE_FLAGS, 0o666);
  } catch (err) {
    throw openError(rel, err, scope);
  }
  const st = await file.stat().catch(async (err) => {
    await file.close();
    throw err;
  });
  if (!st.isFile()) {
    await file.close();
    throw new FsError(rel, `${rel} is refused: not a regular file (${kindWord(st)})`, 400);
  }
  return file;
}

/** {@linkcode openRegular}, synchronously; returns the file descriptor. */
function openRegularSync(path: string, rel: string, flags: number, scope: string): number {
  let fd: number;
  try {
    fd = openSync(path, flags | SAFE_FLAGS, 0o666);
  } catch (err) {
    throw openError(rel, err, scope);
  }
  let st: Stats;
  try {
    st = fstatSync(fd);
  } catch (err) {
    closeSync(fd);
    throw err;
  }
  if (!st.isFile()) {
    closeSync(fd);
    throw new FsError(rel, `${rel} is refused: not a regular file (${kindWord(st)})`, 400);
  }
  return fd;
}

/** The `open` flags of an append (see {@linkcode openConfinedAppend}). */
function appendFlags(read: boolean, create: boolean): number {
  return (read ? constants.O_RDWR : constants.O_WRONLY) | constants.O_APPEND |
    (create ? constants.O_CREAT : 0);
}

/**
 * Opens a file below `root` for appending (and reading when `read`), creating it when missing
 * (its folder must exist). An existing path must pass {@linkcode confine}.
 *
 * @example
 * ```ts
 * import { openConfinedAppend } from "./confine.ts";
 * const root = await Deno.makeTempDir();
 * const f = await openConfinedAppend(root, "events.jsonl");
 * await f.write(new TextEncoder().encode("{}\n"));
 * await f.close();
 * ```
 */
export async function openConfinedAppend(
  root: string,
  rel: string,
  options: ConfineOptions & { read?: boolean; create?: boolean } = {},
): Promise<ConfinedFile> {
  const segments = safeSegments(rel);
  const parent = segments.slice(0, -1).join("/");
  await confine(root, parent, "dir", options);
  const exists = await existsConfined(root, rel, "file", options);
  if (!exists && options.create === false) throw new FsError(rel, `${rel} does not exist`, 404);
  return await openRegular(
    join(root, ...segments),
    rel,
    appendFlags(options.read ?? false, options.create ?? true),
    options.scope ?? "a run",
  );
}

/**
 * Appends `data` to the file `rel` below `root` synchronously (created when missing, its
 * folder must exist), by the same policy as {@linkcode openConfinedAppend}: for exit
 * handlers, which cannot wait.
 *
 * @example
 * ```ts
 * import { appendConfinedSync } from "./confine.ts";
 * appendConfinedSync(Deno.makeTempDirSync(), "metrics.jsonl", '{"step":1}\n');
 * ```
 */
export function appendConfinedSync(
  root: string,
  rel: string,
  data: Uint8Array | string,
  options: ConfineOptions = {},
): void {
  const segments = safeSegments(rel);
  confineSync(root, segments.slice(0, -1).join("/"), "dir", options);
  try {
    confineSync(root, rel, "file", options);
  } catch (err) {
    if (!(err instanceof FsError && err.status === 404)) throw err;
  }
  const bytes = typeof data === "string" ? new TextEncoder().encode(data) : data;
  const fd = openRegularSync(
    join(root, ...segments),
    rel,
    appendFlags(false, true),
    options.scope ?? "a run",
  );
  try {
    let off = 0;
    while (off < bytes.length) off += writeSync(fd, bytes, off);
  } finally {
    closeSync(fd);
  }
}

/**
 * Reads a whole small file below `root` (a run.json, an index, a lock, a manifest, weights)
 * of at most `maxBytes` bytes; a larger file is refused (400) with its size and the limit.
 * Reads exactly the size the open file had, so a file that grows meanwhile cannot make it
 * read more.
 *
 * @example
 * ```ts
 * import { readConfined } from "./confine.ts";
 * const root = await Deno.makeTempDir();
 * await Deno.writeFile(`${root}/w.bin`, new Uint8Array(4));
 * console.log((await readConfined(root, "w.bin", 1 << 20)).length); // 4
 * ```
 */
export async function readConfined(
  root: string,
  rel: string,
  maxBytes: number,
  options: ConfineOptions = {},
): Promise<Uint8Array> {
  return readOpened(await openConfined(root, rel, options), rel, maxBytes);
}

/**
 * {@linkcode readConfined} decoded as UTF-8 text.
 *
 * @example
 * ```ts
 * import { readConfinedText } from "./confine.ts";
 * const root = await Deno.makeTempDir();
 * await Deno.writeTextFile(`${root}/note.txt`, "hello");
 * console.log(await readConfinedText(root, "note.txt", 100)); // "hello"
 * ```
 */
export async function readConfinedText(
  root: string,
  rel: string,
  maxBytes: number,
  options: ConfineOptions = {},
): Promise<string> {
  return new TextDecoder().decode(await readConfined(root, rel, maxBytes, options));
}

/**
 * {@linkcode readConfinedText}, synchronously: for exit handlers, which cannot wait.
 *
 * @example
 * ```ts
 * import { readConfinedTextSync } from "./confine.ts";
 * const root = Deno.makeTempDirSync();
 * Deno.writeTextFileSync(`${root}/heartbeat.json`, "{}");
 * console.log(readConfinedTextSync(root, "heartbeat.json", 4096)); // "{}"
 * ```
 */
export function readConfinedTextSync(
  root: string,
  rel: string,
  maxBytes: number,
  options: ConfineOptions = {},
): string {
  const { path } = confineSync(root, rel, "file", options);
  const fd = openRegularSync(path, rel, constants.O_RDONLY, options.scope ?? "a run");
  try {
    const size = fstatSync(fd).size;
    if (size > maxBytes) throw tooLarge(rel, size, maxBytes);
    const buf = new Uint8Array(size);
    let got = 0;
    while (got < size) {
      const n = readSync(fd, buf, got, size - got, got);
      if (n === 0) break;
      got += n;
    }
    return new TextDecoder().decode(buf.subarray(0, got));
  } finally {
    closeSync(fd);
  }
}

/**
 * Reads a whole file the user named (a path on a command line, not below a confined root: it
 * may be a symlink the user made) of at most `maxBytes` bytes. What it names must be a regular
 * file: a FIFO, a device or a socket is refused (400) before any `open`, so reading never
 * blocks and never runs without end. A missing file throws the system's `ENOENT` error, a
 * folder one with the code `EISDIR` (see `os_error.ts`'s `errorCode`).
 *
 * @example
 * ```ts
 * import { readUserFile } from "./confine.ts";
 * const dir = await Deno.makeTempDir();
 * await Deno.writeFile(`${dir}/cat.png`, new Uint8Array(3));
 * console.log((await readUserFile(`${dir}/cat.png`, 1 << 20)).length); // 3
 * ```
 */
export async function readUserFile(path: string, maxBytes: number): Promise<Uint8Array> {
  const st = await statPath(path);
  if (st.isDirectory()) throw osError("EISDIR", `${path} is a folder`);
  if (!st.isFile()) {
    throw new FsError(path, `${path} is refused: not a regular file (${kindWord(st)})`, 400);
  }
  // The user may name a symlink: follow it (no O_NOFOLLOW), but never block on what it is.
  let file: FileHandle;
  try {
    file = await open(path, constants.O_RDONLY | (constants.O_NONBLOCK ?? 0));
  } catch (err) {
    throw errorCode(err) === "ENXIO"
      ? new FsError(path, `${path} is refused: not a regular file`, 400)
      : err;
  }
  const opened = await file.stat();
  if (!opened.isFile()) {
    await file.close();
    throw new FsError(path, `${path} is refused: not a regular file (${kindWord(opened)})`, 400);
  }
  return readOpened(file, path, maxBytes);
}

function tooLarge(rel: string, size: number, maxBytes: number): FsError {
  return new FsError(
    rel,
    `${rel} is ${size} bytes, more than the ${maxBytes} bytes allowed for it`,
    400,
  );
}

/**
 * Reads the whole of an opened regular file (`rel` names it in messages), closing it: at most
 * `maxBytes` (else {@linkcode FsError} 400) and no more than its size at the start.
 */
async function readOpened(file: FileHandle, rel: string, maxBytes: number): Promise<Uint8Array> {
  try {
    const size = (await file.stat()).size;
    if (size > maxBytes) throw tooLarge(rel, size, maxBytes);
    const buf = new Uint8Array(size);
    let got = 0;
    while (got < size) {
      const { bytesRead } = await file.read(buf, got, size - got, got);
      if (bytesRead === 0) break;
      got += bytesRead;
    }
    return buf.subarray(0, got);
  } finally {
    await file.close();
  }
}

/** One entry of {@linkcode listConfined}. */
export interface ConfinedEntry {
  /** The entry's name. */
  name: string;
  /** A real folder (not a symlink to one). */
  isDirectory: boolean;
  /** A regular file (not a symlink to one). */
  isFile: boolean;
}

/**
 * The regular files and real folders of the folder `rel` below `root` (`""`: the root);
 * symlinks, FIFOs, devices and sockets are left out (and named in `skipped`). A missing folder
 * lists as empty; a refused one throws {@linkcode FsError}.
 *
 * @example
 * ```ts
 * import { listConfined } from "./confine.ts";
 * const root = await Deno.makeTempDir();
 * await Deno.mkdir(`${root}/a`);
 * const { entries } = await listConfined(root, "");
 * console.log(entries.map((e) => e.name)); // ["a"]
 * ```
 */
export async function listConfined(
  root: string,
  rel: string,
  options: ConfineOptions = {},
): Promise<{ entries: ConfinedEntry[]; skipped: string[] }> {
  let path: string;
  try {
    path = (await confine(root, rel, "dir", options)).path;
  } catch (err) {
    if (err instanceof FsError && err.status === 404) return { entries: [], skipped: [] };
    throw err;
  }
  const entries: ConfinedEntry[] = [];
  const skipped: string[] = [];
  try {
    for (const e of await readdir(path, { withFileTypes: true })) {
      const name = String(e.name);
      if (e.isSymbolicLink() || (!e.isFile() && !e.isDirectory())) skipped.push(name);
      else entries.push({ name, isDirectory: e.isDirectory(), isFile: e.isFile() });
    }
  } catch (err) {
    if (errorCode(err) === "ENOENT") return { entries: [], skipped: [] };
    throw err;
  }
  return { entries, skipped };
}

/**
 * Resolves `parts` (each a relative path from outside: a request, a command line) below
 * `root` by the policy and returns the absolute path of the existing file or folder (the
 * root resolved through `realpath`, nothing below it a symlink). Throws {@linkcode FsError}:
 * 400 for a malformed or refused path, 404 when it does not exist.
 *
 * @example
 * ```ts
 * import { resolveInside } from "./confine.ts";
 * const dir = await resolveInside("runs", "default-20261201-101010").catch(() => undefined);
 * console.log(dir);
 * ```
 */
export async function resolveInside(root: string, ...parts: string[]): Promise<string> {
  for (const p of parts) {
    if (p === "") throw new FsError("", "empty path", 400);
  }
  const rel = parts.flatMap(safeSegments).join("/");
  let realRoot: string;
  try {
    realRoot = await realpath(root);
  } catch {
    throw new FsError(rel, `the runs folder does not exist`, 404);
  }
  try {
    return (await confine(realRoot, rel, "any")).path;
  } catch (err) {
    if (err instanceof FsError && err.status === 404) {
      throw new FsError(rel, `not found: ${rel}`, 404);
    }
    throw err;
  }
}
