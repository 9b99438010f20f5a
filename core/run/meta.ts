/**
 * A run's metadata sidecar, `meta.json`: the name, tags, note and archived flag a user gives a
 * run (at train time or later). It is the only file of a run that is edited after the fact,
 * and it is never run.json, which belongs to the trainer while the run is live.
 *
 * Edits are read-modify-write under an exclusive lock file (`meta.json.lock`, created with
 * `createNew`, so one editor at a time; a lock left by a dead editor is broken after a few
 * seconds) and the new content is written atomically (temporary file, then rename): two edits
 * that race both land, and a crash leaves the old sidecar or the new one. A corrupt sidecar
 * never hides the run: readers get the defaults plus the problem, and edits are refused
 * (nothing is changed) until it is fixed or removed.
 *
 * @example
 * ```ts
 * import { readRunMeta, updateRunMeta } from "./meta.ts";
 * const dir = await Deno.makeTempDir();
 * await updateRunMeta(dir, (m) => ({ ...m, tags: [...m.tags, "baseline"] }));
 * const { meta } = await readRunMeta(dir);
 * console.log(meta.tags); // ["baseline"]
 * ```
 *
 * @module
 */
import { join } from "node:path";
import process from "node:process";
import { createExclusive, linkBack, moveEntry, removeFile, writeFileAtomic } from "../fs/atomic.ts";
import { confine, FsError, readConfinedText } from "../fs/confine.ts";
import { errorCode } from "../fs/os_error.ts";
import { RUN_FILES } from "./format.ts";
import { processAlive, thisHost } from "./lock.ts";

/** The content of `meta.json`. */
export interface RunMeta {
  /** A display name (the id stays the folder name). */
  name?: string;
  /** Tags, unique, in the order added. */
  tags: string[];
  /** A free-form note. */
  note?: string;
  /** Archived runs are hidden from listings unless asked for. */
  archived: boolean;
  /** Bumped by every edit. */
  revision: number;
  /** ISO time of the last edit. */
  updatedAt?: string;
}

/** What {@linkcode readRunMeta} returns. */
export interface RunMetaRead {
  /** The sidecar's content (the defaults when there is none or it is corrupt). */
  meta: RunMeta;
  /** Why the sidecar could not be used (corrupt, wrong types, too large). */
  problem?: string;
}

/** The most bytes `meta.json` may have. */
export const MAX_META_BYTES = 256 * 1024;
/** The longest name. */
export const MAX_NAME_LENGTH = 200;
/** The longest note. */
export const MAX_NOTE_LENGTH = 20_000;
/** What a tag may look like. */
export const TAG_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_.:+-]{0,63}$/;

/**
 * Metadata of a run without a sidecar.
 *
 * @example
 * ```ts
 * import { emptyMeta } from "./meta.ts";
 * emptyMeta(); // { tags: [], archived: false, revision: 0 }
 * ```
 */
export function emptyMeta(): RunMeta {
  return { tags: [], archived: false, revision: 0 };
}

/**
 * Throws a clear error when `name` is not a usable run name.
 *
 * @example
 * ```ts
 * import { checkName } from "./meta.ts";
 * checkName("  wide run "); // "wide run"
 * ```
 */
export function checkName(name: string): string {
  const n = name.trim();
  // deno-lint-ignore no-control-regex
  if (n === "" || n.length > MAX_NAME_LENGTH || /[\u0000-\u001f\u007f]/.test(n)) {
    throw new Error(
      `a run name must be 1..${MAX_NAME_LENGTH} characters without control characters, got ` +
        JSON.stringify(name.slice(0, 60)),
    );
  }
  return n;
}

/**
 * Throws a clear error when `tag` does not match {@linkcode TAG_PATTERN}.
 *
 * @example
 * ```ts
 * import { checkTag } from "./meta.ts";
 * checkTag("lr-sweep"); // "lr-sweep"; checkTag("two words") throws
 * ```
 */
export function checkTag(tag: string): string {
  if (!TAG_PATTERN.test(tag)) {
    throw new Error(
      `a tag is 1..64 letters, digits and _ . : + - (starting with a letter or digit), got ` +
        JSON.stringify(tag.slice(0, 70)),
    );
  }
  return tag;
}

/**
 * Throws a clear error when `note` is too long.
 *
 * @example
 * ```ts
 * import { checkNote } from "./meta.ts";
 * checkNote("diverged after epoch 5");
 * ```
 */
export function checkNote(note: string): string {
  if (note.length > MAX_NOTE_LENGTH) {
    throw new Error(`a note has at most ${MAX_NOTE_LENGTH} characters, got ${note.length}`);
  }
  return note;
}

