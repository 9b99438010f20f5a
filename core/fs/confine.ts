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
 * Nothing here imports from the rest of `core/`: it is the lowest leaf.
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
import { isAbsolute, join } from "node:path";

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

/** "a FIFO", "a device", ... for a `lstat` result that is neither file, folder nor symlink. */
function kindWord(st: Deno.FileInfo): string {
  if (st.isFifo) return "a FIFO";
  if (st.isCharDevice || st.isBlockDevice) return "a device";
  if (st.isSocket) return "a socket";
  if (st.isDirectory) return "a folder";
  if (st.isFile) return "a file";
  return "a special file";
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
export async function confine(
  root: string,
  rel: string,
  kind: ConfinedKind = "file",
  options: ConfineOptions = {},
): Promise<{ path: string; stat: Deno.FileInfo }> {
  const parts = safeSegments(rel);
  const scope = options.scope ?? "a run";
  let path = root;
  let stat: Deno.FileInfo | undefined;
  for (const [i, part] of parts.entries()) {
    path = join(path, part);
    try {
      stat = await Deno.lstat(path);
    } catch (err) {
      if (err instanceof Deno.errors.NotFound || err instanceof Deno.errors.NotADirectory) {
        throw new FsError(rel, `${rel} does not exist`, 404);
      }
      throw new FsError(rel, `${rel} cannot be read (${(err as Error).name})`, 400);
    }
    if (stat.isSymlink) {
      throw new FsError(rel, `${rel} is refused: a symlink inside ${scope} is never followed`, 400);
    }
    const last = i === parts.length - 1;
    const want: ConfinedKind = last ? kind : "dir";
    const ok = want === "dir"
      ? stat.isDirectory
      : want === "file"
      ? stat.isFile
      : stat.isFile || stat.isDirectory;
    if (!ok) {
      const what = want === "dir" ? "folder" : want === "file" ? "file" : "file or folder";
      throw new FsError(
        rel,
        `${rel} is refused: not a regular ${what} (${kindWord(stat)})`,
        400,
      );
    }
  }
  if (!stat) {
    try {
      stat = await Deno.stat(root);
    } catch {
      throw new FsError("", `the folder does not exist`, 404);
    }
    if (!stat.isDirectory) throw new FsError("", `the folder is not a folder`, 400);
  }
  return { path, stat };
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

/**
 * Opens a regular file below `root` for reading after {@linkcode confine}; the opened file is
 * checked again (a file swapped between the check and the open is refused; the `open` of a
 * FIFO is never attempted because the check comes first).
 *
 * @example
 * ```ts
 * import { openConfined } from "./confine.ts";
 * const root = await Deno.makeTempDir();
 * await Deno.writeTextFile(`${root}/a.txt`, "hi");
 * const f = await openConfined(root, "a.txt");
 * f.close();
 * ```
 */
export async function openConfined(
  root: string,
  rel: string,
  options: ConfineOptions = {},
): Promise<Deno.FsFile> {
  const { path } = await confine(root, rel, "file", options);
  return await openRegular(path, rel, { read: true });
}

/**
 * Opens `path` with `open` and checks the opened file is a regular file (a path swapped for
 * something else after its check is refused); `rel` names it in messages.
 */
async function openRegular(
  path: string,
  rel: string,
  open: Deno.OpenOptions,
): Promise<Deno.FsFile> {
  const file = await Deno.open(path, open);
  if (!(await file.stat()).isFile) {
    file.close();
    throw new FsError(rel, `${rel} is refused: not a regular file`, 400);
  }
  return file;
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
 * f.close();
 * ```
 */
export async function openConfinedAppend(
  root: string,
  rel: string,
  options: ConfineOptions & { read?: boolean; create?: boolean } = {},
): Promise<Deno.FsFile> {
  const segments = safeSegments(rel);
  const parent = segments.slice(0, -1).join("/");
  await confine(root, parent, "dir", options);
  const exists = await existsConfined(root, rel, "file", options);
  if (!exists && options.create === false) throw new FsError(rel, `${rel} does not exist`, 404);
  return await openRegular(join(root, ...segments), rel, {
    read: options.read ?? false,
    append: true,
    create: options.create ?? true,
  });
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
 * Reads a whole file the user named (a path on a command line, not below a confined root: it
 * may be a symlink the user made) of at most `maxBytes` bytes. What it names must be a regular
 * file: a FIFO, a device or a socket is refused (400) before any `open`, so reading never
 * blocks and never runs without end. A missing file throws `Deno.errors.NotFound` as
 * `Deno.readFile` does.
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
  const st = await Deno.stat(path);
  if (st.isDirectory) throw new Deno.errors.IsADirectory(`${path} is a folder`);
  if (!st.isFile) {
    throw new FsError(path, `${path} is refused: not a regular file (${kindWord(st)})`, 400);
  }
  return readOpened(await openRegular(path, path, { read: true }), path, maxBytes);
}

/**
 * Reads the whole of an opened regular file (`rel` names it in messages), closing it: at most
 * `maxBytes` (else {@linkcode FsError} 400) and no more than its size at the start.
 */
async function readOpened(file: Deno.FsFile, rel: string, maxBytes: number): Promise<Uint8Array> {
  try {
    const size = (await file.stat()).size;
    if (size > maxBytes) {
      throw new FsError(
        rel,
        `${rel} is ${size} bytes, more than the ${maxBytes} bytes allowed for it`,
        400,
      );
    }
    const buf = new Uint8Array(size);
    let got = 0;
    while (got < size) {
      const n = await file.read(buf.subarray(got));
      if (n === null) break;
      got += n;
    }
    return buf.subarray(0, got);
  } finally {
    file.close();
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
    for await (const e of Deno.readDir(path)) {
      if (e.isSymlink || (!e.isFile && !e.isDirectory)) skipped.push(e.name);
      else entries.push({ name: e.name, isDirectory: e.isDirectory, isFile: e.isFile });
    }
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return { entries: [], skipped: [] };
    throw err;
  }
  return { entries, skipped };
}

/**
 * Resolves `parts` (each a relative path from outside: a request, a command line) below
 * `root` by the policy and returns the absolute path of the existing file or folder (the
 * root resolved through `realPath`, nothing below it a symlink). Throws {@linkcode FsError}:
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
    realRoot = await Deno.realPath(root);
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
