/**
 * The sweep folder, owned by this module: `sweeps/<sweep-id>/sweep.json` records the spec, the
 * experiment's fingerprint and every trial's settings (written once); `trials/<key>.json`
 * holds each trial's state (written atomically on every change, by the one controller of the
 * sweep). Runs themselves stay in the normal runs folder, tagged in run.json's config with
 * `sweep: { id, trial }`.
 *
 * @example
 * ```ts ignore
 * import { readSweep, readTrialStates } from "./store.ts";
 * const sweep = await readSweep("sweeps/default-1a2b3c4d");
 * const states = await readTrialStates(sweep.dir, sweep.record);
 * console.log(states.map((s) => `${s.key} ${s.status}`));
 * ```
 *
 * @module
 */
import { dirname, join, resolve, sep } from "node:path";
import { writeFileAtomic } from "../core/fs/atomic.ts";
import { existsConfined, readConfinedText } from "../core/fs/confine.ts";
import { RUN_FILE_NAMES } from "../core/run/artifacts.ts";
import type { ParamValue } from "../core/experiment/params.ts";
import { type SweepSpec, type TrialPlan, validateSpec } from "./spec.ts";
import { sha256Hex } from "../core/sha256.ts";

/** sweep.json. */
export interface SweepRecord {
  /** Format version. */
  format: 1;
  /** `<name>-<8 hex digits of sha256(spec, experiment code)>`. */
  id: string;
  /** The validated spec. */
  spec: SweepSpec;
  /** How trials load the experiment: a built-in name or an absolute file path. */
  experimentSource: string;
  /** sha256 of the experiment module's file. */
  experimentSha256: string;
  /** The convdeck version that planned the sweep. */
  convdeckVersion: string;
  /** Every trial, in order. */
  trials: TrialPlan[];
  /** Each trial's epoch count as resolved (its settings over the experiment's defaults). */
  plannedEpochs: number[];
  /** ISO time. */
  createdAt: string;
  /** The queue's name when the sweep runs on a queue (`--queue`); absent for a local sweep. */
  queue?: string;
  /** The runs folder (absolute) the sweep was started with; `--resume` uses it. */
  runsDir?: string;
  /**
   * A random id made with the sweep folder (part of its queue job ids, so that jobs never
   * outlive their folder); absent in folders made before it existed.
   */
  folderId?: string;
}

/** Where a trial stands. */
export type TrialStatus =
  | "pending"
  | "running"
  | "completed"
  | "pruned"
  | "failed"
  | "stopped";

/** trials/<key>.json. */
export interface TrialState {
  /** `t000` ... */
  key: string;
  /** 0-based index. */
  index: number;
  /** Where the trial stands; `stopped` means interrupted, resumable. */
  status: TrialStatus;
  /** The trial's parameters. */
  params: Record<string, ParamValue>;
  /** The run directory, once created. */
  runDir?: string;
  /** The best value of the sweep metric. */
  value?: number;
  /** Finished epochs. */
  epochs?: number;
  /** Why it was pruned, stopped or failed. */
  reason?: string;
  /** How many times a process started working on it (1 = never interrupted). */
  attempts: number;
  /** Who ran it last (host:pid or a queue worker). */
  worker?: string;
  /** ISO time of this state. */
  updatedAt: string;
}

const SWEEP_FILE = "sweep.json";
const TRIALS_DIR = "trials";

/** A finished trial keeps its state: completed, pruned, failed. */
export const FINISHED: readonly TrialStatus[] = ["completed", "pruned", "failed"];

export { sha256Hex };

/**
 * The sweep id: deterministic from the spec and the experiment's code.
 *
 * @example
 * ```ts
 * import { sweepIdOf } from "./store.ts";
 * import { validateSpec } from "./spec.ts";
 * const spec = validateSpec({ name: "lr", parameters: { w: { values: [8] } }, metric: "val_acc" });
 * await sweepIdOf(spec, "0".repeat(64)); // "lr-" + 8 hex digits, the same every time
 * ```
 */
export async function sweepIdOf(spec: SweepSpec, experimentSha256: string): Promise<string> {
  const h = await sha256Hex(JSON.stringify({ spec, experimentSha256 }));
  return `${spec.name}-${h.slice(0, 8)}`;
}

/** The state of a trial nothing has run yet. */
function pendingState(t: SweepRecord["trials"][number]): TrialState {
  return {
    key: t.key,
    index: t.index,
    status: "pending",
    params: { ...t.params },
    attempts: 0,
    updatedAt: new Date().toISOString(),
  };
}

/** The most bytes sweep.json or a trial's state file may have. */
const MAX_SWEEP_FILE_BYTES = 64 * 1024 * 1024;

/** Sweep files are read by the confinement policy (no symlink, FIFO or device; capped). */
const IN_SWEEP = { scope: "a sweep folder" };

/**
 * Creates `sweepsDir/<id>/` with sweep.json and a pending state per trial; throws if it exists.
 *
 * @example
 * ```ts ignore
 * import { createSweep } from "./store.ts";
 * const dir = await createSweep("sweeps", record); // sweeps/<id>/sweep.json + trials/t000.json ...
 * ```
 */