/**
 * Checks a parsed sidecar; throws naming the first problem.
 *
 * @example
 * ```ts
 * import { validateMeta } from "./meta.ts";
 * validateMeta({ tags: ["a"], archived: true }).archived; // true
 * ```
 */
export function validateMeta(raw: unknown): RunMeta {
  if (typeof raw !== "object" || raw === null || Array.isArray(raw)) {
    throw new Error("not a JSON object");
  }
  const r = raw as Record<string, unknown>;
  const meta = emptyMeta();
  if (r.name !== undefined) {
    if (typeof r.name !== "string") throw new Error("name should be a string");
    meta.name = checkName(r.name);
  }
  if (r.tags !== undefined) {
    if (!Array.isArray(r.tags) || !r.tags.every((t) => typeof t === "string")) {
      throw new Error("tags should be a list of strings");
    }
    meta.tags = [...new Set((r.tags as string[]).map(checkTag))];
  }
  if (r.note !== undefined) {
    if (typeof r.note !== "string") throw new Error("note should be a string");
    meta.note = checkNote(r.note);
  }
  if (r.archived !== undefined) {
    if (typeof r.archived !== "boolean") throw new Error("archived should be true or false");
    meta.archived = r.archived;
  }
  if (r.revision !== undefined) {
    if (typeof r.revision !== "number" || !Number.isInteger(r.revision) || r.revision < 0) {
      throw new Error("revision should be a non-negative integer");
    }
    meta.revision = r.revision;
  }
  if (typeof r.updatedAt === "string") meta.updatedAt = r.updatedAt;
  return meta;
}

/**
 * Reads `meta.json` of `runDir`: the defaults when there is none; the defaults and a
 * `problem` when it is corrupt (never throws for a bad sidecar).
 *
 * @example
 * ```ts
 * import { readRunMeta } from "./meta.ts";
 * const { meta, problem } = await readRunMeta("runs/default-20261201-101010");
 * console.log(meta.tags, problem ?? "ok");
 * ```
 */
export async function readRunMeta(runDir: string): Promise<RunMetaRead> {
  let text: string;
  try {
    text = await readConfinedText(runDir, RUN_FILES.meta, MAX_META_BYTES);
  } catch (err) {
    if (err instanceof FsError && err.status === 404) return { meta: emptyMeta() };
    return { meta: emptyMeta(), problem: `${RUN_FILES.meta}: ${(err as Error).message}` };
  }
  try {
    return { meta: validateMeta(JSON.parse(text)) };
  } catch (err) {
    return {
      meta: emptyMeta(),
      problem: `${RUN_FILES.meta} is corrupt (${(err as Error).message}); fix or delete it`,
    };
  }
}

/** How long an editor waits for another's lock before giving up, in ms. */
const LOCK_WAIT_MS = 5_000;
/** A lock file older than this (ms) was left by an editor that died. */
const LOCK_STALE_MS = 10_000;

/** The most bytes a metadata lock file may have (host, pid, token, time). */
const MAX_LOCK_BYTES = 4096;

