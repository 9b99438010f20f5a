/**
 * `deno task sweep SPEC [--workers K]`: many runs from one spec, pruned early, K at a time on
 * this machine, or put on a Redis queue for `deno task sweep-worker` on any machine
 * (`--queue redis://HOST:PORT`). `--resume SWEEP_DIR` continues a sweep.
 *
 * @module
 */
import { relative, resolve } from "node:path";
import { BACKEND_NAMES, type BackendName } from "../core/backend/select.ts";
import { planSweep } from "../sweep/plan.ts";
import { createSweep, readSweep, readTrialStates, resetGoneTrials } from "../sweep/store.ts";
import { coreCount, runLocalSweep } from "../sweep/local.ts";
import { formatSummary, summarize, type SweepSummary } from "../sweep/summary.ts";
import { SpecError } from "../sweep/spec.ts";
import {
  checkRedis,
  DEFAULT_QUEUE_NAME,
  enqueueSweep,
  forgetSweep,
  removeTrialJobs,
  watchQueuedSweep,
} from "../sweep/queue.ts";
import { runAndExit } from "./_process.ts";
import { onInterrupt } from "./_interrupt.ts";
import { choiceFlag, FlagError, intFlag, parseFlags, runCommand } from "../core/flags.ts";

/** The `--help` text. */
export const HELP = `Usage: deno task sweep SPEC [options]
       deno task sweep --resume SWEEP_DIR [options]

Runs one trial (a normal run, in the runs folder) per point of the spec's search space, with
optional pruning, and records the sweep in SWEEPS/<sweep-id>/ (the spec, each trial's state).

Options:
  --workers K          trials at a time on this machine                      [default: 1]
  --threads N          threads per trial            [default: cores / workers, at least 1]
  --backend NAME       ${BACKEND_NAMES.join("|")}                  [default: auto]
  --runs DIR           where trial runs go   [default: runs; on --resume the sweep's own]
  --sweeps DIR         where sweep folders go                           [default: sweeps]
  --resume SWEEP_DIR   continue a sweep: finished trials are kept, interrupted ones resume
                       from their resume points, nothing runs twice
  --queue URL          redis://HOST:PORT: put the trials on a queue for sweep-worker
                       processes (on any machine sharing the runs folder) and follow them
  --queue-name NAME    the queue's name                          [default: ${DEFAULT_QUEUE_NAME}]
  --forget             with SPEC and --queue: remove the spec's sweep jobs from the queue
                       (finished, waiting; running ones are left to their workers)
  -h, --help           show this help

Ctrl-C stops cleanly (running trials save a resume point); with --queue it only stops
following the sweep (the workers go on). Exit status: 0 every trial finished, 1 an error,
2 bad flags or spec, 130 interrupted.
`;

/** Parsed command line. */
export interface SweepArgs {
  spec?: string;
  resume?: string;
  workers: number;
  threads?: number;
  backend: BackendName;
  /** `--runs` as given (absent: the sweep's stored folder on --resume, else `runs`). */
  runsDir?: string;
  sweepsDir: string;
  queue?: string;
  queueName: string;
  forget: boolean;
  help: boolean;
}

/**
 * Parses `deno task sweep` arguments; throws a clear error on bad flags.
 *
 * @example
 * ```ts
 * import { parseSweepArgs } from "./sweep.ts";
 * parseSweepArgs(["spec.json", "--workers", "2"]).workers; // 2
 * ```
 */
export function parseSweepArgs(argv: string[]): SweepArgs {
  const parsed = parseFlags(argv, {
    workers: { type: "string" },
    threads: { type: "string" },
    backend: { type: "string" },
    runs: { type: "string" },
    sweeps: { type: "string" },
    resume: { type: "string" },
    queue: { type: "string" },
    "queue-name": { type: "string" },
    forget: { type: "boolean" },
    help: { type: "boolean", short: "h" },
  }, { positionals: true });
  const v = parsed.values;
  const help = v.help ?? false;
  if (!help && parsed.positionals.length + (v.resume ? 1 : 0) !== 1) {
    throw new FlagError("give a spec file, or --resume SWEEP_DIR (one of the two)");
  }
  if (v.forget && (!v.queue || v.resume)) {
    throw new FlagError("--forget takes the spec and --queue redis://HOST:PORT (no --resume)");
  }
  const backend = choiceFlag("--backend", v.backend, BACKEND_NAMES) ?? "auto";
  if (v.queue !== undefined && !/^rediss?:\/\/[^/\s]+/.test(v.queue)) {
    throw new FlagError(`--queue takes redis://HOST:PORT, got "${v.queue}"`);
  }
  if (v.queue !== undefined && (v.workers !== undefined || v.threads !== undefined)) {
    throw new FlagError("--workers and --threads are for local sweeps; with --queue start workers");
  }
  return {
    spec: parsed.positionals[0],
    resume: v.resume,
    workers: intFlag("--workers", v.workers, { min: 1 }) ?? 1,
    threads: intFlag("--threads", v.threads, { min: 1 }),
    backend,
    runsDir: v.runs,
    sweepsDir: v.sweeps ?? "sweeps",
    queue: v.queue,
    queueName: v["queue-name"] ?? DEFAULT_QUEUE_NAME,
    forget: v.forget ?? false,
    help,
  };
}

