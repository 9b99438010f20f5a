/**
 * Resume points: after every epoch (and on Ctrl-C) the trainer saves weights, optimizer state
 * (Adam's moments and step count) and its JSON state (position, learning rate, history, every
 * callback's state) under `checkpoints/resume/`. A resumed run continues as if it had never
 * stopped: same data order, same augmentation, same callback counters.
 *
 * @module
 */
import { join } from "node:path";
import type * as tf from "@tensorflow/tfjs-core";
import type * as tfl from "@tensorflow/tfjs-layers";
import { loadOptimizer, loadWeights, readState, saveModel } from "./model_io.ts";
import { writeFileAtomic } from "./run/fs_safe.ts";
import { type MetricsRecord, RUN_FILES } from "./run/format.ts";
import type { Checkpointer, Trainer, TrainerPosition, TrainerState } from "./trainer.ts";

/** Folder of resume points inside a run directory. */
export const RESUME_DIR: string = join(RUN_FILES.checkpoints, "resume");

/** Name of the resume point for a position: `e0005` at an epoch boundary, `e0005-b0012` inside. */
export function resumePointName(p: TrainerPosition): string {
  const e = `e${String(p.epoch).padStart(4, "0")}`;
  return p.batch > 0 ? `${e}-b${String(p.batch).padStart(5, "0")}` : e;
}

function parseName(name: string): { epoch: number; batch: number } | undefined {
  const m = /^e(\d+)(?:-b(\d+))?$/.exec(name);
  return m ? { epoch: Number(m[1]), batch: Number(m[2] ?? 0) } : undefined;
}

/** The resume points of a run directory, newest first. */
export async function listResumePoints(runDir: string): Promise<string[]> {
  const dir = join(runDir, RESUME_DIR);
  const found: { name: string; epoch: number; batch: number }[] = [];
  try {
    for await (const e of Deno.readDir(dir)) {
      const p = e.isDirectory ? parseName(e.name) : undefined;
      if (p) found.push({ name: e.name, ...p });
    }
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return [];
    throw err;
  }
  found.sort((a, b) => b.epoch - a.epoch || b.batch - a.batch);
  return found.map((f) => join(dir, f.name));
}

/**
 * A checkpointer that saves a resume point after each epoch and on interruption, keeping the
 * newest `keep` (default 2, so a corrupt newest one can fall back to the one before).
 */
export function resumeCheckpointer(keep = 2): Checkpointer {
  return async (trainer: Trainer) => {
    const state = trainer.state();
    const root = join(trainer.run.dir, RESUME_DIR);
    const dir = join(root, resumePointName(state.position));
    try {
      await saveModel(trainer.model, dir, {
        optimizer: trainer.optimizer,
        state: { kind: "convdeck-resume", trainer: state },
      });
    } catch (err) {
      throw new Error(
        `Saving the resume point ${dir} failed: ${(err as Error).message}. The previous ` +
          `resume point is intact; fix the cause (free disk space?) and continue with ` +
          `deno task train --resume ${trainer.run.dir}`,
        { cause: err },
      );
    }
    const points = await listResumePoints(trainer.run.dir);
    for (const old of points.slice(keep)) await Deno.remove(old, { recursive: true });
    // Leftovers of a save interrupted by a crash.
    for await (const e of Deno.readDir(root)) {
      if (/\.(tmp|old)-/.test(e.name)) {
        await Deno.remove(join(root, e.name), { recursive: true }).catch(() => {});
      }
    }
  };
}

/** A resume point that loaded cleanly. */
export interface LoadedResumePoint {
  /** Its folder. */
  dir: string;
  /** The trainer state saved in it. */
  state: TrainerState;
}

/**
 * Loads the newest valid resume point of `runDir` into `model` and `optimizer`. A corrupt one
 * (checksum mismatch, unreadable, wrong shapes) is reported through `warn` and the previous
 * one is tried. Returns undefined when there is none (the run died in its first epoch).
 */
export async function loadResumePoint(
  runDir: string,
  model: tfl.LayersModel,
  optimizer: tf.Optimizer,
  warn: (message: string) => void | Promise<void>,
): Promise<LoadedResumePoint | undefined> {
  const points = await listResumePoints(runDir);
  for (const [i, dir] of points.entries()) {
    try {
      const saved = await readState(dir) as { kind?: string; trainer?: TrainerState } | undefined;
      if (saved?.kind !== "convdeck-resume" || !saved.trainer) {
        throw new Error("state.json is missing or not a convdeck resume state");
      }
      await loadWeights(model, dir);
      await loadOptimizer(optimizer, dir);
      return { dir, state: saved.trainer };
    } catch (err) {
      const next = points[i + 1];
      await warn(
        `resume point ${dir} is unusable (${(err as Error).message.split("\n")[0]}); ` +
          (next ? `falling back to ${next}` : "no older resume point: restarting from epoch 0"),
      );
    }
  }
  return undefined;
}

/**
 * Rewrites metrics.jsonl to hold only what happened before `position` (records of epochs
 * that will be trained again are dropped, so the resumed run stays one clean history).
 * Torn or malformed lines are dropped too.
 */
export async function truncateMetrics(runDir: string, position: TrainerPosition): Promise<number> {
  const path = join(runDir, RUN_FILES.metrics);
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return 0;
    throw err;
  }
  const kept: string[] = [];
  let dropped = 0;
  for (const line of text.split("\n")) {
    if (line.trim() === "") continue;
    let rec: MetricsRecord;
    try {
      rec = JSON.parse(line);
    } catch {
      dropped++;
      continue;
    }
    const keep = rec.batch === undefined
      ? rec.epoch < position.epoch
      : rec.epoch < position.epoch || (rec.epoch === position.epoch && rec.batch < position.batch);
    if (keep) kept.push(line);
    else dropped++;
  }
  if (dropped > 0) {
    await writeFileAtomic(path, kept.length ? kept.join("\n") + "\n" : "");
  }
  return dropped;
}
