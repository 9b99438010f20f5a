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
 * Faults: every Redis call has a time limit ({@linkcode REDIS_TIMEOUT_MS}): a server that
 * accepts connections but never answers (paused, overloaded) is an error naming the URL, not a
 * hang; the worker then stops its trial cleanly (a resume point). Jobs lost by a Redis restarted
 * without persistence are noticed by the controller and added again from the sweep folder (job
 * ids are deterministic); workers reconnect on their own. Job ids carry the sweep folder's
 * random `folderId`, so a new folder of the same spec never sees the old folder's jobs, and
 * {@linkcode forgetSweep} removes a sweep's jobs.
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

/** How long one Redis call may take before the sweep gives up on it (ms). */
export const REDIS_TIMEOUT_MS = 10_000;

/**
 * A trial's queue lock by default (ms): renewed every half of it while the trial runs; a dead
 * worker's trial is handed on within about 1.5 times this (the stalled check runs every half
 * lock). A busy worker that misses a renewal loses nothing: the next worker finds the trial
 * claimed by a live heartbeat (`core/run/lock.ts`) and waits.
 */
export const DEFAULT_LOCK_MS = 5_000;

/**
 * Redis did not answer within the time limit.
 *
 * @example
 * ```ts ignore
 * import { RedisTimeoutError, watchQueuedSweep } from "./queue.ts";
 * try {
 *   await watchQueuedSweep(options);
 * } catch (err) {
 *   if (err instanceof RedisTimeoutError) console.error(err.message);
 * }
 * ```
 */
export class RedisTimeoutError extends Error {
  /** Builds the message from the URL, what was asked and the limit. */
  constructor(url: string, what: string, ms: number) {
    super(
      `Redis at ${url} did not answer (${what}) within ${ms / 1000} s: is it paused, ` +
        `overloaded, or not a Redis server?`,
    );
    this.name = "RedisTimeoutError";
  }
}

/**
 * `p`, or a {@linkcode RedisTimeoutError} after `ms`; while `isDown()` says the server cannot
 * be reached at all (restarting, stopped: connections refused), the limit starts again, since
 * the client reconnects by itself: only a server that is connected and silent is a hang.
 *
 * @example
 * ```ts ignore
 * import { timed } from "./queue.ts";
 * await timed(queue.getJob(id), "redis://127.0.0.1:6379", "get a job"); // throws after 10 s
 * ```
 */
export function timed<T>(
  p: Promise<T>,
  url: string,
  what: string,
  ms = REDIS_TIMEOUT_MS,
  isDown: () => boolean = () => false,
): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    let timer: ReturnType<typeof setTimeout>;
    const arm = () => {
      timer = setTimeout(() => {
        if (isDown()) arm();
        else reject(new RedisTimeoutError(url, what, ms));
      }, ms);
    };
    arm();
    p.then(resolve, reject).finally(() => clearTimeout(timer));
  });
}

/** Closes a BullMQ object, waiting at most 2 s (a hung server would keep `close()` forever). */
async function closeQuietly(x: { close(): Promise<void> }): Promise<void> {
  await timed(x.close(), "", "close", 2000).catch(() => {});
  clients.get(x)?.disconnect();
}

/**
 * A connection of its own that tells whether the server is down (connections refused while it
 * restarts) rather than silent (connected, no answers: paused, overloaded).
 */
class RedisProbe {
  readonly client: Redis;
  constructor(url: string) {
    this.client = new Redis({ ...redisOptions(url), lazyConnect: true });
    this.client.on("error", () => {/* reconnecting */});
    this.client.connect().catch(() => {/* reconnecting */});
  }
  /** True while the client has no connection and is trying again. */
  get down(): boolean {
    return ["reconnecting", "connecting", "close"].includes(this.client.status);
  }
  close(): void {
    this.client.disconnect();
  }
}

/**
 * Pings Redis every second on its own connection; `dead` rejects with a
 * {@linkcode RedisTimeoutError} once a ping goes unanswered for `timeoutMs` on a live
 * connection (a restart, however long, only waits: the clients reconnect).
 */
function redisWatchdog(url: string, timeoutMs: number): { dead: Promise<never>; stop(): void } {
  const probe = new RedisProbe(url);
  let stopped = false;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const dead = new Promise<never>((_, reject) => {
    const tick = async () => {
      if (stopped) return;
      try {
        await timed(probe.client.ping(), url, "PING", timeoutMs, () => probe.down);
        timer = setTimeout(tick, 1000);
      } catch (err) {
        if (!stopped) reject(err);
      }
    };
    timer = setTimeout(tick, 0);
  });
  dead.catch(() => {});
  return {
    dead,
    stop() {
      stopped = true;
      clearTimeout(timer);
      probe.close();
    },
  };
}

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
 * The job id of a trial: deterministic for one sweep folder (the sweep id, the folder's random
 * `folderId` when it has one, the trial key), so adding a sweep again adds nothing, and a new
 * folder of the same spec gets new jobs.
 *
 * @example
 * ```ts
 * import { jobId } from "./queue.ts";
 * jobId({ id: "lr-1a2b3c4d", folderId: "0f3e9a12" }, "t007"); // "lr-1a2b3c4d-0f3e9a12-t007"
 * jobId({ id: "lr-1a2b3c4d" }, "t007"); // "lr-1a2b3c4d-t007" (folders made before folderId)
 * ```
 */
