/**
 * One writer per run, and a heartbeat: the same file. A process that writes a run (a trainer,
 * a resume, an evaluation) holds `heartbeat` in the run folder: it is created exclusively
 * (one winner when two start at once) and holds the owner's host, pid and a random token; the
 * owner rewrites it every few seconds with the time. A second writer is refused with the
 * owner's name; a stale lock (the owner's pid is gone on this host, or its heartbeat is old)
 * is taken over, and the taker is told so. Readers derive `crashed` from the same file: a run
 * whose run.json says `running` but whose heartbeat is stale has no live process.
 *
 * Works on shared storage (NFS): exclusive create and rename are atomic there, and the
 * time-based staleness covers owners on other hosts.
 *
 * @example
 * ```ts
 * import { acquireRunLock } from "./lock.ts";
 * const dir = await Deno.makeTempDir();
 * const lock = await acquireRunLock(dir);
 * lock.assertHeld(); // throws once another process has taken the run over
 * await lock.release();
 * ```
 *
 * @module
 */
import { hostname } from "node:os";
import { join } from "node:path";
import process from "node:process";
import {
  createExclusive,
  moveEntry,
  removeFile,
  removeFileSync,
  writeFileAtomic,
} from "../fs/atomic.ts";
import {
  confine,
  confineSync,
  FsError,
  readConfinedText,
  readConfinedTextSync,
} from "../fs/confine.ts";
import { unrefTimer } from "./_runtime.ts";
import { processAlive } from "./process_alive.ts";
import { RUN_FILES } from "./format.ts";

/** The lock-and-heartbeat file's name inside a run folder. */
const HEARTBEAT = RUN_FILES.heartbeat;

/** How often the owner rewrites its heartbeat, in ms. */
export const HEARTBEAT_INTERVAL_MS = 5_000;

/** A heartbeat older than this (ms) is stale whatever host wrote it. */
export const HEARTBEAT_STALE_MS = 30_000;

/** The content of `heartbeat`. */
export interface Heartbeat {
  /** Host name of the owner. */
  host: string;
  /** Process id of the owner. */
  pid: number;
  /** Random token identifying this owner (a restarted process with the same pid differs). */
  token: string;
  /** When the owner took the lock (ms). */
  since: number;
  /** Last heartbeat (ms). */
  time: number;
}

/** Why a heartbeat does not prove a live owner. */
export type StaleReason = "dead-process" | "old-heartbeat";

/** Thrown when another live process owns the run. */
export class RunLockedError extends Error {
  /** The owner's heartbeat. */
  readonly owner: Heartbeat;
  /** Creates the error naming `owner`. */
  constructor(runDir: string, owner: Heartbeat) {
    const age = Math.max(0, Math.round((Date.now() - owner.time) / 1000));
    super(
      `${runDir} is being written by another process: pid ${owner.pid} on ${owner.host} ` +
        `(heartbeat ${age} s ago). Wait for it to finish or stop it (on ${owner.host}: ` +
        `ps -p ${owner.pid}); a lock whose process is gone is taken over automatically, ` +
        `and one from another host after ${HEARTBEAT_STALE_MS / 1000} s without a heartbeat.`,
    );
    this.name = "RunLockedError";
    this.owner = owner;
  }
}

/** Parses a heartbeat file's text; `undefined` when it is not one. */
export function parseHeartbeat(text: string): Heartbeat | undefined {
  try {
    const v = JSON.parse(text) as Record<string, unknown>;
    if (
      typeof v.host === "string" && typeof v.pid === "number" && typeof v.token === "string" &&
      typeof v.time === "number" && typeof v.since === "number"
    ) {
      return v as unknown as Heartbeat;
    }
  } catch { /* torn or foreign */ }
  return undefined;
}

/** This machine's host name, as heartbeats record it. */
export function thisHost(): string {
  return hostname();
}

export { processAlive };

/**
 * Why `hb` does not prove a live owner, or `undefined` when it does: its process is gone
 * (same host), or it was not renewed for {@linkcode HEARTBEAT_STALE_MS}.
 */
