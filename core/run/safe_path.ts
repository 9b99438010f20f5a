/**
 * Resolving paths that come from outside (a request, a command line) inside a root folder
 * without leaving it: no `..`, no absolute paths, no encoded characters, no symlink escapes.
 *
 * @example
 * ```ts
 * import { resolveInside } from "./safe_path.ts";
 * const dir = await resolveInside("runs", "default-20261201-101010").catch(() => undefined);
 * console.log(dir);
 * ```
 *
 * @module
 */
import { isAbsolute, join, sep } from "node:path";

/** A path that a request or caller asked for could not be resolved safely. */
export class UnsafePathError extends Error {
  /** `400` for a malformed or escaping path, `404` for a path that does not exist. */
  readonly status: 400 | 404;
  /** Creates the error (`400` unless told otherwise). */
  constructor(message: string, status: 400 | 404 = 400) {
    super(message);
    this.name = "UnsafePathError";
    this.status = status;
  }
}

/**
 * Checks one relative path (may contain `/`-separated segments) and returns its segments.
 * Rejects empty segments, `.` and `..`, backslashes, NUL, `%` (so no encoded slash or dot can
 * be decoded later) and absolute paths.
 */
export function safeSegments(part: string): string[] {
  if (typeof part !== "string" || part.length === 0) {
    throw new UnsafePathError("empty path");
  }
  if (isAbsolute(part) || /^[a-zA-Z]:/.test(part)) {
    throw new UnsafePathError(`absolute path not allowed: ${JSON.stringify(part)}`);
  }
  const segments = part.split("/");
  for (const s of segments) {
    if (s === "" || s === "." || s === "..") {
      throw new UnsafePathError(`path segment ${JSON.stringify(s)} not allowed in ${part}`);
    }
    if (/[\\\0%]/.test(s)) {
      throw new UnsafePathError(`character not allowed in path ${JSON.stringify(part)}`);
    }
  }
  return segments;
}

/**
 * Resolves `parts` inside `root` and returns the real (symlink-free) absolute path. Throws
 * {@link UnsafePathError} (status 400) for `..`, absolute paths, `%`-encoded characters,
 * backslashes, or a symlink whose target lies outside `root`; status 404 when the path does
 * not exist.
 *
 * @example
 * ```ts
 * import { resolveInside } from "./reader.ts";
 * const file = await resolveInside("runs", "tiny-20250101-000000", "viz/index.json");
 * console.log(file);
 * ```
 */
export async function resolveInside(root: string, ...parts: string[]): Promise<string> {
  const segments = parts.flatMap(safeSegments);
  let realRoot: string;
  try {
    realRoot = await Deno.realPath(root);
  } catch {
    throw new UnsafePathError(`runs directory ${root} does not exist`, 404);
  }
  const candidate = join(realRoot, ...segments);
  let real: string;
  try {
    real = await Deno.realPath(candidate);
  } catch {
    throw new UnsafePathError(`not found: ${segments.join("/")}`, 404);
  }
  if (real !== realRoot && !real.startsWith(realRoot.endsWith(sep) ? realRoot : realRoot + sep)) {
    throw new UnsafePathError(`path escapes the runs directory: ${segments.join("/")}`);
  }
  return real;
}
