/**
 * Collects a spawned child's stdout and stderr as text while it runs, for tests that watch its
 * output as it comes and check all of it once it has exited.
 *
 * @module
 */

/** What a child has written so far, and its end. */
export interface CollectedOutput {
  /** Its stdout so far. */
  out(): string;
  /** Its stderr so far. */
  err(): string;
  /** Its exit status, once both streams are read to the end. */
  done: Promise<Deno.CommandStatus>;
}

/** Reads `proc`'s piped stdout and stderr to the end as they come. */
export function collectOutput(proc: Deno.ChildProcess): CollectedOutput {
  let out = "", err = "";
  const reading = Promise.all([
    (async () => {
      for await (const c of proc.stdout.pipeThrough(new TextDecoderStream())) out += c;
    })(),
    (async () => {
      for await (const c of proc.stderr.pipeThrough(new TextDecoderStream())) err += c;
    })(),
  ]);
  return {
    out: () => out,
    err: () => err,
    done: Promise.all([proc.status, reading]).then(([s]) => s),
  };
}
