/**
 * Deleting runs: a run is moved (one rename) into the runs folder's trash, `<runs>/.trash/`,
 * which listings skip, `runs restore` takes back from and `runs gc` empties. A live run is
 * refused: one whose heartbeat (the run lock) is held by a live process, whatever run.json
 * says (the lock is held before the status becomes `running` on resume and after it becomes
 * `completed` during the final evaluation), or whose run.json says `running` and changed
 * lately; a crashed one may be deleted.
 *
 * @example
 * ```ts
 * import { emptyTrash, listTrash, trashRun } from "./trash.ts";
 * const runs = await Deno.makeTempDir();
 * await Deno.mkdir(`${runs}/old-run`);
 * await Deno.writeTextFile(`${runs}/old-run/run.json`, '{"id":"old-run","status":"completed"}');
 * await trashRun(runs, "old-run");
 * console.log(await listTrash(runs)); // [{ name: "old-run~20260101T000000-ab12", bytes: ... }]
 * console.log(await emptyTrash(runs)); // { runs: 1, bytes: ... }
 * ```
 *
 * @module
 */
import { join, resolve } from "node:path";
import { RUN_FILES, TRASH_DIR } from "./format.ts";
import { readRunInfo } from "./run_info.ts";
import { derivedStatus } from "./state.ts";
import { acquireRunLock, heartbeatStale, readHeartbeat, RunLockedError } from "./lock.ts";
import { ensureDirUnder, moveEntry, removeFile } from "../fs/atomic.ts";
import { confine, FsError, listConfined, safeSegments } from "../fs/confine.ts";

/**
 * Thrown when a run to delete is live.
 *
 * @example
 * ```ts
 * import { RunIsLiveError } from "./trash.ts";
 * console.log(new RunIsLiveError("r1", { pid: 42, host: "vm" }).message);
 * ```
 */
export class RunIsLiveError extends Error {
  /** Creates the error for run `id`. */
  constructor(id: string, owner?: { pid: number; host: string }) {
    super(
      `${id} is running${owner ? ` (pid ${owner.pid} on ${owner.host})` : ""}: stop it first ` +
        `(Ctrl-C in its terminal); a crashed run can be deleted`,
    );
    this.name = "RunIsLiveError";
  }
}

/**
 * Moves run `id` of `runsDir` to the trash; returns its path there. Throws when there is no
 * such run or it is live (see {@linkcode RunIsLiveError}).
 *
 * @example
 * ```ts
 * import { trashRun } from "./trash.ts";
 * const where = await trashRun("runs", "default-20261201-101010");
 * console.log(where); // runs/.trash/default-20261201-101010~...
 * ```
 */
export async function trashRun(runsDir: string, id: string): Promise<string> {
  const root = resolve(runsDir);
  if (!/^[^/\\]+$/.test(id) || id.startsWith(".")) {
    throw new Error(`bad run id ${JSON.stringify(id)}`);
  }
  const dir = join(root, id);
  const st = await Deno.lstat(dir).catch(() => null);
  if (!st?.isDirectory) throw new Error(`no run ${id} in ${runsDir}`);
  await assertNotLive(dir, id);
  // Hold the run's own lock while it moves: a writer starting or resuming between the check
  // above and the move cannot take it (and one that holds it makes this fail), so a folder is
  // never moved from under a live writer.
  let lock;
  try {
    lock = await acquireRunLock(dir);
  } catch (err) {
    if (err instanceof RunLockedError) throw new RunIsLiveError(id, err.owner);
    throw err;
  }
  const trash = await ensureDirUnder(root, TRASH_DIR);
  const stamp = new Date().toISOString().replace(/[-:]/g, "").replace(/\..*$/, "");
  const target = join(trash, `${id}~${stamp}-${crypto.randomUUID().slice(0, 4)}`);
  try {
    await moveEntry(dir, target);
  } finally {
    await lock.release(); // after the move it finds nothing at the old place: clears its timer
  }
  // The lock file moved with the folder: ours, so it goes.
  await removeFile(join(target, RUN_FILES.heartbeat)).catch(() => {});
  return target;
}

