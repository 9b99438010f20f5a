/**
 * One trial, run in the current process: a normal run (`runExperiment`) in the normal runs
 * folder, tagged in run.json's config with `sweep: { id, trial }`, with a pruner callback that
 * reads the other trials' metrics through the `core/run` readers after every epoch.
 *
 * Nothing runs twice: before starting, the runs folder is searched for this trial's run. A
 * finished one (completed, pruned, failed, or stopped early by a callback such as
 * EarlyStopping, which counts as completed) is reported as it is; an interrupted or crashed one
 * (stopped, or running with its writer gone) is resumed from its newest resume point
 * (`core/run/lock.ts` refuses a second live writer and takes over a dead one's lock). The
 * trial itself is claimed with the same lock on a hidden folder of the runs folder for as long
 * as a process works on it, so two processes never start two runs of one trial.
 *
 * @example
 * ```ts ignore
 * import { runTrial } from "./trial.ts";
 * const outcome = await runTrial({ sweep: record, trial: record.trials[0], runsDir: "runs" });
 * console.log(outcome.status, outcome.value);
 * ```
 *
 * @module
 */
import { hostname } from "node:os";
import { resolve } from "node:path";
import { acquireRunLock } from "../core/run/lock.ts";
import type { Callback } from "../core/train/callback.ts";
import type { BackendName } from "../core/backend/select.ts";
import type { RunInfo } from "../core/run/format.ts";
import { runExperiment } from "../core/experiment/run_experiment.ts";
import { VERSION } from "../core/version.ts";
import { loadExperiment } from "../experiments/registry.ts";
import { decidePrune } from "./pruners.ts";
import { bestValue, metricHistory, sweepRuns } from "./runs.ts";
export { bestValue, metricHistory, sweepRuns, sweepTag } from "./runs.ts";
import type { SweepSpec, TrialPlan } from "./spec.ts";
import type { SweepRecord } from "./store.ts";
import { experimentFingerprint } from "./fingerprint.ts";
import { trialOverrides } from "./spec.ts";

/** How a trial ended (what a worker reports back). */
export interface TrialOutcome {
  /** `t000` ... */
  key: string;
  /** The run's end state; `stopped` = interrupted (resumable). */
  status: "completed" | "pruned" | "failed" | "stopped";
  /** The run directory. */
  runDir: string;
  /** Best value of the sweep metric (absent when no epoch finished). */
  value?: number;
  /** Finished epochs. */
  epochs: number;
  /** Why it was pruned, stopped or failed. */
  reason?: string;
  /** True when this call resumed an existing run; false for a new run or a finished one. */
  resumed: boolean;
  /** True when the run had already finished and nothing was trained. */
  alreadyFinished: boolean;
}

/**
 * A worker whose code differs from the sweep's: the trial is refused with the reason.
 *
 * @example
 * ```ts ignore
 * import { checkSameCode, TrialRefused } from "./trial.ts";
 * try {
 *   await checkSameCode(record);
 * } catch (err) {
 *   if (err instanceof TrialRefused) console.error(`refused: ${err.message}`);
 * }
 * ```
 */
export class TrialRefused extends Error {
  /** Builds it from the reason. */
  constructor(reason: string) {
    super(reason);
    this.name = "TrialRefused";
  }
}

/**
 * The pruner as a callback: after every epoch, the trial's own metric history against the
 * other trials' (read from their runs), decided by `decidePrune`; a prune ends the run with
 * status `pruned` and the reason, and a `pruned` event.
 *
 * @example
 * ```ts ignore
 * import { prunerCallback } from "./trial.ts";
 * const cb = prunerCallback(record.spec, record.id, "t003", "runs");
 * await runExperiment({ experiment, extraCallbacks: [cb] });
 * ```
 */
