/**
 * The default callback set of the ready experiments: what the book does by hand, automated.
 *
 * @module
 */
import type { Callback } from "../core/train/callback.ts";
import type { TrainOptions } from "../core/experiment/experiment.ts";
import {
  CSVLogger,
  EarlyStopping,
  LearningRateScheduler,
  ModelCheckpoint,
  OverfitDetector,
  ProgressBar,
  ReduceLROnPlateau,
  TerminateOnNaN,
} from "../callbacks/mod.ts";
import { Visualize, type VisualizePatternOptions } from "../callbacks/visualize.ts";

/** Tuning of {@link defaultCallbacks}. */
export interface DefaultCallbackOptions {
  /** ReduceLROnPlateau patience in epochs (default 3). */
  reduceLrPatience?: number;
  /** EarlyStopping patience in epochs (default 6). */
  earlyStoppingPatience?: number;
  /**
   * What EarlyStopping watches (default `val_loss`). `val_acc` keeps training while validation
   * accuracy still rises although the loss has turned up (a confident model that overfits its
   * probabilities), and restores the weights of the best accuracy.
   */
  earlyStoppingMonitor?: "val_loss" | "val_acc";
  /** What the `checkpoints/best` ModelCheckpoint keeps the best of (default `val_loss`). */
  checkpointMonitor?: "val_loss" | "val_acc";
  /** Record filters, activations and Grad-CAM every N epochs (default 5; 0 = off). */
  visualizeEvery?: number;
  /** Filter patterns and top patches at chosen epochs (default off; needs `visualizeEvery`). */
  patterns?: VisualizePatternOptions;
  /** Extra callbacks, inserted before the progress bar. */
  extra?: Callback[];
  /**
   * How the learning rate changes (default `plateau`): `plateau` divides it by 10 when
   * `val_loss` stops falling (ReduceLROnPlateau); `cosine` anneals it to 0 over the run's
   * epochs; `step` divides it by 10 at 50% and 75% of the epochs; `constant` keeps it.
   */
  lrSchedule?: LrScheduleName;
}

/** The learning-rate schedules {@link defaultCallbacks} knows. */
export const LR_SCHEDULES = ["plateau", "cosine", "step", "constant"] as const;

/** One of {@link LR_SCHEDULES}. */
export type LrScheduleName = typeof LR_SCHEDULES[number];

/** The callback that applies schedule `name` for a run of `epochs` epochs at rate `lr`. */
export function lrScheduleCallbacks(
  name: LrScheduleName,
  epochs: number,
  lr: number,
  reduceLrPatience = 3,
): Callback[] {
  switch (name) {
    case "plateau":
      return [
        new ReduceLROnPlateau({ monitor: "val_loss", factor: 0.1, patience: reduceLrPatience }),
      ];
    case "cosine":
      return [
        new LearningRateScheduler((epoch) => lr * 0.5 * (1 + Math.cos(Math.PI * epoch / epochs)), {
          name: "CosineSchedule",
        }),
      ];
    case "step": {
      const at = [...new Set([Math.round(epochs * 0.5), Math.round(epochs * 0.75)])]
        .filter((e) => e > 0);
      return [new LearningRateScheduler(at.map((e) => ({ at: e, divideBy: 10 })))];
    }
    case "constant":
      return [];
  }
  throw new Error(`unknown lrSchedule "${name}" (${LR_SCHEDULES.join(", ")})`);
}

/**
 * The default callbacks, in call order: stop on NaN; divide the learning rate by 10 when
 * `val_loss` stops falling (the book's manual step); flag overfitting; stop early and restore
 * the best weights (by `val_loss` unless told otherwise); keep the best model in
 * `checkpoints/best`; log `training.csv`; record
 * what the network learned (filters, activation heatmaps, Grad-CAM) for the dashboard; show
 * progress.
 */
export function defaultCallbacks(
  options: TrainOptions,
  d: DefaultCallbackOptions = {},
): Callback[] {
  return [
    new TerminateOnNaN(),
    ...lrScheduleCallbacks(
      d.lrSchedule ?? "plateau",
      options.epochs,
      options.learningRate,
      d.reduceLrPatience ?? 3,
    ),
    new OverfitDetector({ action: "warn" }),
    new EarlyStopping({
      monitor: d.earlyStoppingMonitor ?? "val_loss",
      patience: d.earlyStoppingPatience ?? 6,
      restoreBestWeights: true,
    }),
    // The best model for evaluation and deployment; resume points carry the optimizer state.
    new ModelCheckpoint({
      filepath: "best",
      monitor: d.checkpointMonitor ?? "val_loss",
      saveBestOnly: true,
      includeOptimizer: false,
    }),
    new CSVLogger(),
    ...((d.visualizeEvery ?? 5) > 0
      ? [new Visualize({ every: d.visualizeEvery ?? 5, patterns: d.patterns })]
      : []),
    ...(d.extra ?? []),
    new ProgressBar(),
  ];
}
