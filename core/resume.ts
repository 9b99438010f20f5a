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
import { loadOptimizer, loadWeights, readState, saveModel } from "./run/model_io.ts";
import { listResumePoints, resumePointDir, resumePointsDir } from "./run/checkpoints.ts";
import type { Checkpointer, Trainer, TrainerState } from "./trainer.ts";

/**
 * A checkpointer that saves a resume point after each epoch and on interruption, keeping the
 * newest `keep` (default 2, so a corrupt newest one can fall back to the one before).
 */
export function resumeCheckpointer(keep = 2): Checkpointer {
  return async (trainer: Trainer) => {
    const state = trainer.state();
    trainer.run.assertOwner();
    const root = resumePointsDir(trainer.run.dir);
    const dir = resumePointDir(trainer.run.dir, state.position);
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
