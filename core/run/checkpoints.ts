/**
 * Which saved weights of a run to use: the one rule shared by `evaluate`, `predict` and the
 * dashboard. The best checkpoint when there is one, else the most recently written other
 * checkpoint folder, else the newest resume point.
 *
 * @module
 */
import { join } from "node:path";
import { RUN_FILES } from "./format.ts";

/** Where a run's weights were found. */
export interface RunWeights {
  /** Checkpoint name relative to `checkpoints/`: `best`, `epoch-03`, `resume/e0007`. */
  name: string;
  /** Absolute or run-relative directory holding model.json and the weights. */
  dir: string;
  /** What kind of checkpoint it is. */
  kind: "best" | "checkpoint" | "resume";
}

const MODEL_JSON = "model.json";
const RESUME = "resume";

async function modelMtime(dir: string): Promise<number | undefined> {
  const st = await Deno.lstat(join(dir, MODEL_JSON)).catch(() => null);
  return st?.isFile ? st.mtime?.getTime() ?? 0 : undefined;
}

async function newestIn(
  root: string,
  accept: (name: string) => boolean,
): Promise<{ name: string; mtime: number } | undefined> {
  let best: { name: string; mtime: number } | undefined;
  try {
    for await (const e of Deno.readDir(root)) {
      if (!e.isDirectory || !accept(e.name)) continue;
      const mtime = await modelMtime(join(root, e.name));
      if (mtime !== undefined && (!best || mtime > best.mtime)) best = { name: e.name, mtime };
    }
  } catch (err) {
    if (!(err instanceof Deno.errors.NotFound)) throw err;
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
  if (await modelMtime(join(root, "best")) !== undefined) {
    return { name: "best", dir: join(root, "best"), kind: "best" };
  }
  const other = await newestIn(root, (n) => n !== RESUME && n !== "best");
  if (other) return { name: other.name, dir: join(root, other.name), kind: "checkpoint" };
  const resume = await newestIn(join(root, RESUME), (n) => /^e\d+(-b\d+)?$/.test(n));
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
  const parts = name.split("/");
  if (parts.some((s) => s === "" || s === "." || s === ".." || s.includes("\\"))) {
    throw new Error(`bad checkpoint name "${name}": give a folder under ${RUN_FILES.checkpoints}/`);
  }
  const dir = join(runDir, RUN_FILES.checkpoints, ...parts);
  if (await modelMtime(dir) === undefined) {
    throw new Error(`${join(dir, MODEL_JSON)} does not exist: no checkpoint "${name}" in this run`);
  }
  const kind = name === "best" ? "best" : parts[0] === RESUME ? "resume" : "checkpoint";
  return { name, dir, kind };
}
