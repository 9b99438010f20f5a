/**
 * Sweeps: many runs from one spec, pruned early, in parallel on one machine or on many through
 * Redis. The spec and its expansion, the pruners, the sweep folder, running a trial, the local
 * runner and the BullMQ queue.
 *
 * @example
 * ```ts ignore
 * import { createSweep, planSweep, runLocalSweep } from "@convdeck/convdeck/sweep";
 * const record = await planSweep("spec.json");
 * const dir = await createSweep("sweeps", record);
 * const summary = await runLocalSweep({ sweepDir: dir, runsDir: "runs", workers: 2 });
 * console.log(summary.best);
 * ```
 *
 * @module
 */
export {
  type AshaPrunerSpec,
  expandTrials,
  MAX_TRIALS,
  type MedianPrunerSpec,
  type ParamSpace,
  type PrunerSpec,
  sampleSpace,
  SpecError,
  type SweepSpec,
  trialKey,
  trialOverrides,
  type TrialPlan,
  validateSpec,
} from "./spec.ts";
export {
  ashaRule,
  ashaRungs,
  bestUpTo,
  decidePrune,
  medianRule,
  type PruneDecision,
} from "./pruners.ts";
export {
  createSweep,
  FINISHED,
  listSweeps,
  readSweep,
  readTrialStates,
  sha256Hex,
  sweepIdOf,
  type SweepRecord,
  type TrialState,
  type TrialStatus,
  writeTrialState,
} from "./store.ts";
export { formatSummary, summarize, type SweepSummary } from "./summary.ts";
export { bestValue, metricHistory, sweepRuns, sweepTag } from "./runs.ts";
export { checkAgainstExperiment, experimentFingerprint, loadSpecFile, planSweep } from "./plan.ts";
export {
  checkSameCode,
  prunerCallback,
  runFinished,
  runTrial,
  type RunTrialOptions,
  trialClaimDir,
  type TrialOutcome,
  TrialRefused,
} from "./trial.ts";
export { coreCount, type LocalSweepOptions, runLocalSweep } from "./local.ts";
export {
  checkRedis,
  DEFAULT_LOCK_MS,
  DEFAULT_QUEUE_NAME,
  enqueueSweep,
  forgetSweep,
  jobId,
  type QueueWorkerOptions,
  REDIS_TIMEOUT_MS,
  redisOptions,
  RedisTimeoutError,
  runQueueWorker,
  type TrialJobData,
  type WatchOptions,
  watchQueuedSweep,
} from "./queue.ts";