/** A live summary on stderr: rewritten in place on a terminal, one line per change otherwise. */
function liveLine(): { show: (s: SweepSummary) => void; end: () => void } {
  const tty = Deno.stderr.isTerminal();
  let last = "";
  const enc = new TextEncoder();
  return {
    show(s) {
      const line = formatSummary(s);
      if (line === last) return;
      last = line;
      Deno.stderr.writeSync(enc.encode(tty ? `\r\x1b[K${line}` : `${line}\n`));
    },
    end() {
      if (tty && last) Deno.stderr.writeSync(enc.encode("\n"));
    },
  };
}

/**
 * Runs the CLI; returns the exit status.
 *
 * @example
 * ```ts ignore
 * import { main } from "./sweep.ts";
 * Deno.exit(await main(["spec.json", "--workers", "2"]));
 * ```
 */
export function main(argv: string[]): Promise<number> {
  return runCommand(argv, {
    help: HELP,
    main: (argv) => sweep(parseSweepArgs(argv)),
    isUsageError: (err) => err instanceof SpecError,
  });
}

async function sweep(args: SweepArgs): Promise<number> {
  const controller = new AbortController();
  const stopListening = onInterrupt({
    first: () => {
      console.error(
        args.queue
          ? "\nCtrl-C: no longer following the sweep (the workers go on)"
          : "\nCtrl-C: stopping the running trials after their current batch (again: quit now)",
      );
      controller.abort();
    },
    again: () => Deno.exit(130),
  });
  const started = performance.now();
  const live = liveLine();
  let sweepDir: string | undefined;
  let runsDir = args.runsDir ?? "runs";
  try {
    if (args.forget) return await forget(args);
    if (args.resume) {
      const { dir, record } = await readSweep(args.resume);
      if (record.queue && !args.queue) {
        // Its trials may be on workers right now: running them here too could start a trial twice.
        throw new Error(
          `sweep ${record.id} runs on the queue "${record.queue}"; follow it with ` +
            `--resume ${args.resume} --queue redis://HOST:PORT (and start workers)`,
        );
      }
      if (!record.queue && args.queue) {
        throw new Error(
          `sweep ${record.id} is a local sweep; resume it without --queue (or sweep the spec ` +
            `again under another name with --queue)`,
        );
      }
      sweepDir = dir;
      runsDir = args.runsDir ?? record.runsDir ?? "runs";
      if (args.runsDir && record.runsDir && resolve(args.runsDir) !== record.runsDir) {
        console.error(
          `note: the sweep was started with --runs ${record.runsDir}; using ${runsDir}`,
        );
      }
    } else {
      let record;
      try {
        record = { ...await planSweep(args.spec!), runsDir: resolve(runsDir) };
        if (args.queue) record = { ...record, queue: args.queueName };
      } catch (err) {
        console.error(`error: ${(err as Error).message}`);
        return err instanceof SpecError ? 2 : 1;
      }
      if (args.queue) await checkRedis(args.queue); // nothing is created if Redis is not there
      sweepDir = await createSweep(args.sweepsDir, record).catch(async (err) => {
        // Re-enqueueing the same spec is a no-op on the queue: follow the existing sweep.
        if (args.queue && err instanceof Error && /exists/.test(err.message)) {
          const existing = await readSweep(`${args.sweepsDir}/${record.id}`);
          if (!existing.record.queue) {
            throw new Error(`${err.message} (as a local sweep, without --queue)`);
          }
          return existing.dir;
        }
        throw err;
      });
      console.error(
        `sweep ${record.id}: ${record.trials.length} trials of ${record.spec.experiment} ` +
          `(${record.spec.method}${
            record.spec.pruner ? `, ${record.spec.pruner.type} pruning` : ""
          }` +
          `), folder ${relative(Deno.cwd(), sweepDir) || sweepDir}`,
      );
    }
    const gone = await resetGoneTrials(sweepDir, (await readSweep(sweepDir)).record);
    if (gone.length) {
      console.error(`trial(s) ${gone.join(", ")}: their runs were deleted; training them again`);
    }
    let summary: SweepSummary;
    if (args.queue) {
      const { record } = await readSweep(sweepDir);
      await checkRedis(args.queue);
      const states = await readTrialStates(sweepDir, record);
      await removeTrialJobs(args.queue, args.queueName, record, gone);
      const added = await enqueueSweep(args.queue, args.queueName, record, states);
      console.error(
        `queue ${args.queueName} at ${args.queue}: ${added} trial(s) added, ` +
          `${record.trials.length - added} already there or finished; start workers with ` +
          `deno task sweep-worker --queue ${args.queue} --runs <shared runs folder>`,
      );
      summary = await watchQueuedSweep({
        url: args.queue,
        queueName: args.queueName,
        sweepDir,
        signal: controller.signal,
        onChange: (s) => live.show(s),
        onLost: (keys) =>
          console.error(
            `\nRedis lost the jobs of ${keys.join(", ")} (restarted without persistence?): ` +
              `added again`,
          ),
      });
    } else {
      const threads = args.threads ?? Math.max(1, Math.floor(coreCount() / args.workers));
      console.error(
        `${args.workers} worker(s), ${threads} thread(s) each (${coreCount()} cores)`,
      );
      summary = await runLocalSweep({
        sweepDir,
        runsDir,
        workers: args.workers,
        threads,
        backend: args.backend,
        signal: controller.signal,
        onChange: (s) => live.show(s),
      });
    }
    live.end();
    const rel = relative(Deno.cwd(), sweepDir) || sweepDir;
    const secs = ((performance.now() - started) / 1000).toFixed(1);
    console.log(formatSummary(summary));
    console.log(
      `  epochs trained ${summary.epochsTrained}, saved by pruning ${summary.epochsSavedByPruning}` +
        `; wall time ${secs} s`,
    );
    if (summary.best?.runDir) console.log(`  best run: ${summary.best.runDir}`);
    if (summary.done < summary.total) {
      console.log(`  continue it:  ${sweepResumeCommand(rel, runsDir, args.queue)}`);
      return controller.signal.aborted ? 130 : 1;
    }
    return 0;
  } catch (err) {
    live.end();
    console.error(`error: ${(err as Error).message}`);
    if (sweepDir && args.queue) {
      const rel = relative(Deno.cwd(), sweepDir) || sweepDir;
      console.error(`  continue it:  ${sweepResumeCommand(rel, runsDir, args.queue)}`);
    }
    return 1;
  } finally {
    stopListening();
  }
}

