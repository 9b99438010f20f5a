/**
 * `deno task sweep-worker --queue redis://HOST:PORT [--runs DIR]`: takes trials of queued sweeps
 * (`deno task sweep SPEC --queue ...`) one at a time, runs them and reports back, until Ctrl-C.
 *
 * @module
 */
import { BACKEND_NAMES, type BackendName } from "../core/backend/select.ts";
import { DEFAULT_LOCK_MS, DEFAULT_QUEUE_NAME, runQueueWorker } from "../sweep/queue.ts";
import { TrialRefused } from "../sweep/trial.ts";
import { runAndExit } from "./_process.ts";
import { choiceFlag, FlagError, intFlag, parseFlags, runCommand } from "../core/flags.ts";
import { onInterrupt } from "./_interrupt.ts";

/** The `--help` text. */
export const HELP = `Usage: deno task sweep-worker --queue redis://HOST:PORT [options]

Takes trials from the queue one at a time and trains them into the runs folder, which must be
the same shared folder (e.g. NFS) for every worker and the sweep. A trial whose worker died is
handed to another worker by the queue and resumed from its resume point.

Options:
  --queue URL          redis://HOST:PORT (required)
  --queue-name NAME    the queue's name                        [default: ${DEFAULT_QUEUE_NAME}]
  --runs DIR           the shared runs folder                               [default: runs]
  --threads N          threads per trial                            [default: all cores]
  --backend NAME       ${BACKEND_NAMES.join("|")}                  [default: auto]
  --lock-ms N          a trial's queue lock, renewed while it runs; a dead worker's trial goes
                       to another worker after about 1.5 times this         [default: ${DEFAULT_LOCK_MS}]
  --max-trials N       exit after N trials                          [default: no limit]
  -h, --help           show this help

Ctrl-C interrupts the running trial (it saves a resume point and goes back on the queue).
Exit status: 0 stopped, 1 an error, 2 bad flags, 3 refused (other convdeck version or
experiment code than the sweep's).
`;

/** Parsed command line. */
export interface WorkerArgs {
  queue: string;
  queueName: string;
  runsDir: string;
  threads?: number;
  backend: BackendName;
  lockMs: number;
  maxTrials?: number;
  help: boolean;
}

/**
 * Parses `deno task sweep-worker` arguments.
 *
 * @example
 * ```ts
 * import { parseWorkerArgs } from "./sweep_worker.ts";
 * parseWorkerArgs(["--queue", "redis://127.0.0.1:6379"]).queueName; // "convdeck-sweep"
 * ```
 */
export function parseWorkerArgs(argv: string[]): WorkerArgs {
  const parsed = parseFlags(argv, {
    queue: { type: "string" },
    "queue-name": { type: "string" },
    runs: { type: "string" },
    threads: { type: "string" },
    backend: { type: "string" },
    "lock-ms": { type: "string" },
    "max-trials": { type: "string" },
    help: { type: "boolean", short: "h" },
  });
  const v = parsed.values;
  if (!v.help && !v.queue) throw new FlagError("--queue redis://HOST:PORT is required");
  if (v.queue !== undefined && !/^rediss?:\/\/[^/\s]+/.test(v.queue)) {
    throw new FlagError(`--queue takes redis://HOST:PORT, got "${v.queue}"`);
  }
  const backend = choiceFlag("--backend", v.backend, BACKEND_NAMES) ?? "auto";
  return {
    queue: v.queue ?? "",
    queueName: v["queue-name"] ?? DEFAULT_QUEUE_NAME,
    runsDir: v.runs ?? "runs",
    threads: intFlag("--threads", v.threads, { min: 1 }),
    backend,
    lockMs: intFlag("--lock-ms", v["lock-ms"], { min: 1000 }) ?? DEFAULT_LOCK_MS,
    maxTrials: intFlag("--max-trials", v["max-trials"], { min: 1 }),
    help: v.help ?? false,
  };
}

/**
 * Runs the CLI; returns the exit status.
 *
 * @example
 * ```ts ignore
 * import { main } from "./sweep_worker.ts";
 * Deno.exit(await main(["--queue", "redis://127.0.0.1:6379", "--runs", "/mnt/runs"]));
 * ```
 */
export function main(argv: string[]): Promise<number> {
  return runCommand(argv, {
    help: HELP,
    main: (argv) => work(parseWorkerArgs(argv)),
  });
}

async function work(args: WorkerArgs): Promise<number> {
  const controller = new AbortController();
  const stopListening = onInterrupt({
    first: () => {
      console.error(
        "\nstopping: the running trial saves a resume point and goes back on the queue",
      );
      controller.abort();
    },
    again: () => Deno.exit(130),
  });
  try {
    console.error(`worker ${Deno.pid}: waiting for trials on ${args.queue} (${args.queueName})`);
    const { trials } = await runQueueWorker({
      url: args.queue,
      queueName: args.queueName,
      runsDir: args.runsDir,
      threads: args.threads,
      backend: args.backend,
      lockMs: args.lockMs,
      maxTrials: args.maxTrials,
      signal: controller.signal,
    });
    console.error(`worker ${Deno.pid}: stopped after ${trials} trial(s)`);
    return 0;
  } catch (err) {
    if (err instanceof TrialRefused) {
      console.error(`refused: ${err.message}`);
      return 3;
    }
    console.error(`error: ${(err as Error).message}`);
    return 1;
  } finally {
    stopListening();
  }
}

if (import.meta.main) await runAndExit(main);
