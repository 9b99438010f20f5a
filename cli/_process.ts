/**
 * How every command-line entry point ends: with the command's exit code, after releasing the
 * backends, whose worker threads would keep the process alive. Flags, `--help` and the exit
 * codes of bad usage are `core/flags.ts`'s (`runCommand`). Private to `cli/`.
 *
 * @module
 */
import { releaseBackends } from "../core/backend/select.ts";

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
