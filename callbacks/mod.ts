/**
 * The built-in callbacks. Each implements `Callback` from `core/train/callback.ts` and, when it has
 * state, `getState`/`setState` with plain JSON so a resumed run continues where it stopped.
 *
 * @example
 * ```ts
 * import { CSVLogger, EarlyStopping, ModelCheckpoint, ProgressBar, ReduceLROnPlateau } from "./mod.ts";
 * const callbacks = [
 *   new ReduceLROnPlateau({ factor: 0.5, patience: 3 }),
 *   new EarlyStopping({ patience: 8, restoreBestWeights: true }),
 *   new ModelCheckpoint({ filepath: "best", saveBestOnly: true }),
 *   new CSVLogger(), // training.csv in the run folder
 *   new ProgressBar(),
 * ];
 * ```
 *
 * @module
 */
export {
  isBetter,
  Monitor,
  type MonitorMode,
  type MonitorOptions,
  type MonitorState,
  resolveMode,
} from "./monitor.ts";
export {
  ReduceLROnPlateau,
  type ReduceLROnPlateauOptions,
  type ReduceLROnPlateauState,
} from "./reduce_lr_on_plateau.ts";
export {
  EarlyStopping,
  type EarlyStoppingOptions,
  type EarlyStoppingState,
} from "./early_stopping.ts";
export {
  ModelCheckpoint,
  type ModelCheckpointOptions,
  type ModelCheckpointState,
} from "./model_checkpoint.ts";
export { fillTemplate } from "./template.ts";
export {
  type OverfitAction,
  OverfitDetector,
  type OverfitDetectorOptions,
  type OverfitDetectorState,
  type OverfitFinding,
  type OverfitRule,
} from "./overfit_detector.ts";
export { TerminateOnNaN, type TerminateOnNaNOptions } from "./terminate_on_nan.ts";
export {
  LearningRateScheduler,
  type LearningRateSchedulerOptions,
  type LrStep,
  type Schedule,
  stepDecay,
} from "./learning_rate_scheduler.ts";
export { CSVLogger, type CSVLoggerOptions, type CSVLoggerState } from "./csv_logger.ts";
export { ProgressBar, type ProgressBarOptions, type ProgressStream } from "./progress_bar.ts";
export { LambdaCallback, type LambdaHooks } from "./lambda_callback.ts";
export {
  CallbackError,
  CallbackList,
  type Hook,
  type HookArgs,
} from "../core/train/callback_list.ts";
export {
  imagesFromDataset,
  Visualize,
  type VisualizeOptions,
  type VisualizePatternOptions,
  type VizImages,
} from "./visualize.ts";
export type { Callback, HistoryEntry, TrainContext } from "../core/train/callback.ts";
export type { Logs } from "../core/train/logs.ts";
export type { RunLogger } from "../core/run/logger.ts";
