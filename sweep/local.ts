/**
 * Runs a sweep on this machine: up to `workers` trials at a time, each in its own process
 * (`sweep/trial_main.ts`, so tfjs state and threads are per trial), the cores shared among
 * them. The controller is the one writer of the sweep folder's trial states. Aborting (Ctrl-C)
 * interrupts the running trials after their current batch (each saves a resume point and its
 * run ends `stopped`) and starts nothing new; running again over the same sweep folder skips
 * finished trials and resumes interrupted ones from their resume points.
 *
 * @example
 * ```ts ignore
 * import { runLocalSweep } from "./local.ts";
 * const summary = await runLocalSweep({ sweepDir: "sweeps/default-1a2b3c4d", runsDir: "runs", workers: 2 });
 * console.log(summary.counts);
 * ```
 *
 * @module
 */
import { hostname } from "node:os";
import { fileURLToPath } from "node:url";
import type { BackendName } from "../core/backend/select.ts";
import {
  FINISHED,
  readSweep,
  readTrialStates,
  type SweepRecord,
  type TrialState,
  writeTrialState,
} from "./store.ts";
import type { TrialOutcome } from "./trial.ts";
import { summarize, type SweepSummary } from "./summary.ts";

const TRIAL_MAIN = fileURLToPath(new URL("./trial_main.ts", import.meta.url));

/** Options of {@link runLocalSweep}. */
export interface LocalSweepOptions {
  /** The sweep folder (created by `createSweep`). */
  sweepDir: string;
  /** The runs folder. */
  runsDir: string;
  /** Trials at a time (default 1). */
  workers?: number;
  /** Threads per trial (default: the cores divided among the workers, at least 1). */
  threads?: number;
  /** tfjs backend of the trials (default `auto`). */
  backend?: BackendName;
  /** Aborting interrupts the running trials and starts no new one. */
  signal?: AbortSignal;
  /** Called on every change of a trial's state, with the whole sweep's summary. */
  onChange?: (summary: SweepSummary, states: readonly TrialState[]) => void;
  /** Extra environment for the trial processes. */
  env?: Record<string, string>;
}

/**
 * The cores of this machine.
 *
 * @example
 * ```ts
 * import { coreCount } from "./local.ts";
 * const threadsPerWorker = Math.max(1, Math.floor(coreCount() / 2));
 * ```
 */
export function coreCount(): number {
  return navigator.hardwareConcurrency || 1;
}

/**
 * Runs (or continues) a sweep locally; resolves when every trial is finished or on abort.
 *
 * @example
 * ```ts ignore
 * import { runLocalSweep } from "./local.ts";
 * const ac = new AbortController();
 * Deno.addSignalListener("SIGINT", () => ac.abort());
 * const s = await runLocalSweep({ sweepDir: "sweeps/lr-1a2b3c4d", runsDir: "runs", workers: 2, signal: ac.signal });
 * console.log(`${s.done}/${s.total} done`);
 * ```
 */
export async function runLocalSweep(o: LocalSweepOptions): Promise<SweepSummary> {
  const { dir, record } = await readSweep(o.sweepDir);
  const workers = Math.max(1, o.workers ?? 1);
  const threads = o.threads ?? Math.max(1, Math.floor(coreCount() / workers));
  const states = await readTrialStates(dir, record);
  const emit = () => o.onChange?.(summarize(record, states), states);
  // Interrupted trials first (they have a run to resume), then the pending ones, in order.
  const todo = states
    .filter((s) => !FINISHED.includes(s.status))
    .sort((a, b) =>
      Number(a.status === "pending") - Number(b.status === "pending") || a.index - b.index
    );
  const update = async (i: number, patch: Partial<TrialState>) => {
    states[i] = { ...states[i], ...patch, updatedAt: new Date().toISOString() };
    await writeTrialState(dir, states[i]);
    emit();
  };
  emit();
  const running = new Set<Deno.ChildProcess>();
  const onAbort = () => {
    for (const child of running) {
      try {
        child.kill("SIGTERM");
      } catch { /* already gone */ }
    }
  };
  o.signal?.addEventListener("abort", onAbort);
  const next = async (): Promise<void> => {
    for (;;) {
      if (o.signal?.aborted) return;
      const s = todo.shift();
      if (!s) return;
      const i = s.index;
      await runOne(record, dir, i, states[i].attempts, { ...o, threads }, running, update);
    }
  };
  try {
    await Promise.all(Array.from({ length: workers }, () => next()));
  } finally {
    o.signal?.removeEventListener("abort", onAbort);
  }
  return summarize(record, states);
}

async function runOne(
  record: SweepRecord,
  dir: string,
  i: number,
  attempts: number,
  o: LocalSweepOptions & { threads: number },
  running: Set<Deno.ChildProcess>,
  update: (i: number, patch: Partial<TrialState>) => Promise<void>,
): Promise<void> {
  const trial = record.trials[i];
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      TRIAL_MAIN,
      dir,
      trial.key,
      o.runsDir,
      String(o.threads),
      o.backend ?? "auto",
    ],
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    env: o.env,
  }).spawn();
  running.add(child);
  const worker = `${hostname()}:${child.pid}`;
  await update(i, { status: "running", attempts: attempts + 1, worker, reason: undefined });
  let outcome: TrialOutcome | undefined;
  let error: string | undefined;
  let busy = false;
  let stderrTail = "";
  const stderr = (async () => {
    for await (const chunk of child.stderr.pipeThrough(new TextDecoderStream())) {
      stderrTail = (stderrTail + chunk).slice(-2000);
    }
  })();
  let buf = "";
  for await (const chunk of child.stdout.pipeThrough(new TextDecoderStream())) {
    buf += chunk;
    let nl;
    while ((nl = buf.indexOf("\n")) >= 0) {
      const line = buf.slice(0, nl);
      buf = buf.slice(nl + 1);
      if (line.startsWith("RUN ")) await update(i, { runDir: line.slice(4) });
      else if (line.startsWith("OUTCOME ")) outcome = JSON.parse(line.slice(8));
      else if (line.startsWith("ERROR ")) error = JSON.parse(line.slice(6));
      else if (line.startsWith("BUSY ")) {
        busy = true;
        error = JSON.parse(line.slice(5));
      }
    }
  }
  const status = await child.status;
  await stderr;
  running.delete(child);
  if (outcome) {
    await update(i, {
      status: outcome.status,
      runDir: outcome.runDir,
      value: outcome.value,
      epochs: outcome.epochs,
      reason: outcome.reason,
    });
  } else {
    await update(i, {
      status: o.signal?.aborted || busy ? "stopped" : "failed",
      reason: error ??
        `the trial process ended with ${status.signal ?? `code ${status.code}`}: ${
          stderrTail.trim().split("\n").slice(-3).join(" | ")
        }`,
    });
  }
}
