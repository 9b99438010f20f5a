/**
 * convdeck: train convolutional image classifiers with TensorFlow.js in Deno and track the
 * experiments (run directories, callbacks, a live dashboard).
 *
 * @example
 * ```ts ignore
 * import { runExperiment, syntheticShapes, smallConvnet, EarlyStopping } from "./mod.ts";
 * const { run, result } = await runExperiment({
 *   experiment: {
 *     name: "mine",
 *     description: "my first convnet",
 *     defaults: { epochs: 5, batchSize: 32, learningRate: 1e-3, imageSize: 32, seed: 1 },
 *     dataset: (o) => Promise.resolve(syntheticShapes({ imageSize: o.imageSize })),
 *     model: (shape, classes) => smallConvnet(shape, classes),
 *     callbacks: () => [new EarlyStopping({ patience: 3, restoreBestWeights: true })],
 *   },
 * });
 * console.log(run.dir, result.logs.val_acc);
 * ```
 *
 * @module
 */

// Contracts
export {
  type Callback,
  CALLBACK_HOOKS,
  type HistoryEntry,
  type TrainContext,
} from "./core/callback.ts";
export { freezeLogs, type Logs } from "./core/logs.ts";
export type { Batch, BatchOptions, Dataset, Split } from "./core/data/dataset.ts";
export type { Experiment, PluginSpec, TrainOptions } from "./core/experiment.ts";
export type { RunLogger } from "./core/run/logger.ts";
export {
  type KnownEventType,
  type MetricsRecord,
  RUN_FILES,
  type RunEvent,
  type RunInfo,
  type RunStatus,
} from "./core/run/format.ts";

// Training
export {
  CallbackError,
  type Checkpointer,
  evaluateSplit,
  setOptimizerLearningRate,
  Trainer,
  type TrainerOptions,
  type TrainerPosition,
  type TrainerState,
  type TrainResult,
} from "./core/trainer.ts";
export { crossEntropy, evalStep, type StepResult, trainStep } from "./core/train_step.ts";
export {
  type ExperimentRun,
  type PreparedExperiment,
  prepareExperiment,
  runExperiment,
  type RunExperimentOptions,
} from "./core/run_experiment.ts";
export { BUILTIN_EXPERIMENTS, loadExperiment } from "./core/experiments.ts";
export { resolveOptions } from "./core/options.ts";
export { callbackProblems, loadPlugin, parsePluginArg, PluginError } from "./core/plugins.ts";
export {
  listResumePoints,
  type LoadedResumePoint,
  loadResumePoint,
  RESUME_DIR,
  resumeCheckpointer,
  truncateMetrics,
} from "./core/resume.ts";
export { hashInts, mulberry32, permutation, withSeededMathRandom } from "./core/random.ts";

// Backends
export {
  BACKEND_NAMES,
  type BackendChoice,
  type BackendName,
  initBackend,
  type InitBackendOptions,
  releaseBackends,
} from "./core/backend/select.ts";

export { nativeAvailable, type NativeStatus } from "./core/backend/native/ffi.ts";
export {
  NATIVE_BACKEND,
  type NativeCacheStats,
  nativeCacheStats,
  type NativeOptions,
  nativeThreads,
  registerNativeBackend,
  setNativeThreads,
  syncNativeKernels,
} from "./core/backend/native/register.ts";
export { registerWasmTrainingKernels } from "./core/backend/wasm/register.ts";

// Models
export {
  BOOK_CONVNET_MIN_SIZE,
  bookConvnet,
  bookConvnetMinSize,
  type BookConvnetOptions,
  bookConvnetOutputSize,
  type BookConvnetPadding,
} from "./core/models/book_convnet.ts";
export { smallConvnet } from "./core/models/small_convnet.ts";
export { kerasShape, modelSummary, type SummaryRow, summaryRows } from "./core/models/summary.ts";
export { type KerasLayerNameOptions, kerasLayerNames } from "./core/models/layer_names.ts";
export {
  CHECKPOINT_FILES,
  type CheckpointMetadata,
  loadModel,
  loadOptimizer,
  loadWeights,
  readState,
  type SavedCheckpoint,
  saveModel,
  type SaveModelOptions,
  saveOptimizer,
} from "./core/model_io.ts";

// Data
export {
  renderExample,
  SYNTHETIC_CLASSES,
  type SyntheticOptions,
  syntheticShapes,
} from "./core/data/synthetic.ts";
export {
  type ImageFolderDataset,
  type ImageFolderInfo,
  type ImageFolderOptions,
  loadImageFolder,
  loadImageFolderFor,
} from "./core/data/image_folder.ts";
export { decodeImage, type Fit } from "./core/data/decode.ts";
export { PixelSplit } from "./core/data/pixel_split.ts";
export { FilePixelStore, MemoryPixelStore, type PixelStore } from "./core/data/pixel_store.ts";
export {
  type IdxArray,
  type IdxFolderOptions,
  type IdxType,
  loadIdxFolder,
  parseIdx,
  readIdxFile,
} from "./core/data/idx.ts";
export {
  applyAugment,
  augmentImage,
  type AugmentOptions,
  type AugmentParams,
  DEFAULT_AUGMENT,
  sampleAugmentParams,
} from "./core/data/augment.ts";
export {
  denormalizePixels,
  NORMALIZATION,
  normalizePixels,
  toRgba,
} from "./core/data/normalize.ts";
export { DataError } from "./core/data/data_error.ts";

// Run directories
export { type CreateRunOptions, RunWriter } from "./core/run/writer.ts";
export {
  type LinesResult,
  listRuns,
  readEvents,
  readMetrics,
  readModelSummary,
  readRunInfo,
  resolveInside,
  type RunListEntry,
  UnsafePathError,
} from "./core/run/reader.ts";
export type { VizIndex } from "./core/run/viz_format.ts";
export type { EvaluationReport } from "./core/run/evaluation_format.ts";

// Evaluation and visualisation
export { evaluateModel, type EvaluateOptions } from "./core/evaluate.ts";
export { finalSoftmax, gradCam } from "./core/viz/grad_cam.ts";

// Callbacks
export * from "./callbacks/mod.ts";
export {
  imagesFromDataset,
  Visualize,
  type VisualizeOptions,
  type VizImages,
} from "./callbacks/visualize.ts";

// Dashboard
export {
  createDashboardApp,
  type DashboardOptions,
  serveDashboard,
  startDashboard,
  type StartedDashboard,
} from "./dashboard/server.ts";
