/**
 * Which saved weights of a run to use: the one rule shared by `evaluate`, `predict` and the
 * dashboard. The best checkpoint when there is one, else the most recently written other
 * checkpoint folder, else the newest resume point.
 *
 * @module
 */
import { basename, isAbsolute, join } from "node:path";
import { RUN_FILES } from "./format.ts";
import { CHECKPOINT_FILES, MAX_MANIFEST_BYTES } from "./checkpoint_writer.ts";
import { confine, FsError, listConfined, readConfinedText, safeSegments } from "../fs/confine.ts";
import { ensureDirUnder, moveEntry, writeFileAtomic } from "../fs/atomic.ts";

/** Where a run's weights were found. */
export interface RunWeights {
  /** Checkpoint name relative to `checkpoints/`: `best`, `epoch-03`, `resume/e0007`. */
  name: string;
  /** Absolute or run-relative directory holding model.json and the weights. */
  dir: string;
  /** What kind of checkpoint it is. */
  kind: "best" | "checkpoint" | "resume";
}

const MODEL_JSON = CHECKPOINT_FILES.model;
const RESUME = "resume";
const BEST = "best";
const QUARANTINE = "quarantine";

/** A position in training: the resume point's name is derived from it. */
export interface PointPosition {
  /** 0-based epoch. */
  epoch: number;
  /** Batches already done in that epoch (0 at an epoch boundary). */
  batch: number;
}

/** Name of the resume point for a position: `e0005` at an epoch boundary, `e0005-b00012` inside. */
export function resumePointName(p: PointPosition): string {
  const e = `e${String(p.epoch).padStart(4, "0")}`;
  return p.batch > 0 ? `${e}-b${String(p.batch).padStart(5, "0")}` : e;
}

/** Parses a resume point's folder name; `undefined` for anything else (temp folders too). */
export function parseResumePointName(name: string): PointPosition | undefined {
  const m = /^e(\d+)(?:-b(\d+))?$/.exec(name);
  return m ? { epoch: Number(m[1]), batch: Number(m[2] ?? 0) } : undefined;
}

/** The folder holding a run's resume points. */
export function resumePointsDir(runDir: string): string {
  return join(runDir, RUN_FILES.checkpoints, RESUME);
}

/** The folder of the resume point for `position`. */
export function resumePointDir(runDir: string, position: PointPosition): string {
  return join(resumePointsDir(runDir), resumePointName(position));
}

/**
 * The folder of a named checkpoint of a run (`best`, or a `ModelCheckpoint` file path
 * relative to `checkpoints/`); an absolute name is used as it is.
 */
export function checkpointDir(runDir: string, name: string = BEST): string {
  return isAbsolute(name) ? name : join(runDir, RUN_FILES.checkpoints, name);
}

/** A resume point's save order: its manifest's sequence, then its time (0 when unknown). */
async function saveOrder(dir: string): Promise<{ sequence: number; time: number }> {
  try {
    const m = JSON.parse(
      await readConfinedText(dir, CHECKPOINT_FILES.manifest, MAX_MANIFEST_BYTES),
    );
    const t = Date.parse(m?.savedAt);
    return {
      sequence: Number.isInteger(m?.sequence) ? m.sequence : 0,
      time: Number.isFinite(t) ? t : 0,
    };
  } catch {
    const st = await Deno.lstat(dir).catch(() => null);
    return { sequence: 0, time: st?.mtime?.getTime() ?? 0 };
  }
}

/**
 * The resume points of a run directory (absolute folders), newest save first: by the save
 * sequence in their manifests (a point saved after a restart at epoch 1 is newer than stale
 * points of epoch 5, whatever the clock did), then save time, then position.
 */
export async function listResumePoints(runDir: string): Promise<string[]> {
  const dir = resumePointsDir(runDir);
  const found: { name: string; epoch: number; batch: number; sequence: number; time: number }[] =
    [];
  // Never through a symlinked checkpoints/ or resume/ (refused), nor a symlinked point.
  const { entries } = await listConfined(runDir, `${RUN_FILES.checkpoints}/${RESUME}`);
  for (const e of entries) {
    const p = e.isDirectory ? parseResumePointName(e.name) : undefined;
    if (p) found.push({ name: e.name, ...p, ...(await saveOrder(join(dir, e.name))) });
  }
  found.sort((a, b) =>
    b.sequence - a.sequence || b.time - a.time || b.epoch - a.epoch || b.batch - a.batch
  );
  return found.map((f) => join(dir, f.name));
}

