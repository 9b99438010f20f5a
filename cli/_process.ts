/**
 * What every command-line entry point shares: integer flag parsing and ending the process
 * with the command's exit code (after releasing the backends, whose worker threads would keep
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
