/**
 * Sweeps across machines through Redis, with BullMQ as the queue engine: the controller puts
 * one job per trial on a queue (job id `<sweep-id>-<trial>`, so adding a sweep twice adds
 * nothing), follows the jobs and records their states in the sweep folder; workers
 * ({@linkcode runQueueWorker}, `deno task sweep-worker`) take one trial at a time, run it in
 * their process and return its outcome. A worker killed mid-trial stops renewing its job's
 * lock; BullMQ's stalled-job check hands the job to another worker, which finds the trial's run
 * in the shared runs folder and resumes it from its newest resume point. A worker whose
 * convdeck version or experiment code differs from the sweep's refuses, with the reason.
 *
 * @example
 * ```ts ignore
 * import { checkRedis, enqueueSweep } from "./queue.ts";
 * await checkRedis("redis://127.0.0.1:6379"); // throws naming the URL when it is not there
 * await enqueueSweep("redis://127.0.0.1:6379", "convdeck-sweep", record);
 * ```
 *
 * @module
 */
import { DelayedError, Queue, Worker } from "bullmq";
import { Redis, type RedisOptions } from "ioredis";
import { hostname } from "node:os";
import type { BackendName } from "../core/backend/select.ts";
import { RunLockedError } from "../core/run/lock.ts";
import {
  FINISHED,
  readSweep,
  readTrialStates,
  type SweepRecord,
  type TrialState,
  writeTrialState,
} from "./store.ts";
import { summarize, type SweepSummary } from "./summary.ts";
import { checkSameCode, runTrial, type TrialOutcome, TrialRefused } from "./trial.ts";
import type { TrialPlan } from "./spec.ts";

/** The queue's default name. */
export const DEFAULT_QUEUE_NAME = "convdeck-sweep";

/** What a job carries: the sweep (with only this trial) and the trial's key. */
export interface TrialJobData {
  /** The sweep record, its `trials` and `plannedEpochs` cut to this trial. */
  sweep: SweepRecord;
  /** The trial. */
  trial: TrialPlan;
}

/**
 * Redis connection options from `redis://[user:password@]HOST:PORT[/DB]`.
 *
 * @example
 * ```ts
 * import { redisOptions } from "./queue.ts";
 * redisOptions("redis://10.0.0.5:6380/2"); // { host: "10.0.0.5", port: 6380, db: 2, ... }
 * ```
 */
export function redisOptions(url: string): RedisOptions {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new Error(`--queue takes redis://HOST:PORT, got "${url}"`);
  }
  if (u.protocol !== "redis:" && u.protocol !== "rediss:") {
    throw new Error(`--queue takes redis://HOST:PORT, got "${url}"`);
  }
  const db = u.pathname.replace(/^\//, "");
  return {
    host: u.hostname.replace(/^\[|\]$/g, ""),
    port: Number(u.port || 6379),
    ...(u.username ? { username: decodeURIComponent(u.username) } : {}),
    ...(u.password ? { password: decodeURIComponent(u.password) } : {}),
    ...(db ? { db: Number(db) } : {}),
    ...(u.protocol === "rediss:" ? { tls: {} } : {}),
    maxRetriesPerRequest: null,
  };
}

/**
 * The job id of a trial: deterministic, so adding a sweep again adds nothing.
 *
 * @example
 * ```ts
 * import { jobId } from "./queue.ts";
 * jobId("lr-1a2b3c4d", "t007"); // "lr-1a2b3c4d-t007"
 * ```
 */
export function jobId(sweepId: string, key: string): string {
  return `${sweepId}-${key}`;
}

/**
 * Connects once and pings, without retrying; throws `Redis is not reachable at URL (...)` when
 * it fails, so that nothing is created against a server that is not there.
 *
 * @example
 * ```ts ignore
 * import { checkRedis } from "./queue.ts";
 * await checkRedis("redis://127.0.0.1:6379"); // Redis is not reachable at redis://127.0.0.1:6379 (...)
 * ```
 */
export async function checkRedis(url: string, timeoutMs = 3000): Promise<void> {
  const client = new Redis({
    ...redisOptions(url),
    lazyConnect: true,
    connectTimeout: timeoutMs,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
    enableOfflineQueue: false,
  });
  let lastError: Error | undefined;
  client.on("error", (err: Error) => lastError = err);
  try {
    await client.connect();
    await client.ping();
  } catch (err) {
    throw new Error(
      `Redis is not reachable at ${url} (${(lastError ?? err as Error).message}); start it ` +
        `(e.g. redis-server --port PORT) or fix the URL`,
    );
  } finally {
    client.disconnect();
  }
}