export function heartbeatStale(hb: Heartbeat, now: number = Date.now()): StaleReason | undefined {
  if (hb.host === thisHost() && !processAlive(hb.pid)) return "dead-process";
  if (now - hb.time > HEARTBEAT_STALE_MS) return "old-heartbeat";
  return undefined;
}

/** The most bytes a heartbeat file may have. */
const MAX_HEARTBEAT_BYTES = 4096;

/**
 * Reads a run's heartbeat, or `undefined` when there is none (or it is unreadable, a symlink,
 * not a regular file or too large).
 */
export async function readHeartbeat(runDir: string): Promise<Heartbeat | undefined> {
  try {
    return parseHeartbeat(await readConfinedText(runDir, HEARTBEAT, MAX_HEARTBEAT_BYTES));
  } catch {
    return undefined;
  }
}

/** {@linkcode readHeartbeat}, synchronously (for exit handlers). */
function readHeartbeatSync(runDir: string): Heartbeat | undefined {
  try {
    return parseHeartbeat(readConfinedTextSync(runDir, HEARTBEAT, MAX_HEARTBEAT_BYTES));
  } catch {
    return undefined;
  }
}

/** A held run lock: renewed in the background until released. */
export interface RunLock {
  /** This owner's heartbeat as last written. */
  readonly heartbeat: Heartbeat;
  /** The stale owner this lock took over from, if any. */
  readonly tookOver?: { owner: Heartbeat; reason: StaleReason };
  /**
   * Throws when the lock was lost (another process took the run over) or the run folder is
   * gone (deleted, trashed, moved: {@linkcode RunFolderGoneError}). The folder is looked at
   * on every call, unless `recheckMs` is given and it was looked at less than that long ago
   * (a hot path such as the tracking client's `log()` passes a few hundred ms).
   */
  assertHeld(recheckMs?: number): void;
  /** Rewrites the heartbeat now (the background timer does it every few seconds). */
  renew(): Promise<void>;
  /** Stops the heartbeat and removes the lock file (if still ours). */
  release(): Promise<void>;
  /** {@linkcode RunLock.release}, synchronously (for exit handlers, which cannot wait). */
  releaseSync(): void;
}

/** Whether the lock file `rel` of `dir` is there, or else whether `dir` itself is. */
function lockOrFolderThere(dir: string, rel: string): boolean {
  try {
    confineSync(dir, rel, "any");
    return true;
  } catch (err) {
    if (!(err instanceof FsError && err.status === 404)) return true;
  }
  try {
    confineSync(dir, "", "dir");
    return true;
  } catch {
    return false;
  }
}

function tryCreate(path: string, hb: Heartbeat): Promise<boolean> {
  return createExclusive(path, JSON.stringify(hb) + "\n");
}

/** Thrown by a writer whose run folder was deleted or moved while it held the lock. */
export class RunFolderGoneError extends Error {
  /** Creates the error for the run folder `runDir`. */
  constructor(runDir: string) {
    super(
      `the run folder ${runDir} was deleted or moved while this process was writing it; ` +
        `stopped (nothing is re-created). If it went to the trash, deno task runs restore ` +
        `brings it back and --resume continues it.`,
    );
    this.name = "RunFolderGoneError";
  }
}

/**
 * Takes the run's lock or throws {@linkcode RunLockedError} naming the live owner. A stale
 * lock is taken over (reported in `tookOver`). The heartbeat is renewed every
 * {@linkcode HEARTBEAT_INTERVAL_MS} without keeping the process alive.
 */
