/**
 * Resume points: after every epoch (and on Ctrl-C) the trainer saves weights, optimizer state
 * (Adam's moments and step count) and its JSON state (position, learning rate, history, every
 * callback's state) under `checkpoints/resume/`. A resumed run continues as if it had never
 * stopped: same data order, same augmentation, same callback counters.
 *
 * @module
 */
import { relative } from "node:path";
import { removeTemps } from "../fs/atomic.ts";
import type * as tf from "@tensorflow/tfjs-core";
import type * as tfl from "@tensorflow/tfjs-layers";
import {
  currentTopology,
  loadOptimizer,
  loadWeights,
  readCheckpointFile,
  readModelTopology,
  readState,
  verifyCheckpoint,
} from "../run/model_io.ts";
import { topologyChanges } from "../models/topology_diff.ts";
import {
  listResumePoints,
  nextResumeSequence,
  quarantineResumePoint,
  resumePointDir,
  resumePointsDir,
} from "../run/checkpoints.ts";
import type { Checkpointer, Trainer, TrainerState } from "./trainer.ts";

/** File name of a callback's binary state inside a resume point. */
function callbackFileName(callback: string): string {
  return `callback-${callback.replace(/[^A-Za-z0-9_.-]/g, "_")}.bin`;
}

/**
 * A checkpointer that saves a resume point after each epoch and on interruption, keeping the
 * newest `keep` by save time (default 2, so a corrupt newest one can fall back to the one
 * before). Each point holds weights, optimizer state, the trainer's JSON state, every
 * callback's binary state, and a manifest with the sha256 of each file.
 */
export function resumeCheckpointer(keep = 2): Checkpointer {
  return async (trainer: Trainer) => {
    const state = trainer.state();
    trainer.run.assertOwner();
    const root = resumePointsDir(trainer.run.dir);
    const dir = resumePointDir(trainer.run.dir, state.position);
    const callbackFiles = await trainer.callbackFiles();
    const sequence = await nextResumeSequence(trainer.run.dir);
    try {
      await trainer.run.saveCheckpoint(relative(trainer.run.dir, dir), trainer.model, {
        optimizer: trainer.optimizer,
        manifest: true,
        sequence,
        state: {
          kind: "convdeck-resume",
          trainer: state,
          callbackFiles: Object.fromEntries(
            Object.keys(callbackFiles).map((name) => [name, callbackFileName(name)]),
          ),
        },
        extraFiles: Object.fromEntries(
          Object.entries(callbackFiles).map(([name, bytes]) => [callbackFileName(name), bytes]),
        ),
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
    await removeTemps(root);
  };
}

/** A resume point that loaded cleanly. */
export interface LoadedResumePoint {
  /** Its folder. */
  dir: string;
  /** The trainer state saved in it. */
  state: TrainerState;
  /** Callbacks' binary state by callback name (restore after the JSON state). */
  callbackFiles: Record<string, Uint8Array>;
}

/** What {@linkcode loadResumePoint} found when no point could be used. */
export class NoResumePointError extends Error {
  /** Points that were tried and quarantined, with why. */
  readonly quarantined: { from: string; to: string; reason: string }[];
  /** Creates the error. */
  constructor(runDir: string, quarantined: { from: string; to: string; reason: string }[]) {
    super(
      `${runDir} has no usable resume point` +
        (quarantined.length
          ? `: ${quarantined.map((q) => `${q.from} (${q.reason}) moved to ${q.to}`).join("; ")}`
          : "") +
        `. Nothing else was changed: metrics and history are as they were. To train this run ` +
        `again from epoch 1 (its history is then replaced), resume with --restart.`,
    );
    this.name = "NoResumePointError";
    this.quarantined = quarantined;
  }
}

/**
 * The model built to resume a run is not the one the run trained: same weight shapes, or
 * not, but different layers or settings (say a Conv2D's padding "valid" against "same").
 * Nothing is loaded, quarantined or written; the run stays as it was.
 */
export class ModelChangedError extends Error {
  /** What differs, one line per layer ("layer 1 (Conv2D): padding "valid" → "same""). */
  readonly changes: string[];
  /** Creates the error. */
  constructor(runDir: string, point: string, changes: string[]) {
    super(
      `${runDir} was trained with a different model from the one built now ` +
        `(compared with ${point}): ${changes.join("; ")}. Its weights would train a model ` +
        `other than the one in its history, so nothing was loaded and the run is unchanged. ` +
        `Train the new model in a new run (leave out --resume), or resume with the model the ` +
        `run was trained with (for the book's convnet before same padding: an experiment file ` +
        `whose model is bookConvnet(shape, classes, { padding: "valid" })).`,
    );
    this.name = "ModelChangedError";
    this.changes = changes;
  }
}

/**
 * Loads the newest usable resume point of `runDir` (by save time) into `model` and
 * `optimizer`. Each point is checked against its manifest (every file's sha256 and size) and
 * its weights against the model; an unusable one is moved to `checkpoints/quarantine/` with the
 * reason (reported through `warn`) and the previous one is tried. Returns undefined when the
 * run has no resume point at all; throws {@linkcode NoResumePointError} when it had some and
 * none was usable, and {@linkcode ModelChangedError} (changing nothing) when the point's saved
 * topology differs from `model`'s.
 */
export async function loadResumePoint(
  runDir: string,
  model: tfl.LayersModel,
  optimizer: tf.Optimizer,
  warn: (message: string) => void | Promise<void>,
): Promise<LoadedResumePoint | undefined> {
  const points = await listResumePoints(runDir);
  const quarantined: { from: string; to: string; reason: string }[] = [];
  for (const [i, dir] of points.entries()) {
    try {
      const manifest = await verifyCheckpoint(dir);
      if (!manifest) {
        await warn(
          `resume point ${dir} has no manifest (saved by an older convdeck): its weights are ` +
            `checked, its other files are not`,
        );
      }
      const saved = await readState(dir) as
        | { kind?: string; trainer?: TrainerState; callbackFiles?: Record<string, string> }
        | undefined;
      if (saved?.kind !== "convdeck-resume" || !saved.trainer) {
        throw new Error("state.json is missing or not a convdeck resume state");
      }
      const changes = topologyChanges(await readModelTopology(dir), currentTopology(model));
      if (changes.length > 0) throw new ModelChangedError(runDir, dir, changes);
      await loadWeights(model, dir);
      await loadOptimizer(optimizer, dir);
      const callbackFiles: Record<string, Uint8Array> = {};
      for (const [name, file] of Object.entries(saved.callbackFiles ?? {})) {
        const bytes = await readCheckpointFile(dir, String(file));
        if (!bytes) throw new Error(`${file} (state of callback ${name}) is missing`);
        callbackFiles[name] = bytes;
      }
      return { dir, state: saved.trainer, callbackFiles };
    } catch (err) {
      if (err instanceof ModelChangedError) throw err; // the point is sound; the model is not
      const reason = (err as Error).message.split("\n")[0];
      const to = await quarantineResumePoint(runDir, dir, reason);
      quarantined.push({ from: dir, to, reason });
      const next = points[i + 1];
      await warn(
        `resume point ${dir} is unusable (${reason}); moved to ${to}` +
          (next ? `; falling back to ${next}` : ""),
      );
    }
  }
  if (quarantined.length > 0) throw new NoResumePointError(runDir, quarantined);
  return undefined;
}
