/**
 * Opening files inside a run directory without leaving it: every path component below the
 * run folder is checked with `lstat`, symlinks and anything that is not a regular file (FIFOs,
 * devices, sockets) are refused before any `open`, and reads are capped. Private to
 * `core/run/`.
 *
 * @module
 */
import { join } from "node:path";

/** A run file could not be read safely; `status` says whether it is missing (404) or refused. */
export class RunFileError extends Error {
  /** `404` when the file does not exist, `400` when it exists but may not be read. */
  readonly status: 400 | 404;
  /** The path relative to the run directory. */
  readonly rel: string;
  /** Creates the error for `rel` with the HTTP-like `status`. */
  constructor(rel: string, message: string, status: 400 | 404) {
    super(message);
    this.name = "RunFileError";
    this.rel = rel;
    this.status = status;
  }
}

/**
 * Checks `rel` (`/`-separated, relative to `runDir`): each folder on the way must be a real
 * folder and the last component a regular file (or a folder when `kind` is `"dir"`), none of
 * them a symlink. Returns the absolute path and the `lstat` of the target.
 */
export async function checkRunPath(
  runDir: string,
  rel: string,
  kind: "file" | "dir" = "file",
): Promise<{ path: string; stat: Deno.FileInfo }> {
  const parts = rel.split("/").filter((p) => p !== "");
  if (parts.some((p) => p === "." || p === ".." || p.includes("\\") || p.includes("\0"))) {
    throw new RunFileError(rel, `${rel}: path not allowed`, 400);
  }
  let path = runDir;
  let stat: Deno.FileInfo | undefined;
  for (const [i, part] of parts.entries()) {
    path = join(path, part);
    try {
      stat = await Deno.lstat(path);
    } catch (err) {
      if (err instanceof Deno.errors.NotFound || err instanceof Deno.errors.NotADirectory) {
        throw new RunFileError(rel, `${rel} does not exist`, 404);
      }
      throw new RunFileError(rel, `${rel} cannot be read (${(err as Error).name})`, 400);
    }
    if (stat.isSymlink) {
      throw new RunFileError(
        rel,
        `${rel} is refused: a symlink inside a run is never followed`,
        400,
      );
    }
    const last = i === parts.length - 1;
    const wantDir = !last || kind === "dir";
    if (wantDir ? !stat.isDirectory : !stat.isFile) {
      throw new RunFileError(
        rel,
        `${rel} is refused: not a regular ${wantDir ? "folder" : "file"}`,
        400,
      );
    }
  }
  if (!stat) {
    stat = await Deno.lstat(runDir);
  }
  return { path, stat };
}

/**
 * Opens a regular file of a run for reading after {@link checkRunPath}; the opened file is
 * checked again (so a file swapped for a FIFO or symlink between the check and the open is
 * refused too: `open` of a FIFO is never attempted because the check comes first).
 */
export async function openRunFile(runDir: string, rel: string): Promise<Deno.FsFile> {
  const { path } = await checkRunPath(runDir, rel);
  const file = await Deno.open(path, { read: true });
  const st = await file.stat();
  if (!st.isFile) {
    file.close();
    throw new RunFileError(rel, `${rel} is refused: not a regular file`, 400);
  }
  return file;
}

/**
 * Reads a whole small run file (run.json, an index, a report) of at most `maxBytes` bytes;
 * a larger file is refused with a message giving its size and the limit.
 */
export async function readSmallRunFile(
  runDir: string,
  rel: string,
  maxBytes: number,
): Promise<Uint8Array> {
  const file = await openRunFile(runDir, rel);
  try {
    const size = (await file.stat()).size;
    if (size > maxBytes) {
      throw new RunFileError(
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

/** {@link readSmallRunFile} decoded as UTF-8 text. */
export async function readSmallRunText(
  runDir: string,
  rel: string,
  maxBytes: number,
): Promise<string> {
  return new TextDecoder().decode(await readSmallRunFile(runDir, rel, maxBytes));
}
