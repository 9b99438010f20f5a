/**
 * Operating-system errors the same way in Deno and Node: {@linkcode errorCode} reads the
 * POSIX code (`ENOENT`, `EEXIST` ...) that both `Deno.errors.*` and `node:fs` errors carry, so
 * a caller can tell a missing file apart from an existing one without naming a runtime's error classes.
 *
 * @example
 * ```ts
 * import { errorCode } from "./os_error.ts";
 * const err = await Deno.readFile("/no/such/file").catch((e) => e);
 * console.log(errorCode(err)); // "ENOENT"
 * ```
 *
 * @module
 */

/**
 * The POSIX code of an operating-system error (`"ENOENT"`, `"EEXIST"`, `"EACCES"` ...), or
 * `undefined` for any other value.
 *
 * @example
 * ```ts
 * import { errorCode } from "./os_error.ts";
 * console.log(errorCode(Object.assign(new Error("x"), { code: "EEXIST" }))); // "EEXIST"
 * ```
 */
export function errorCode(err: unknown): string | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  if (typeof code === "string") return code;
  // A Deno error made by hand (`new Deno.errors.NotFound(...)`) has a name but no code.
  return err instanceof Error ? CODE_OF_NAME[err.name] : undefined;
}

/** The code of each Deno error class that names one. */
const CODE_OF_NAME: Record<string, string> = {
  NotFound: "ENOENT",
  PermissionDenied: "EACCES",
  AlreadyExists: "EEXIST",
  IsADirectory: "EISDIR",
  NotADirectory: "ENOTDIR",
};

/**
 * An error with a POSIX `code`, as the operating system would raise it (e.g. `EISDIR` for a
 * folder given where a file is read).
 *
 * @example
 * ```ts
 * import { errorCode, osError } from "./os_error.ts";
 * console.log(errorCode(osError("EISDIR", "photos is a folder"))); // "EISDIR"
 * ```
 */
export function osError(code: string, message: string): Error & { code: string } {
  return Object.assign(new Error(message), { code });
}

/**
 * A `node:fs` error worded as Deno words it and without the path: `ENOSPC: no space left on
 * device, write '/x/y'` becomes `No space left on device (ENOSPC, write)`, so messages read
 * the same whichever API failed and never show an absolute path. Other values pass as they
 * are. Changes and returns `err`.
 *
 * @example
 * ```ts
 * import { plainFsError } from "./os_error.ts";
 * const err = Object.assign(new Error("ENOSPC: no space left on device, write"), { code: "ENOSPC" });
 * console.log((plainFsError(err) as Error).message); // "No space left on device (ENOSPC, write)"
 * ```
 */
export function plainFsError(err: unknown): unknown {
  const code = errorCode(err);
  if (!(err instanceof Error) || code === undefined) return err;
  const m = /^([A-Z0-9]+): (.*?)(?:, (\w+)(?: .*)?)?$/.exec(err.message);
  if (!m || m[1] !== code) return err;
  const text = m[2].charAt(0).toUpperCase() + m[2].slice(1);
  err.message = `${text} (${m[1]}${m[3] ? `, ${m[3]}` : ""})`;
  return err;
}
