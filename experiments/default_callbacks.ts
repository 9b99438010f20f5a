/**
 * The default callback set of the ready experiments: what the book does by hand, automated.
 *
 * @module
 */
import type { Callback } from "../core/callback.ts";
import type { TrainOptions } from "../core/experiment.ts";
import {
  CSVLogger,
  EarlyStopping,
  ModelCheckpoint,
  OverfitDetector,
  ProgressBar,
  ReduceLROnPlateau,
  TerminateOnNaN,
} from "../callbacks/mod.ts";
import { Visualize } from "../callbacks/visualize.ts";

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
  /** Extra callbacks, inserted before the progress bar. */
  extra?: Callback[];
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
  _options: TrainOptions,
  d: DefaultCallbackOptions = {},
): Callback[] {
  return [
    new TerminateOnNaN(),
    new ReduceLROnPlateau({ monitor: "val_loss", factor: 0.1, patience: d.reduceLrPatience ?? 3 }),
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
    ...((d.visualizeEvery ?? 5) > 0 ? [new Visualize({ every: d.visualizeEvery ?? 5 })] : []),
    ...(d.extra ?? []),
    new ProgressBar(),
  ];
}
