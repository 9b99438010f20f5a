/**
 * What `--run`, `--resume` and the `RUN` arguments of `deno task runs` accept: a bare run id
 * (a folder of the runs folder, `--runs DIR`, default `runs`) or the path of a run folder;
 * and how every command shows a path: relative to the working directory, never absolute.
 * Private to `cli/`.
 *
 * @module
 */
import { isAbsolute, join, resolve } from "node:path";
import { FlagError } from "../core/flags.ts";
import { shownPath } from "../core/format/path.ts";

export { shownPath };

/** A run folder found from what the user gave. */
export interface RunRef {
  /** The run's id (its folder name). */
  id: string;
  /** Absolute path of the run folder. */
  dir: string;
  /** The folder as shown to users (relative to the working directory). */
  shown: string;
}

/** True when `ref` is written as a path rather than a bare id. */
function isPathRef(ref: string): boolean {
  return isAbsolute(ref) || /[/\\]/.test(ref) || ref === "." || ref === "..";
}

async function isDir(path: string): Promise<boolean> {
  const st = await Deno.lstat(path).catch(() => null);
  return st?.isDirectory ?? false;
}

/**
 * Finds the run folder `ref` names: a bare id is looked up in `runsDir` (then, failing that,
 * in the working directory); a path is taken as given. Throws an error naming `flag` when
 * there is no such folder (a failure, exit 1; an empty value is bad usage, exit 2); messages
 * show relative paths only.
 *
 * @example
 * ```ts ignore
 * import { resolveRun } from "./_run_ref.ts";
 * const run = await resolveRun("--run", "default-20261201-101010", "runs");
 * console.log(run.shown); // runs/default-20261201-101010
 * ```
 */
export async function resolveRun(flag: string, ref: string, runsDir = "runs"): Promise<RunRef> {
  const found = (dir: string): RunRef => {
    const abs = resolve(dir);
    return { id: abs.split(/[/\\]/).pop() ?? abs, dir: abs, shown: shownPath(abs) };
  };
  if (ref.trim() === "") throw new FlagError(`${flag} needs a run id or a run folder`);
  if (!isPathRef(ref)) {
    if (!ref.startsWith(".") && await isDir(join(runsDir, ref))) return found(join(runsDir, ref));
    if (await isDir(ref)) return found(ref);
    throw new Error(
      `${flag} ${ref}: no run ${ref} in ${shownPath(runsDir)} (give a run id from ` +
        `deno task runs list, --runs DIR for another runs folder, or the run's folder)`,
    );
  }
  if (await isDir(ref)) return found(ref);
  throw new Error(
    `${flag} ${shownPath(ref)}: no such run folder (give a run id or the path of a run folder)`,
  );
}
