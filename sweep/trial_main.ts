/**
 * The process of one local trial (started by `sweep/local.ts`):
 * `deno run -A sweep/trial_main.ts SWEEP_DIR TRIAL_KEY RUNS_DIR THREADS BACKEND`. Prints
 * `RUN <dir>` once the run directory exists and `OUTCOME <json>` (a `TrialOutcome`) at the end,
 * or `BUSY <message>` when another live process is training the trial's run, `ERROR <message>`
 * when it could not start.
 * SIGINT or SIGTERM interrupts the trial after the current batch (a resume point is saved).
 *
 * @example
 * ```sh
 * deno run -A sweep/trial_main.ts sweeps/default-1a2b3c4d t003 runs 1 auto
 * ```
 *
 * @module
 */
import type { BackendName } from "../core/backend/select.ts";
import { RunLockedError } from "../core/run/lock.ts";
import { readSweep } from "./store.ts";
import { runTrial } from "./trial.ts";

if (import.meta.main) {
  const [sweepDir, key, runsDir, threads, backend] = Deno.args;
  const say = (line: string): void =>
    void Deno.stdout.writeSync(new TextEncoder().encode(line + "\n"));
  const controller = new AbortController();
  const stop = () => controller.abort();
  Deno.addSignalListener("SIGINT", stop);
  Deno.addSignalListener("SIGTERM", stop);
  try {
    const { record } = await readSweep(sweepDir);
    const trial = record.trials.find((t) => t.key === key);
    if (!trial) throw new Error(`sweep ${record.id} has no trial ${key}`);
    const outcome = await runTrial({
      sweep: record,
      trial,
      runsDir,
      threads: Number(threads) || undefined,
      backend: (backend || "auto") as BackendName,
      signal: controller.signal,
      log: () => {},
      onRun: (dir) => say(`RUN ${dir}`),
    });
    say(`OUTCOME ${JSON.stringify(outcome)}`);
    Deno.exit(0);
  } catch (err) {
    // Another live process trains this trial's run (e.g. one left by a killed controller).
    const busy = err instanceof RunLockedError;
    say(`${busy ? "BUSY" : "ERROR"} ${JSON.stringify((err as Error).message)}`);
    Deno.exit(1);
  }
}