export function prunerCallback(
  spec: SweepSpec,
  sweepId: string,
  trialKey: string,
  runsDir: string,
): Callback {
  const pruner = spec.pruner!;
  return {
    name: "sweep_pruner",
    async onEpochEnd(epoch, logs, ctx) {
      // The history holds the epochs before this one; this epoch's logs come as an argument.
      const own = [...ctx.history.filter((h) => h.epoch < epoch).map((h) => h.logs), logs].map(
        (l) => typeof l[spec.metric] === "number" ? l[spec.metric] as number : NaN,
      );
      const others: number[][] = [];
      for (const [key, r] of await sweepRuns(runsDir, sweepId)) {
        if (key !== trialKey) others.push(await metricHistory(r.dir, spec.metric));
      }
      const d = decidePrune(pruner, spec.direction, own, others, ctx.totalEpochs);
      if (d.prune) {
        const reason = `pruned: ${spec.metric} ${d.reason}`;
        await ctx.run.event("pruned", { reason, pruner: pruner.type, metric: spec.metric });
        ctx.stopTraining(reason, { status: "pruned" });
      }
    },
  };
}

/** Options of {@link runTrial}. */
export interface RunTrialOptions {
  /** The sweep. */
  sweep: SweepRecord;
  /** The trial to run. */
  trial: TrialPlan;
  /** The runs folder (shared storage when workers are on several machines). */
  runsDir: string;
  /** tfjs backend (default `auto`). */
  backend?: BackendName;
  /** Threads for this trial. */
  threads?: number;
  /** Aborting interrupts the trial after the current batch (it can be resumed). */
  signal?: AbortSignal;
  /** Progress lines. */
  log?: (line: string) => void;
  /** Called once the run directory exists. */
  onRun?: (runDir: string) => void | Promise<void>;
}

/**
 * Whether a run is done for good: completed, pruned, failed, or stopped by a callback (early
 * stopping, a NaN loss: the trial ran its course). Interrupted (Ctrl-C, a worker's shutdown)
 * and crashed runs (still `running`, their writer gone) are to be resumed.
 *
 * @example
 * ```ts ignore
 * import { runFinished } from "./trial.ts";
 * runFinished(await readRunInfo("runs/default-20261201-101010")); // false after a Ctrl-C
 * ```
 */
export function runFinished(info: RunInfo): boolean {
  if (info.status === "stopped") return info.stopReason !== "interrupted";
  return info.status === "completed" || info.status === "pruned" || info.status === "failed";
}

/**
 * Refuses (throws {@linkcode TrialRefused}) when this process's code differs from the sweep's.
 *
 * @example
 * ```ts ignore
 * import { checkSameCode } from "./trial.ts";
 * await checkSameCode(record); // throws TrialRefused when the version or experiment sha256 differ
 * ```
 */
export async function checkSameCode(sweep: SweepRecord): Promise<void> {
  if (sweep.convdeckVersion !== VERSION) {
    throw new TrialRefused(
      `this worker runs convdeck ${VERSION}, the sweep ${sweep.id} was planned with ` +
        `${sweep.convdeckVersion}`,
    );
  }
  let sha: string;
  try {
    sha = (await experimentFingerprint(sweep.experimentSource)).sha256;
  } catch (err) {
    throw new TrialRefused(`this worker cannot read the experiment: ${(err as Error).message}`);
  }
  if (sha !== sweep.experimentSha256) {
    throw new TrialRefused(
      `this worker's experiment ${sweep.experimentSource} or a module it imports differs from ` +
        `the sweep's (module graph sha256 ` +
        `${sha.slice(0, 12)} here, ${sweep.experimentSha256.slice(0, 12)} in sweep ${sweep.id})`,
    );
  }
}

function outcomeOf(
  key: string,
  dir: string,
  info: RunInfo,
  values: number[],
  spec: SweepSpec,
  flags: { resumed: boolean; alreadyFinished: boolean },
): TrialOutcome {
  const status = runFinished(info)
    ? (info.status === "stopped" ? "completed" : info.status) as
      | "completed"
      | "pruned"
      | "failed"
    : "stopped";
  const value = bestValue(values, spec.direction);
  return {
    key,
    status,
    runDir: dir,
    ...(value !== undefined ? { value } : {}),
    epochs: values.length,
    ...(info.stopReason || info.error ? { reason: info.error ?? info.stopReason } : {}),
    ...flags,
  };
}

