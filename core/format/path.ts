/**
 * How every command shows a path to users: relative to the working directory, never absolute
 * (an absolute path leaks the machine's layout into logs and shared output).
 *
 * @example
 * ```ts
 * import { shownPath } from "./path.ts";
 * shownPath(Deno.cwd() + "/runs/x"); // "runs/x"
 * ```
 *
 * @module
 */
import { relative, resolve } from "node:path";

/**
 * `path` relative to `cwd` (default: the working directory), `.` for `cwd` itself, e.g.
 * `runs/default-20261201-101010` or `../elsewhere/runs/x`.
 *
 * @example
 * ```ts
 * import { shownPath } from "./path.ts";
 * shownPath("/data/runs/x", "/data"); // "runs/x"
 * ```
 */
export function shownPath(path: string, cwd: string = Deno.cwd()): string {
  return relative(cwd, resolve(cwd, path)) || ".";
}