/**
 * Adds one job per trial (existing job ids are left alone); returns how many were new.
 *
 * @example
 * ```ts ignore
 * import { enqueueSweep } from "./queue.ts";
 * const added = await enqueueSweep("redis://127.0.0.1:6379", "convdeck-sweep", record); // 0 the second time
 * ```
 */
export async function enqueueSweep(
  url: string,
  queueName: string,
  record: SweepRecord,
): Promise<number> {
  const queue = new Queue<TrialJobData>(queueName, { connection: redisOptions(url) });
  try {
    let added = 0;
    const jobs = [];
    for (const t of record.trials) {
      const id = jobId(record.id, t.key);
      if (await queue.getJob(id)) continue;
      added++;
      jobs.push({
        name: t.key,
        data: {
          sweep: { ...record, trials: [t], plannedEpochs: [record.plannedEpochs[t.index]] },
          trial: t,
        },
        opts: { jobId: id, attempts: 3, removeOnComplete: false, removeOnFail: false },
      });
    }
    if (jobs.length) await queue.addBulk(jobs);
    return added;
  } finally {
    await queue.close();
  }
}

/** Options of {@link watchQueuedSweep}. */
export interface WatchOptions {
  /** redis://HOST:PORT */
  url: string;
  /** The queue's name. */
  queueName: string;
  /** The sweep folder (trial states are written there). */
  sweepDir: string;
  /** Aborting stops following (the workers go on). */
  signal?: AbortSignal;
  /** Called when a trial's state changes. */
  onChange?: (s: SweepSummary, states: readonly TrialState[]) => void;
  /** Poll interval (default 1000 ms). */
  pollMs?: number;
}

/**
 * Follows a queued sweep's jobs, recording trial states, until all finish or on abort.
 *
 * @example
 * ```ts ignore
 * import { watchQueuedSweep } from "./queue.ts";
 * const summary = await watchQueuedSweep({
 *   url: "redis://127.0.0.1:6379",
 *   queueName: "convdeck-sweep",
 *   sweepDir: "sweeps/lr-1a2b3c4d",
 * });
 * ```
 */
export async function watchQueuedSweep(o: WatchOptions): Promise<SweepSummary> {
  const { dir, record } = await readSweep(o.sweepDir);
  const states = await readTrialStates(dir, record);
  const queue = new Queue<TrialJobData, TrialOutcome>(o.queueName, {
    connection: redisOptions(o.url),
  });
  const emit = () => o.onChange?.(summarize(record, states), states);
  emit();
  try {
    while (!o.signal?.aborted) {
      let changed = false;
      for (const [i, t] of record.trials.entries()) {
        if (FINISHED.includes(states[i].status)) continue;
        const job = await queue.getJob(jobId(record.id, t.key));
        if (!job) continue;
        const state = await job.getState();
        const progress = job.progress as { runDir?: string; worker?: string } | undefined;
        let patch: Partial<TrialState> | undefined;
        if (state === "completed" && job.returnvalue) {
          const r = job.returnvalue;
          patch = {
            status: r.status,
            runDir: r.runDir,
            value: r.value,
            epochs: r.epochs,
            reason: r.reason,
          };
        } else if (state === "failed") {
          patch = { status: "failed", reason: job.failedReason };
        } else if (state === "active") {
          patch = { status: "running", runDir: progress?.runDir, worker: progress?.worker };
        } else if (states[i].status === "running") {
          // Back on the queue (its worker stopped or died): interrupted until taken again.
          patch = { status: "stopped" };
        }
        if (patch) {
          patch.attempts = Math.max(states[i].attempts, job.attemptsStarted ?? 0);
          const next = { ...states[i], ...patch };
          if (JSON.stringify(next) !== JSON.stringify(states[i])) {
            states[i] = { ...next, updatedAt: new Date().toISOString() };
            await writeTrialState(dir, states[i]);
            changed = true;
          }
        }
      }
      if (changed) emit();
      if (states.every((s) => FINISHED.includes(s.status))) break;
      await new Promise((r) => setTimeout(r, o.pollMs ?? 1000));
    }
  } finally {
    await queue.close();
  }
  return summarize(record, states);
}