/** The next save sequence number for a run's resume points (1 + the highest so far). */
export async function nextResumeSequence(runDir: string): Promise<number> {
  let max = 0;
  for (const p of await listResumePoints(runDir)) {
    max = Math.max(max, (await saveOrder(p)).sequence);
  }
  return max + 1;
}

/**
 * Moves an unusable resume point to `checkpoints/quarantine/<name>-<time>/` with a
 * `reason.txt`; returns where it went.
 */
export async function quarantineResumePoint(
  runDir: string,
  pointDir: string,
  reason: string,
): Promise<string> {
  const root = await ensureDirUnder(runDir, `${RUN_FILES.checkpoints}/${QUARANTINE}`);
  const name = pointDir.split(/[\\/]/).pop()!;
  const to = join(root, `${name}-${new Date().toISOString().replace(/[:.]/g, "-")}`);
  await moveEntry(pointDir, to);
  await writeFileAtomic(join(to, "reason.txt"), reason + "\n", { root: runDir }).catch(() => {});
  return to;
}

/**
 * The names of a run's checkpoint folders (`best`, `epoch-03`, ...; resume points are
 * listed by {@linkcode listResumePoints}). Symlinks are not listed.
 */
export async function listCheckpointNames(runDir: string): Promise<string[]> {
  try {
    const { entries } = await listConfined(runDir, RUN_FILES.checkpoints);
    return entries.filter((e) => e.isDirectory).map((e) => e.name).sort();
  } catch (err) {
    if (err instanceof FsError) return []; // a symlinked or special checkpoints/: none
    throw err;
  }
}

/**
 * The modification time of `model.json` in the checkpoint folder `rel` below `root` (by the
 * confinement policy: no symlink, no special file on the way); `undefined` when missing.
 */
async function modelMtime(root: string, rel: string): Promise<number | undefined> {
  try {
    const { stat } = await confine(root, rel ? `${rel}/${MODEL_JSON}` : MODEL_JSON);
    return stat.mtime?.getTime() ?? 0;
  } catch (err) {
    if (err instanceof FsError && err.status === 404) return undefined;
    throw err;
  }
}

async function newestIn(
  runDir: string,
  rel: string,
  accept: (name: string) => boolean,
): Promise<{ name: string; mtime: number } | undefined> {
  let best: { name: string; mtime: number } | undefined;
  for (const e of (await listConfined(runDir, rel)).entries) {
    if (!e.isDirectory || !accept(e.name)) continue;
    const mtime = await modelMtime(runDir, `${rel}/${e.name}`);
    if (mtime !== undefined && (!best || mtime > best.mtime)) best = { name: e.name, mtime };
  }
  return best;
}

/**
 * Finds the weights to use for a run directory, or throws an error that says what is
 * missing. Resume points are named `resume/<point>`.
 *
 * @example
 * ```ts
 * import { findRunWeights } from "./checkpoints.ts";
 * const w = await findRunWeights("runs/default-20261201-101010").catch(() => undefined);
 * console.log(w?.name); // "best", or "resume/e0014" when the run has no best checkpoint
 * ```
 */
export async function findRunWeights(runDir: string): Promise<RunWeights> {
  const root = join(runDir, RUN_FILES.checkpoints);
  const ck = RUN_FILES.checkpoints;
  if (await modelMtime(runDir, `${ck}/${BEST}`) !== undefined) {
    return { name: BEST, dir: join(root, BEST), kind: "best" };
  }
  const other = await newestIn(
    runDir,
    ck,
    (n) => n !== RESUME && n !== BEST && n !== QUARANTINE,
  );
  if (other) return { name: other.name, dir: join(root, other.name), kind: "checkpoint" };
  const resume = await newestIn(
    runDir,
    `${ck}/${RESUME}`,
    (n) => parseResumePointName(n) !== undefined,
  );
  if (resume) {
    const name = `${RESUME}/${resume.name}`;
    return { name, dir: join(root, RESUME, resume.name), kind: "resume" };
  }
  throw new Error(
    `${root} has no checkpoint (no best/, other checkpoint or resume point with model.json): ` +
      `train the run for at least one epoch first`,
  );
}

/**
 * The weights of the checkpoint named `name` (`best`, `epoch-03`, `resume/e0007`) of a run.
 * Throws an error naming the folder when the name is not a plain relative folder name or the
 * folder has no model.json.
 *
 * @example
 * ```ts
 * import { namedRunWeights } from "./checkpoints.ts";
 * const w = await namedRunWeights("runs/default-20261201-101010", "resume/e0003")
 *   .catch((e) => console.error(e.message));
 * console.log(w?.kind); // "resume"
 * ```
 */