/**
 * Throws {@linkcode RunIsLiveError} when run folder `dir` has a live writer: a heartbeat held
 * by a live process (whatever run.json's status), or a `running` run.json without a stale
 * heartbeat. The check before any move or rename of a run folder.
 *
 * @example
 * ```ts
 * import { assertNotLive } from "./trash.ts";
 * await assertNotLive(await Deno.makeTempDir(), "r1"); // no heartbeat, no run.json: fine
 * ```
 */
export async function assertNotLive(dir: string, id: string): Promise<void> {
  const hb = await readHeartbeat(dir);
  if (hb && !heartbeatStale(hb)) throw new RunIsLiveError(id, hb);
  let info;
  try {
    info = await readRunInfo(dir);
  } catch {
    info = undefined; // an unreadable run can be deleted
  }
  if (info) {
    const state = await derivedStatus(dir, info);
    if (state.status === "running") throw new RunIsLiveError(id, hb);
  }
}

async function sizeOf(path: string): Promise<number> {
  const st = await Deno.lstat(path).catch(() => null);
  if (!st) return 0;
  if (!st.isDirectory) return st.size;
  let total = 0;
  for await (const e of Deno.readDir(path)) total += await sizeOf(join(path, e.name));
  return total;
}

/**
 * The runs in the trash (folder names) with their sizes in bytes.
 *
 * @example
 * ```ts
 * import { listTrash } from "./trash.ts";
 * for (const item of await listTrash("runs")) console.log(item.name, item.bytes);
 * ```
 */
export async function listTrash(runsDir: string): Promise<{ name: string; bytes: number }[]> {
  const root = resolve(runsDir);
  const trash = join(root, TRASH_DIR);
  const out: { name: string; bytes: number }[] = [];
  // A trash that is a symlink is refused (FsError); what is in it is listed as it is.
  const { entries, skipped } = await listConfined(root, TRASH_DIR, { scope: "the runs folder" });
  for (const e of [...entries.map((e) => e.name), ...skipped]) {
    out.push({ name: e, bytes: await sizeOf(join(trash, e)) });
  }
  return out.sort((a, b) => a.name.localeCompare(b.name));
}

/**
 * Deletes everything in the trash for good; returns how many runs and bytes were freed.
 *
 * @example
 * ```ts
 * import { emptyTrash } from "./trash.ts";
 * const { runs, bytes } = await emptyTrash("runs");
 * console.log(`${runs} runs, ${bytes} bytes freed`);
 * ```
 */
export async function emptyTrash(runsDir: string): Promise<{ runs: number; bytes: number }> {
  const trash = join(resolve(runsDir), TRASH_DIR);
  const items = await listTrash(runsDir);
  for (const item of items) await Deno.remove(join(trash, item.name), { recursive: true });
  return { runs: items.length, bytes: items.reduce((n, i) => n + i.bytes, 0) };
}

/**
 * Moves a run back from the trash (`name` as {@linkcode listTrash} gives it, or the run id when
 * one trashed run has it) to its id; returns the id. Refuses when a run with that id exists.
 *
 * @example
 * ```ts
 * import { restoreRun } from "./trash.ts";
 * await restoreRun("runs", "default-20261201-101010"); // back in runs/
 * ```
 */
export async function restoreRun(runsDir: string, name: string): Promise<string> {
  const root = resolve(runsDir);
  const items = await listTrash(runsDir);
  const matches = items.filter((i) => i.name === name || i.name.split("~")[0] === name);
  if (matches.length === 0) throw new Error(`no ${name} in the trash of ${runsDir}`);
  if (matches.length > 1) {
    throw new Error(
      `${name} is in the trash ${matches.length} times: name one of ${
        matches.map((m) => m.name).join(", ")
      }`,
    );
  }
  const id = matches[0].name.split("~")[0];
  safeSegments(id);
  const target = join(root, id);
  if (await Deno.lstat(target).then(() => true, () => false)) {
    throw new Error(`a run ${id} exists again in ${runsDir}; rename or delete it first`);
  }
  await confine(root, `${TRASH_DIR}/${matches[0].name}`, "dir", { scope: "the runs folder" });
  try {
    await moveEntry(join(root, TRASH_DIR, matches[0].name), target);
  } catch (err) {
    if (err instanceof FsError && err.status === 409) {
      throw new Error(`a run ${id} exists again in ${runsDir}; rename or delete it first`);
    }
    throw err;
  }
  return id;
}
