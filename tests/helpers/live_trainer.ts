/**
 * A real training process (tests/helpers/train_child.ts) started and waited for until its
 * second epoch begins, so its run folder exists, holds a finished epoch, and is live.
 *
 * @module
 */
import { fileURLToPath } from "node:url";
import { readUntil } from "./read_until.ts";

const CHILD = fileURLToPath(new URL("./train_child.ts", import.meta.url));

/** A live training process and its run folder. */
export interface LiveTrainer {
  /** The process (kill it, then await `status`). */
  child: Deno.ChildProcess;
  /** Its stdout, still open (cancel it when done). */
  reader: ReadableStreamDefaultReader<string>;
  /** Its run folder. */
  dir: string;
  /** All it writes to stderr (when asked for with `keepStderr`; else it goes nowhere). */
  stderr?: Promise<string>;
}

/**
 * Starts `epochs` epochs into `runsDir`, each batch lasting `batchMs` more; waits for epoch 2.
 * With `keepStderr`, the process's stderr is collected into `stderr`.
 */
export async function startLiveTrainer(
  runsDir: string,
  epochs: number,
  batchMs: number,
  keepStderr = false,
): Promise<LiveTrainer> {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", CHILD, runsDir, String(epochs)],
    env: { CHILD_BATCH_MS: String(batchMs) },
    stdout: "piped",
    stderr: keepStderr ? "piped" : "null",
  }).spawn();
  const stderr = keepStderr ? new Response(child.stderr).text() : undefined;
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  const { out } = await readUntil(reader, /BEGIN 1/);
  const dir = /RUN (\S+)/.exec(out)?.[1];
  if (!dir) throw new Error(`the training process printed no run folder: ${out}`);
  return { child, reader, dir, stderr };
}