export function jobId(sweep: Pick<SweepRecord, "id" | "folderId">, key: string): string {
  return sweep.folderId ? `${sweep.id}-${sweep.folderId}-${key}` : `${sweep.id}-${key}`;
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
    await timed(
      (async () => {
        await client.connect();
        await client.ping();
      })(),
      url,
      "connect and PING",
      timeoutMs,
    );
  } catch (err) {
    throw new Error(
      `Redis is not reachable at ${url} (${(lastError ?? err as Error).message}); start it ` +
        `(e.g. redis-server --port PORT) or fix the URL`,
    );
  } finally {
    client.disconnect();
  }
}

/** Adds the jobs of `trials` whose ids are not on the queue; returns how many were new. */
async function addTrialJobs(
  queue: Queue<TrialJobData>,
  url: string,
  record: SweepRecord,
  trials: readonly TrialPlan[],
): Promise<number> {
  const jobs = [];
  for (const t of trials) {
    const id = jobId(record, t.key);
    if (await timed(queue.getJob(id), url, "get a job")) continue;
    jobs.push({
      name: t.key,
      data: {
        sweep: { ...record, trials: [t], plannedEpochs: [record.plannedEpochs[t.index]] },
        trial: t,
      },
      opts: { jobId: id, attempts: 3, removeOnComplete: false, removeOnFail: false },
    });
  }
  if (jobs.length) await timed(queue.addBulk(jobs), url, "add jobs");
  return jobs.length;
}

/** A queue whose errors (reconnects) are left to the calls' time limits. */
function openQueue<D extends TrialJobData, R>(url: string, queueName: string): Queue<D, R> {
  const client = new Redis(redisOptions(url));
  client.on("error", () => {/* each call has its time limit */});
  const queue = new Queue<D, R>(queueName, { connection: client });
  queue.on("error", () => {/* each call has its time limit */});
  clients.set(queue, client);
  return queue;
}

/** The connection each queue was given (BullMQ 6 takes a client and leaves closing it to us). */
const clients = new WeakMap<object, Redis>();

/**
 * Adds one job per unfinished trial (existing job ids are left alone; `states`, when given,
 * leaves out the finished trials); returns how many were new.
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
  states?: readonly TrialState[],
): Promise<number> {
  const queue = openQueue<TrialJobData, TrialOutcome>(url, queueName);
  try {
    const todo = record.trials.filter((t) => !FINISHED.includes(states?.[t.index]?.status!));
    return await addTrialJobs(queue, url, record, todo);
  } finally {
    await closeQuietly(queue);
  }
}

/**
 * Removes the jobs of some trials of a sweep folder (e.g. to train them again); returns how
 * many were removed.
 *
 * @example
 * ```ts ignore
 * import { removeTrialJobs } from "./queue.ts";
 * await removeTrialJobs("redis://127.0.0.1:6379", "convdeck-sweep", record, ["t002"]);
 * ```
 */
export async function removeTrialJobs(
  url: string,
  queueName: string,
  record: SweepRecord,
  keys: readonly string[],
): Promise<number> {
  const queue = openQueue<TrialJobData, TrialOutcome>(url, queueName);
  try {
    let removed = 0;
    for (const key of keys) {
      const job = await timed(queue.getJob(jobId(record, key)), url, "get a job");
      if (job) {
        await timed(job.remove(), url, "remove a job");
        removed++;
      }
    }
    return removed;
  } finally {
    await closeQuietly(queue);
  }
}

/**
 * Removes every job of a sweep (any folder of it) from the queue; returns how many were
 * removed and how many are running on a worker now (those are left; stop their workers).
 *
 * @example
 * ```ts ignore
 * import { forgetSweep } from "./queue.ts";
 * const { removed, running } = await forgetSweep("redis://127.0.0.1:6379", "convdeck-sweep", "lr-1a2b3c4d");
 * ```
 */