/**
 * Runs (or resumes, or reports) one trial in this process; see the module doc.
 *
 * @example
 * ```ts ignore
 * import { runTrial } from "./trial.ts";
 * const outcome = await runTrial({ sweep: record, trial: record.trials[0], runsDir: "runs", threads: 1 });
 * console.log(outcome.status, outcome.value, outcome.resumed);
 * ```
 */
export async function runTrial(o: RunTrialOptions): Promise<TrialOutcome> {
  await checkSameCode(o.sweep);
  // Claim the trial before looking for its run: until the run directory exists (data and model
  // are prepared first) nothing else would stop a second process from starting a second run.
  const claim = await acquireRunLock(await trialClaimDir(o.runsDir, o.sweep.id, o.trial.key));
  try {
    return await runClaimedTrial(o);
  } finally {
    await claim.release();
  }
}

/**
 * The folder whose lock (`core/run/lock.ts`, the same mechanism as a run's) one process holds
 * while it works on a trial: `<runs>/.sweep-trials/<sweep-id>-<trial>/` (hidden, so never
 * listed as a run). Created if missing.
 *
 * @example
 * ```ts ignore
 * import { trialClaimDir } from "./trial.ts";
 * await trialClaimDir("runs", "lr-1a2b3c4d", "t003"); // ".../runs/.sweep-trials/lr-1a2b3c4d-t003"
 * ```
 */
export async function trialClaimDir(
  runsDir: string,
  sweepId: string,
  key: string,
): Promise<string> {
  const dir = resolve(runsDir, ".sweep-trials", `${sweepId}-${key}`);
  await Deno.mkdir(dir, { recursive: true });
  return dir;
}

async function runClaimedTrial(o: RunTrialOptions): Promise<TrialOutcome> {
  const log = o.log ?? ((l: string) => console.error(l));
  const { sweep, trial } = o;
  const spec = sweep.spec;
  const existing = (await sweepRuns(o.runsDir, sweep.id)).get(trial.key);
  if (existing && runFinished(existing.info)) {
    await o.onRun?.(existing.dir);
    const values = await metricHistory(existing.dir, spec.metric);
    return outcomeOf(trial.key, existing.dir, existing.info, values, spec, {
      resumed: false,
      alreadyFinished: true,
    });
  }
  const experiment = await loadExperiment(sweep.experimentSource);
  const extraCallbacks = spec.pruner ? [prunerCallback(spec, sweep.id, trial.key, o.runsDir)] : [];
  let runDir: string | undefined;
  try {
    const { run } = await runExperiment({
      experiment,
      experimentSource: sweep.experimentSource,
      overrides: existing ? {} : trialOverrides(trial.settings),
      resume: existing?.dir,
      runsDir: o.runsDir,
      backend: o.backend,
      threads: o.threads,
      signal: o.signal,
      log,
      extraCallbacks,
      tags: { sweep: { id: sweep.id, trial: trial.key, host: hostname() } },
      onRunCreated: async (run) => {
        runDir = run.dir;
        await o.onRun?.(run.dir);
      },
    });
    const values = await metricHistory(run.dir, spec.metric);
    return outcomeOf(trial.key, run.dir, run.info, values, spec, {
      resumed: existing !== undefined,
      alreadyFinished: false,
    });
  } catch (err) {
    // Before the run was opened (bad setup, another live writer): no trial result, an error.
    if (runDir === undefined) throw err;
    // The run was trained and is marked failed: report it as a failed trial.
    const values = await metricHistory(runDir, spec.metric).catch(() => []);
    const value = bestValue(values, spec.direction);
    return {
      key: trial.key,
      status: "failed",
      runDir,
      ...(value !== undefined ? { value } : {}),
      epochs: values.length,
      reason: (err as Error).message,
      resumed: existing !== undefined,
      alreadyFinished: false,
    };
  }
}