export async function createSweep(
  sweepsDir: string,
  record: SweepRecord,
): Promise<string> {
  const dir = resolve(sweepsDir, record.id);
  await Deno.mkdir(sweepsDir, { recursive: true });
  try {
    await Deno.mkdir(dir);
  } catch (err) {
    if (err instanceof Deno.errors.AlreadyExists) {
      throw new Error(
        `${dir} exists: this spec was swept before; continue it with --resume ${dir}`,
      );
    }
    throw err;
  }
  for (const t of record.trials) await writeTrialState(dir, pendingState(t));
  const folderId = record.folderId ?? crypto.randomUUID().slice(0, 8);
  await writeFileAtomic(
    join(dir, SWEEP_FILE),
    JSON.stringify({ ...record, folderId }, null, 2) + "\n",
    { root: dir },
  );
  return dir;
}

/**
 * Reads a sweep folder's sweep.json (validating its spec again).
 *
 * @example
 * ```ts ignore
 * import { readSweep } from "./store.ts";
 * const { dir, record } = await readSweep("sweeps/lr-1a2b3c4d");
 * console.log(record.trials.length);
 * ```
 */
export async function readSweep(dir: string): Promise<{ dir: string; record: SweepRecord }> {
  const abs = resolve(dir);
  let raw: unknown;
  try {
    raw = JSON.parse(await readConfinedText(abs, SWEEP_FILE, MAX_SWEEP_FILE_BYTES, IN_SWEEP));
  } catch (err) {
    throw new Error(`${abs} is not a sweep folder (${(err as Error).message})`);
  }
  const r = raw as SweepRecord;
  if (r?.format !== 1 || typeof r.id !== "string" || !Array.isArray(r.trials)) {
    throw new Error(`${abs}/${SWEEP_FILE} is not a convdeck sweep record`);
  }
  return { dir: abs, record: { ...r, spec: validateSpec(r.spec) } };
}

/**
 * Writes one trial's state atomically.
 *
 * @example
 * ```ts ignore
 * import { writeTrialState } from "./store.ts";
 * await writeTrialState(dir, { ...state, status: "running", attempts: state.attempts + 1 });
 * ```
 */
export async function writeTrialState(dir: string, state: TrialState): Promise<void> {
  await writeFileAtomic(
    join(dir, TRIALS_DIR, `${state.key}.json`),
    JSON.stringify(state) + "\n",
    { sync: false, root: dir },
  );
}

/**
 * Every trial's state, in trial order (a missing or unreadable file reads as pending).
 *
 * @example
 * ```ts ignore
 * import { readSweep, readTrialStates } from "./store.ts";
 * const { dir, record } = await readSweep("sweeps/lr-1a2b3c4d");
 * for (const s of await readTrialStates(dir, record)) console.log(s.key, s.status, s.value);
 * ```
 */
export async function readTrialStates(
  dir: string,
  record: SweepRecord,
): Promise<TrialState[]> {
  return await Promise.all(record.trials.map(async (t) => {
    try {
      const s = JSON.parse(
        await readConfinedText(dir, `${TRIALS_DIR}/${t.key}.json`, MAX_SWEEP_FILE_BYTES, IN_SWEEP),
      ) as TrialState;
      if (s.key === t.key && typeof s.status === "string") return s;
    } catch { /* pending */ }
    return pendingState(t);
  }));
}

/**
 * Lists the sweep folders in `sweepsDir` (newest first); a missing folder gives none.
 *
 * @example
 * ```ts ignore
 * import { listSweeps } from "./store.ts";
 * for (const s of await listSweeps("sweeps")) console.log(s.record.id, s.record.spec.metric);
 * ```
 */
export async function listSweeps(
  sweepsDir: string,
): Promise<{ dir: string; record: SweepRecord }[]> {
  const out: { dir: string; record: SweepRecord }[] = [];
  try {
    for await (const e of Deno.readDir(sweepsDir)) {
      if (!e.isDirectory) continue;
      try {
        out.push(await readSweep(join(sweepsDir, e.name)));
      } catch { /* not a sweep */ }
    }
  } catch (err) {
    if (!(err instanceof Deno.errors.NotFound)) throw err;
  }
  return out.sort((a, b) => b.record.createdAt.localeCompare(a.record.createdAt));
}

/**
 * Finished trials whose run folder is gone (deleted after the trial ended) go back to pending,
 * so that the sweep trains them again instead of reporting a result nobody can open. A run
 * counts as gone when its run.json is missing while its runs folder is visible from here (or
 * it lies in the sweep's own runs folder); returns the keys reset.
 *
 * @example
 * ```ts ignore
 * import { readSweep, resetGoneTrials } from "./store.ts";
 * const { dir, record } = await readSweep("sweeps/lr-1a2b3c4d");
 * await resetGoneTrials(dir, record); // ["t002"] after runs/<t002's run> was deleted
 * ```
 */
export async function resetGoneTrials(dir: string, record: SweepRecord): Promise<string[]> {
  const exists = (p: string) => Deno.stat(p).then(() => true, () => false);
  const reset: string[] = [];
  for (const s of await readTrialStates(dir, record)) {
    if (!FINISHED.includes(s.status) || !s.runDir) continue;
    if (await existsConfined(s.runDir, RUN_FILE_NAMES.info).catch(() => false)) continue;
    const ours = record.runsDir !== undefined && s.runDir.startsWith(record.runsDir + sep);
    if (!ours && !(await exists(dirname(s.runDir)))) continue; // not visible from here
    await writeTrialState(dir, {
      ...pendingState(record.trials[s.index]),
      attempts: s.attempts,
      reason: `its run ${s.runDir} was deleted: trained again`,
    });
    reset.push(s.key);
  }
  return reset;
}