async function takeMetaLock(runDir: string): Promise<() => Promise<void>> {
  const path = join(runDir, RUN_FILES.metaLock);
  // A lock that is not a small regular file (a FIFO, a symlink to a device) reads as "" and
  // is broken once old, never opened.
  const readLock = (name: string) => readConfinedText(runDir, name, MAX_LOCK_BYTES).catch(() => "");
  const token = crypto.randomUUID();
  const started = Date.now();
  for (let wait = 5;; wait = Math.min(100, wait * 2)) {
    try {
      const mine = JSON.stringify({ host: thisHost(), pid: process.pid, token, time: Date.now() });
      if (await createExclusive(path, mine)) {
        return async () => {
          const text = await readLock(RUN_FILES.metaLock);
          if (text.includes(token)) await removeFile(path).catch(() => {});
        };
      }
    } catch (err) {
      if (errorCode(err) !== "EEXIST") throw err;
    }
    // Someone else is editing. Break the lock only when its editor is surely gone: its process
    // is dead (this host) or the lock is old. The judgement is about one lock file (its text,
    // with the holder's token): the lock is moved aside, and put back if what was moved is not
    // the lock that was judged (a new editor took the lock in between).
    let text = "";
    let holder: { host?: string; pid?: number; token?: string } = {};
    try {
      text = await readLock(RUN_FILES.metaLock);
      holder = JSON.parse(text);
    } catch { /* half written, just removed, or not a regular file */ }
    const st = await confine(runDir, RUN_FILES.metaLock, "any").then((c) => c.stat, (e) => {
      // Not a regular file or folder (a FIFO, a symlink, a device): there, but no lock.
      return e instanceof FsError && e.status === 400 ? { isFile: false, mtime: null } : null;
    });
    const age = st?.mtime ? Date.now() - st.mtime.getTime() : 0;
    const dead = holder.host === thisHost() && typeof holder.pid === "number" &&
      !processAlive(holder.pid) &&
      // The holder may have released its lock and exited after the read above, and another
      // editor taken the lock since: judge only a lock still there once its holder is dead.
      await readLock(RUN_FILES.metaLock) === text;
    // Not a regular file (a FIFO, a symlink, a device): no editor made it, it is no lock.
    const bogus = st !== null && !st.isFile;
    if (
      st && (dead || bogus || age > LOCK_STALE_MS) && (text !== "" || bogus || age > LOCK_STALE_MS)
    ) {
      const asideName = `${RUN_FILES.metaLock}.stale-${crypto.randomUUID().slice(0, 8)}`;
      const aside = join(runDir, asideName);
      try {
        await moveEntry(path, aside);
      } catch {
        continue; // gone meanwhile
      }
      const moved = await readLock(asideName);
      if (dead && moved !== text) {
        // A live editor's lock: give it back. This fails only if yet another editor created
        // the lock in the same instant; those two could then overlap (never seen in tests).
        await linkBack(aside, path);
      }
      await removeFile(aside).catch(() => {});
      continue;
    }
    if (Date.now() - started > LOCK_WAIT_MS) {
      throw new Error(
        `another edit of this run's metadata is in progress (${RUN_FILES.metaLock} held by pid ` +
          `${holder.pid ?? "?"} on ${holder.host ?? "?"}); try again`,
      );
    }
    await new Promise((r) => setTimeout(r, wait));
  }
}

/**
 * Applies `edit` to the run's metadata under the sidecar lock and writes the result
 * atomically; returns the new metadata. Refuses (changing nothing) when the sidecar is
 * corrupt, when `edit` throws, or when the result is invalid.
 *
 * @example
 * ```ts
 * import { updateRunMeta } from "./meta.ts";
 * const dir = await Deno.makeTempDir();
 * await updateRunMeta(dir, (m) => ({ ...m, note: "first try" }));
 * ```
 */
export async function updateRunMeta(
  runDir: string,
  edit: (meta: RunMeta) => RunMeta,
): Promise<RunMeta> {
  const st = await confine(runDir, "", "dir").catch(() => null);
  if (!st?.stat.isDirectory) throw new Error(`${runDir} is not a run folder`);
  const release = await takeMetaLock(runDir);
  try {
    const { meta, problem } = await readRunMeta(runDir);
    if (problem) throw new Error(`${problem}; nothing was changed`);
    const next = validateMeta(edit(structuredClone(meta)));
    next.revision = meta.revision + 1;
    next.updatedAt = new Date().toISOString();
    await writeFileAtomic(join(runDir, RUN_FILES.meta), JSON.stringify(next, null, 2) + "\n", {
      root: runDir,
    });
    return next;
  } finally {
    await release();
  }
}

/** What a metadata edit asks for (any subset). */
export interface MetaEdit {
  /** New name; `null` clears it. */
  name?: string | null;
  /** Tags to add. */
  addTags?: string[];
  /** Tags to remove. */
  removeTags?: string[];
  /** New note; `null` or `""` clears it. */
  note?: string | null;
  /** Archive or unarchive. */
  archived?: boolean;
}

/**
 * Applies a {@linkcode MetaEdit} to `meta` (pure); throws on a bad name, tag or note.
 *
 * @example
 * ```ts
 * import { applyMetaEdit, emptyMeta } from "./meta.ts";
 * applyMetaEdit(emptyMeta(), { addTags: ["baseline"], name: "small lr" }).tags; // ["baseline"]
 * ```
 */
export function applyMetaEdit(meta: RunMeta, e: MetaEdit): RunMeta {
  const out: RunMeta = { ...meta, tags: [...meta.tags] };
  if (e.name === null) delete out.name;
  else if (e.name !== undefined) out.name = checkName(e.name);
  for (const t of e.addTags ?? []) if (!out.tags.includes(checkTag(t))) out.tags.push(t);
  const drop = new Set(e.removeTags ?? []);
  out.tags = out.tags.filter((t) => !drop.has(t));
  if (e.note === null || e.note === "") delete out.note;
  else if (e.note !== undefined) out.note = checkNote(e.note);
  if (e.archived !== undefined) out.archived = e.archived;
  return out;
}