/** `--forget`: removes the spec's sweep jobs from the queue. */
async function forget(args: SweepArgs): Promise<number> {
  let id: string;
  try {
    id = (await planSweep(args.spec!)).id;
  } catch (err) {
    console.error(`error: ${(err as Error).message}`);
    return err instanceof SpecError ? 2 : 1;
  }
  await checkRedis(args.queue!);
  const { removed, running } = await forgetSweep(args.queue!, args.queueName, id);
  console.log(
    `sweep ${id}: ${removed} job(s) removed from the queue ${args.queueName}` +
      (running ? `; ${running} running on workers were left (stop those workers first)` : ""),
  );
  return running ? 1 : 0;
}

/**
 * The command that continues a sweep: its folder, its runs folder and, for a queued sweep, the
 * queue (paths relative to the current folder when inside it).
 *
 * @example
 * ```ts
 * import { sweepResumeCommand } from "./sweep.ts";
 * sweepResumeCommand("sweeps/lr-1a2b3c4d", "/tmp/r"); // "deno task sweep --resume sweeps/lr-1a2b3c4d --runs /tmp/r"
 * ```
 */
export function sweepResumeCommand(sweepDir: string, runsDir: string, queue?: string): string {
  const rel = relative(Deno.cwd(), resolve(runsDir));
  const runs = rel === "" ? "." : rel.startsWith("..") ? resolve(runsDir) : rel;
  return `deno task sweep --resume ${sweepDir} --runs ${runs}${queue ? ` --queue ${queue}` : ""}`;
}

/**
 * The final states of a sweep folder, for scripts.
 *
 * @example
 * ```ts ignore
 * import { sweepStates } from "./sweep.ts";
 * console.log((await sweepStates("sweeps/lr-1a2b3c4d")).counts);
 * ```
 */
export async function sweepStates(sweepDir: string): Promise<SweepSummary> {
  const { dir, record } = await readSweep(sweepDir);
  return summarize(record, await readTrialStates(dir, record));
}

if (import.meta.main) await runAndExit(main);