export async function forgetSweep(
  url: string,
  queueName: string,
  sweepId: string,
): Promise<{ removed: number; running: number }> {
  const queue = openQueue<TrialJobData, TrialOutcome>(url, queueName);
  try {
    let removed = 0, running = 0;
    const states = ["waiting", "prioritized", "delayed", "completed", "failed"] as const;
    const jobs = await timed(queue.getJobs([...states, "active"]), url, "list jobs");
    for (const job of jobs) {
      if (!job?.id?.startsWith(`${sweepId}-`)) continue;
      if (await timed(job.isActive(), url, "job state")) {
        running++;
        continue;
      }
      await timed(job.remove(), url, "remove a job");
      removed++;
    }
    return { removed, running };
  } finally {
    await closeQuietly(queue);
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
  /** Called with the trial keys whose jobs Redis lost (and that were added again). */
  onLost?: (keys: string[]) => void;
  /** Time limit of each Redis call (default {@linkcode REDIS_TIMEOUT_MS}). */
  timeoutMs?: number;
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
  const queue = openQueue<TrialJobData, TrialOutcome>(o.url, o.queueName);
  const probe = new RedisProbe(o.url);
  const call = <T>(p: Promise<T>, what: string) =>
    timed(p, o.url, what, o.timeoutMs, () => probe.down);
  const emit = () => o.onChange?.(summarize(record, states), states);
  emit();
  try {
    while (!o.signal?.aborted) {
      let changed = false;
      const lost: TrialPlan[] = [];
      for (const [i, t] of record.trials.entries()) {
        if (FINISHED.includes(states[i].status)) continue;
        const job = await call(queue.getJob(jobId(record, t.key)), "get a job");
        if (!job) {
          // Every unfinished trial was put on the queue before following it: Redis lost it
          // (restarted without persistence, flushed).
          lost.push(t);
          continue;
        }
        const state = await call(job.getState(), "job state");
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
      if (lost.length) {
        await call(addTrialJobs(queue, o.url, record, lost), "add lost jobs");
        o.onLost?.(lost.map((t) => t.key));
      }
      if (changed) emit();
      if (states.every((s) => FINISHED.includes(s.status))) break;
      await new Promise((r) => setTimeout(r, o.pollMs ?? 1000));
    }
  } finally {
    probe.close();
    await closeQuietly(queue);
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
  /** How long a job's lock lasts without renewal (BullMQ lockDuration; default 5000 ms). */
  lockMs?: number;
  /** Time limit of each Redis call (default {@linkcode REDIS_TIMEOUT_MS}). */
  timeoutMs?: number;
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
  const connection = new Redis(redisOptions(o.url));
  connection.on("error", () => {/* reconnecting */});
  // Refuse before taking anything when the next waiting trial is of another code.
  const queue = openQueue<TrialJobData, TrialOutcome>(o.url, o.queueName);
  try {
    const [next] = await timed(
      queue.getJobs(["waiting", "prioritized"], 0, 0, true),
      o.url,
      "list jobs",
      o.timeoutMs,
    );
    if (next) await checkSameCode(next.data.sweep);
  } finally {
    await closeQuietly(queue);
  }
  const lockMs = o.lockMs ?? DEFAULT_LOCK_MS;
  const me = `${hostname()}:${Deno.pid}`;
  let refused: Error | undefined;
  let trials = 0;
  let trialAbort = new AbortController();
  let training: Promise<unknown> | undefined;
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
      const trialRun = runTrial({
        sweep,
        trial,
        runsDir: o.runsDir,
        threads: o.threads,
        backend: o.backend,
        signal: trialAbort.signal,
        log: () => {},
        // Progress is for the controller's display: a Redis that lost the job (restarted
        // without persistence) must not fail the trial, whose run goes on regardless.
        onRun: (runDir) =>
          timed(job.updateProgress({ runDir, worker: me }), o.url, "job progress", o.timeoutMs)
            .catch((err) => log(`${me}: trial ${trial.key}: progress not sent (${err.message})`)),
      });
      training = trialRun.catch(() => {});
      const outcome = await trialRun.catch(async (err) => {
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
      stalledInterval: Math.max(1000, Math.round(lockMs / 2)),
      maxStalledCount: 10,
    },
  );
  worker.on("error", (err) => log(`${me}: queue error: ${err.message}`));
  const onAbort = () => {
    trialAbort.abort();
    void worker.close();
  };
  o.signal?.addEventListener("abort", onAbort);
  const watchdog = redisWatchdog(o.url, o.timeoutMs ?? REDIS_TIMEOUT_MS);
  try {
    if (!o.signal?.aborted) await Promise.race([worker.run(), watchdog.dead]);
    await worker.close();
  } catch (err) {
    if (err instanceof RedisTimeoutError) {
      // Redis stopped answering: stop the trial cleanly (a resume point), then give up on it.
      log(`${me}: ${err.message}; stopping the running trial`);
      trialAbort.abort();
      await training;
      void closeQuietly(worker);
    } else await closeQuietly(worker);
    throw err;
  } finally {
    watchdog.stop();
    connection.disconnect();
    o.signal?.removeEventListener("abort", onAbort);
  }
  if (refused) throw refused instanceof TrialRefused ? refused : new TrialRefused(refused.message);
  return { trials };
}
