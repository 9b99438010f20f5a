/**
 * What every command-line entry point shares: integer flag parsing, the bad-flags and `--help`
 * exits, and ending the process with the command's exit code (after releasing the backends, whose worker threads would keep
 * it alive). Private to `cli/`.
 *
 * @module
 */
import { releaseBackends } from "../core/backend/select.ts";

/** An integer flag `>= min`, or `undefined` when absent; throws naming the flag otherwise. */
export function intFlag(flag: string, v: string | undefined, min: number): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (v.trim() === "" || !Number.isInteger(n) || n < min) {
    throw new Error(`${flag} must be an integer >= ${min}, got "${v}"`);
  }
  return n;
}

/**
 * Parses `argv` with `parse`. Bad flags print `error: <why>` and give exit code 2; `--help`
 * (when `isHelp` says so) prints `help` and gives 0; else the parsed arguments.
 */
export function parseCli<T>(
  argv: string[],
  parse: (argv: string[]) => T,
  isHelp: (args: T) => boolean,
  help: string,
): T | number {
  let args: T;
  try {
    args = parse(argv);
  } catch (err) {
    console.error(`error: ${(err as Error).message}`);
    return 2;
  }
  if (isHelp(args)) {
    console.log(help);
    return 0;
  }
  return args;
}

/** Runs `main` with the process arguments and exits with its code, backends released first. */
export async function runAndExit(main: (argv: string[]) => Promise<number>): Promise<never> {
  const code = await main(Deno.args);
  try {
    // The wasm backend's worker threads (shared by native) would keep the process alive.
    releaseBackends();
  } finally {
    Deno.exit(code);
  }
}