export async function namedRunWeights(runDir: string, name: string): Promise<RunWeights> {
  let parts: string[];
  try {
    parts = safeSegments(name);
    if (parts.length === 0) throw new Error("empty");
  } catch {
    throw new Error(`bad checkpoint name "${name}": give a folder under ${RUN_FILES.checkpoints}/`);
  }
  const dir = join(runDir, RUN_FILES.checkpoints, ...parts);
  if (await modelMtime(runDir, [RUN_FILES.checkpoints, ...parts].join("/")) === undefined) {
    throw new Error(`${join(dir, MODEL_JSON)} does not exist: no checkpoint "${name}" in this run`);
  }
  const kind = name === "best" ? "best" : parts[0] === RESUME ? "resume" : "checkpoint";
  return { name, dir, kind };
}

/**
 * A stamp that changes when the weights in `weights.dir` are rewritten (the modification
 * time of its model.json, in ms; `undefined` when it is gone), so a long-lived reader such as
 * the dashboard's predictor cache can tell that `best` was saved again.
 *
 * @example
 * ```ts
 * import { findRunWeights, weightsStamp } from "./checkpoints.ts";
 * const w = await findRunWeights("runs/default-20261201-101010").catch(() => undefined);
 * if (w) console.log(w.name, await weightsStamp(w)); // "best" 1764583200000
 * ```
 */
export function weightsStamp(weights: RunWeights): Promise<number | undefined> {
  return modelMtime(weights.dir, "").catch(() => undefined);
}

/**
 * True for the untrained starting point: the resume point training saves before its first
 * batch (`resume/e0000`), whose weights are the random initial ones.
 *
 * @example
 * ```ts
 * import { isUntrainedPoint } from "./checkpoints.ts";
 * isUntrainedPoint({ name: "resume/e0000", dir: "runs/x/checkpoints/resume/e0000", kind: "resume" }); // true
 * ```
 */
export function isUntrainedPoint(weights: RunWeights): boolean {
  if (weights.kind !== "resume") return false;
  const p = parseResumePointName(basename(weights.dir));
  return p !== undefined && p.epoch === 0 && p.batch === 0;
}

/**
 * The error for weights that are the untrained starting point (see {@link isUntrainedPoint}):
 * the run has no trained weights yet. `predict`, `evaluate`, `export` and the dashboard's
 * Try-it refuse them with it (the CLI's `--allow-untrained` forces them).
 *
 * @example
 * ```ts
 * import { UntrainedWeightsError } from "./checkpoints.ts";
 * const e = new UntrainedWeightsError("resume/e0000", "train it for at least one epoch");
 * console.log(e.message); // "the run has no trained weights yet: its only weights are ..."
 * ```
 */
export class UntrainedWeightsError extends Error {
  /**
   * @param name the checkpoint's name under `checkpoints/` (`resume/e0000`)
   * @param fix how to get trained weights, e.g. the resume command
   */
  constructor(name: string, fix: string) {
    super(
      `the run has no trained weights yet: its only weights are checkpoints/${name}, the ` +
        `untrained starting point (epoch 0, no batch done); ${fix}`,
    );
    this.name = "UntrainedWeightsError";
  }
}

/**
 * Throws {@link UntrainedWeightsError} (with `fix`, how to get trained weights) when `weights`
 * are the untrained starting point; the one check every reader of a run's weights uses.
 *
 * @example
 * ```ts
 * import { assertTrained } from "./checkpoints.ts";
 * const w = { name: "best", dir: "runs/x/checkpoints/best", kind: "best" as const };
 * assertTrained(w, "train the run for at least one epoch"); // returns: trained weights
 * ```
 */
export function assertTrained(weights: RunWeights, fix: string): void {
  if (isUntrainedPoint(weights)) throw new UntrainedWeightsError(weights.name, fix);
}

/**
 * Whether a run has a model to use or export (`deno task export`, the runs table's `model`
 * column): `yes` when {@link findRunWeights} finds trained weights, `untrained` when its only
 * weights are the starting point, `none` without any.
 *
 * @example
 * ```ts
 * import { runModelState } from "./checkpoints.ts";
 * console.log(await runModelState("runs/default-20261201-101010")); // "yes" | "untrained" | "none"
 * ```
 */
export async function runModelState(runDir: string): Promise<"yes" | "untrained" | "none"> {
  try {
    return isUntrainedPoint(await findRunWeights(runDir)) ? "untrained" : "yes";
  } catch {
    return "none";
  }
}
