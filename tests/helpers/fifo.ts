/**
 * FIFOs for the special-file tests: {@linkcode makeFifo} creates one (with `mkfifo`), and
 * {@linkcode guardFifos} makes a regression fail instead of hang: after `ms` it opens each FIFO
 * for writing and closes it, which lets any reader blocked in `open` go on (to an empty read).
 *
 * @module
 */

/** Creates a FIFO at `path` with the `mkfifo` program. */
export async function makeFifo(path: string): Promise<string> {
  const { success, stderr } = await new Deno.Command("mkfifo", { args: [path] }).output();
  if (!success) throw new Error(`mkfifo ${path}: ${new TextDecoder().decode(stderr)}`);
  return path;
}

/**
 * After `ms`, unblocks readers of `paths` (opens each for writing for a moment). Returns the
 * function that cancels it; call it when the code under test has returned.
 */
export function guardFifos(paths: string[], ms = 8_000): () => void {
  const timer = setTimeout(() => {
    for (const p of paths) {
      new Deno.Command("timeout", {
        args: ["2", "sh", "-c", 'exec 3>"$1"; sleep 0.2', "sh", p],
        stdout: "null",
        stderr: "null",
      }).spawn();
    }
  }, ms);
  return () => clearTimeout(timer);
}
