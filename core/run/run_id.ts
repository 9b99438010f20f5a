/**
 * Run ids: `<experiment>-<yyyymmdd-hhmmss>[-n]`, the run folder's name. Shared by the
 * trainer's writer and the tracking client.
 *
 * @example
 * ```ts
 * import { safeName, timestampId } from "./run_id.ts";
 * `${safeName("my model")}-${timestampId(new Date())}`; // "my_model-20261207-142005"
 * ```
 *
 * @module
 */
import { join } from "node:path";
import { makeDirExclusive, makeDirs } from "../fs/atomic.ts";
import type { RunInfo } from "./format.ts";

/** Formats a date as `yyyymmdd-hhmmss` in local time. */
export function timestampId(d: Date): string {
  const p = (n: number) => String(n).padStart(2, "0");
  return `${d.getFullYear()}${p(d.getMonth() + 1)}${p(d.getDate())}-` +
    `${p(d.getHours())}${p(d.getMinutes())}${p(d.getSeconds())}`;
}

/** Makes a name safe for a folder name: letters, digits, `-`, `_`, `.` only. */
export function safeName(name: string): string {
  const s = name.replace(/[^A-Za-z0-9_.-]+/g, "_").replace(/^[._]+/, "");
  return s.length > 0 ? s.slice(0, 80) : "run";
}

/**
 * Creates a new run folder in `runsDir` (created if missing) with a unique id
 * `<experiment>-<yyyymmdd-hhmmss>[-n]` and returns the id: two processes starting at the same
 * second get distinct ids (folder creation is atomic). `fix` ends the error messages (what
 * the user should do).
 */
export async function createRunFolder(
  runsDir: string,
  experiment: string,
  start: Date,
  fix: string,
): Promise<string> {
  try {
    await makeDirs(runsDir);
  } catch (err) {
    throw new Error(
      `Cannot create the runs folder ${runsDir}: ${(err as Error).message}. ` +
        `${fix} with a folder you can write to.`,
    );
  }
  const base = `${safeName(experiment)}-${timestampId(start)}`;
  let id = base;
  for (let n = 2;; n++) {
    let created: boolean;
    try {
      created = await makeDirExclusive(join(runsDir, id));
    } catch (err) {
      throw new Error(
        `Cannot create a run folder in ${runsDir}: ${(err as Error).message}. ` +
          `${fix} with a folder you can write to.`,
      );
    }
    if (created) return id;
    if (n >= 10000) {
      throw new Error(`Cannot create a run folder in ${runsDir}: ${base}-* all exist. ${fix}.`);
    }
    id = `${base}-${n}`;
  }
}

/** What a new run records about itself in run.json from the start. */
export interface NewRunOptions {
  /** The experiment name (first part of the id). */
  experiment: string;
  /** The run's configuration. */
  config: Record<string, unknown>;
  /** Versions to record. */
  versions?: Record<string, string>;
}

/**
 * Creates a new run folder in `runsDir` ({@linkcode createRunFolder}) and returns it with
 * the run.json of a run that starts at `start` (`running`, no epochs or steps yet): shared by
 * the trainer's writer and the tracking client, which add their own fields and write it.
 *
 * @example
 * ```ts
 * import { newRun } from "./run_id.ts";
 * const { dir, info } = await newRun(await Deno.makeTempDir(), {
 *   experiment: "mlp",
 *   config: { lr: 0.1 },
 * }, new Date(), "Pass --runs DIR");
 * console.log(dir.endsWith(info.id), info.status); // true "running"
 * ```
 */
export async function newRun(
  runsDir: string,
  options: NewRunOptions,
  start: Date,
  fix: string,
): Promise<{ dir: string; info: RunInfo }> {
  const id = await createRunFolder(runsDir, options.experiment, start, fix);
  const iso = start.toISOString();
  const info: RunInfo = {
    format: 1,
    id,
    experiment: options.experiment,
    status: "running",
    config: options.config,
    versions: options.versions ?? {},
    createdAt: iso,
    updatedAt: iso,
    epochs: 0,
    steps: 0,
  };
  return { dir: join(runsDir, id), info };
}