/** Options of {@link runQueueWorker}. */
export interface QueueWorkerOptions {
  /** redis://HOST:PORT */
  url: string;
  /** The queue's name. */
  queueName: string;
  /** The runs folder (shared storage across machines). */
  runsDir: string;
  /** Threads per trial. */
  threads?: number;
  /** tfjs backend. */
  backend?: BackendName;
  /** Aborting interrupts the running trial (it goes back on the queue) and stops the worker. */
  signal?: AbortSignal;
  /** How long a job's lock lasts without renewal (BullMQ lockDuration; default 30000 ms). */
  lockMs?: number;
  /** Stop after this many trials (default: run until aborted). */
  maxTrials?: number;
  /** Progress lines. */
  log?: (line: string) => void;
}

/**
 * Takes trials from the queue one at a time and runs them in this process until aborted. Throws
 * {@linkcode TrialRefused} (after putting the job back) when the sweep's code differs from
 * this worker's.
 *
 * @example
 * ```ts ignore
 * import { runQueueWorker } from "./queue.ts";
 * const ac = new AbortController();
 * Deno.addSignalListener("SIGINT", () => ac.abort());
 * await runQueueWorker({ url: "redis://10.0.0.5:6379", queueName: "convdeck-sweep", runsDir: "/mnt/runs", signal: ac.signal });
 * ```
 */
export async function runQueueWorker(o: QueueWorkerOptions): Promise<{ trials: number }> {
  const log = o.log ?? ((l: string) => console.error(l));
  await checkRedis(o.url);
  const connection = redisOptions(o.url);
  // Refuse before taking anything when the next waiting trial is of another code.
  const queue = new Queue<TrialJobData>(o.queueName, { connection });
  try {
    const [next] = await queue.getJobs(["waiting", "prioritized"], 0, 0, true);
    if (next) await checkSameCode(next.data.sweep);
  } finally {
    await queue.close();
  }
  const lockMs = o.lockMs ?? 30_000;
  const me = `${hostname()}:${Deno.pid}`;
  let refused: Error | undefined;
  let trials = 0;
  let trialAbort = new AbortController();
  const worker = new Worker<TrialJobData, TrialOutcome>(
    o.queueName,
    async (job, token) => {
      const { sweep, trial } = job.data;
      try {
        await checkSameCode(sweep);
      } catch (err) {
        refused = err as Error;
        await job.moveToDelayed(Date.now() + 1000, token);
        queueMicrotask(() => void worker.close());
        throw new DelayedError();
      }
      trialAbort = new AbortController();
      log(`${me}: trial ${trial.key} of ${sweep.id} ${JSON.stringify(trial.params)}`);
      const outcome = await runTrial({
        sweep,
        trial,
        runsDir: o.runsDir,
        threads: o.threads,
        backend: o.backend,
        signal: trialAbort.signal,
        log: () => {},
        onRun: (runDir) => job.updateProgress({ runDir, worker: me }),
      }).catch(async (err) => {
        if (!(err instanceof RunLockedError)) throw err;
        // The run's last writer (on another machine) may still be alive: its heartbeat goes
        // stale after HEARTBEAT_STALE_MS. Try again later, without using up an attempt.
        log(`${me}: trial ${trial.key}: ${err.message}; retrying in 10 s`);
        await job.moveToDelayed(Date.now() + 10_000, token);
        throw new DelayedError();
      });
      trials++;
      if (outcome.status === "stopped") {
        // Interrupted by this worker's shutdown: back on the queue for another worker.
        log(`${me}: trial ${trial.key} interrupted, back on the queue`);
        await job.moveToDelayed(Date.now(), token);
        throw new DelayedError();
      }
      log(
        `${me}: trial ${trial.key} ${outcome.status}${
          outcome.value !== undefined ? ` (${sweep.spec.metric} ${outcome.value})` : ""
        }`,
      );
      if (o.maxTrials !== undefined && trials >= o.maxTrials) {
        queueMicrotask(() => void worker.close());
      }
      return outcome;
    },
    {
      connection,
      concurrency: 1,
      autorun: false,
      lockDuration: lockMs,
      stalledInterval: lockMs,
      maxStalledCount: 10,
    },
  );
  worker.on("error", (err) => log(`${me}: queue error: ${err.message}`));
  const onAbort = () => {
    trialAbort.abort();
    void worker.close();
  };
  o.signal?.addEventListener("abort", onAbort);
  try {
    if (!o.signal?.aborted) await worker.run();
  } finally {
    o.signal?.removeEventListener("abort", onAbort);
    await worker.close();
  }
  if (refused) throw refused instanceof TrialRefused ? refused : new TrialRefused(refused.message);
  return { trials };
}