export async function acquireRunLock(runDir: string): Promise<RunLock> {
  const path = join(runDir, HEARTBEAT);
  const now = Date.now();
  const hb: Heartbeat = {
    host: thisHost(),
    pid: process.pid,
    token: crypto.randomUUID(),
    since: now,
    time: now,
  };
  let tookOver: RunLock["tookOver"];
  for (let attempt = 0; attempt < 5; attempt++) {
    if (await tryCreate(path, hb)) break;
    const current = await readHeartbeat(runDir);
    if (current && current.token === hb.token) break;
    const reason = current ? heartbeatStale(current) : undefined;
    if (current && !reason) throw new RunLockedError(runDir, current);
    // Stale (or unreadable for a while): move it aside; of two takers only one rename wins.
    if (!current) {
      const st = await confine(runDir, HEARTBEAT, "any").catch(() => null);
      const age = st?.stat.mtime ? Date.now() - st.stat.mtime.getTime() : Infinity;
      if (age < 2_000) {
        await new Promise((r) => setTimeout(r, 200));
        continue;
      }
    }
    const aside = `${path}.stale-${crypto.randomUUID().slice(0, 8)}`;
    try {
      await moveEntry(path, aside);
      await removeFile(aside).catch(() => {});
      if (current) tookOver = { owner: current, reason: reason! };
    } catch (err) {
      if (!(err instanceof FsError && err.status === 404)) throw err;
    }
    if (attempt === 4) {
      throw new Error(`${runDir}: could not take the run lock (another process keeps racing)`);
    }
  }
  let lost: Heartbeat | undefined;
  let gone = false;
  let released = false;
  const renew = async () => {
    if (released || lost || gone) return;
    const current = await readHeartbeat(runDir);
    if (current && current.token !== hb.token) {
      lost = current;
      return;
    }
    hb.time = Date.now();
    await writeFileAtomic(path, JSON.stringify(hb) + "\n", { sync: false, root: runDir })
      .catch((err) => {
        // The run folder is gone (deleted, moved to the trash): never re-created.
        if (err instanceof FsError && err.status === 404) gone = true;
      });
  };
  const timer = setInterval(() => void renew(), HEARTBEAT_INTERVAL_MS);
  unrefTimer(timer);
  let checkedAt = 0;
  return {
    heartbeat: hb,
    tookOver,
    assertHeld(recheckMs?: number) {
      if (lost) throw new RunLockedError(runDir, lost);
      if (!gone && !released) {
        const now = recheckMs ? Date.now() : 0;
        if (!recheckMs || now - checkedAt >= recheckMs) {
          checkedAt = now;
          // The lock file is ours while held: gone with its folder (deleted, trashed, moved).
          gone = !lockOrFolderThere(runDir, HEARTBEAT);
        }
      }
      if (gone) throw new RunFolderGoneError(runDir);
    },
    renew,
    async release() {
      if (released) return;
      released = true;
      clearInterval(timer);
      const current = await readHeartbeat(runDir);
      if (current?.token === hb.token) await removeFile(path).catch(() => {});
    },
    releaseSync() {
      if (released) return;
      released = true;
      clearInterval(timer);
      if (readHeartbeatSync(runDir)?.token === hb.token) {
        try {
          removeFileSync(path);
        } catch { /* best effort: an exit handler */ }
      }
    },
  };
}

/**
 * Whether a run that run.json says is `running` has a live process: `undefined` when it does
 * (or may: a heartbeat renewed lately), else why not. A run without a heartbeat file (killed
 * before it wrote one, or written by an older convdeck) counts as crashed when run.json has not
 * changed for {@linkcode HEARTBEAT_STALE_MS}.
 */
export async function runCrashReason(
  runDir: string,
  infoUpdatedAt: number,
  now: number = Date.now(),
): Promise<StaleReason | "no-heartbeat" | undefined> {
  return crashReasonOf(await readHeartbeat(runDir), infoUpdatedAt, now);
}

/**
 * {@linkcode runCrashReason} for a heartbeat already read (`undefined`: the run has none), for
 * readers that keep it (the run index rereads it only when the run's folder changed).
 *
 * @example
 * ```ts
 * import { crashReasonOf } from "./lock.ts";
 * crashReasonOf(undefined, Date.now() - 60_000); // "no-heartbeat"
 * ```
 */
export function crashReasonOf(
  hb: Heartbeat | undefined,
  infoUpdatedAt: number,
  now: number = Date.now(),
): StaleReason | "no-heartbeat" | undefined {
  if (hb) return heartbeatStale(hb, now);
  return now - infoUpdatedAt > HEARTBEAT_STALE_MS ? "no-heartbeat" : undefined;
}
