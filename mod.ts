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
} from "./core/train/callback.ts";
export { freezeLogs, type Logs } from "./core/train/logs.ts";
export type { Experiment, PluginSpec, TrainOptions } from "./core/experiment/experiment.ts";
export { isImprovement, metricDirection, type MetricDirections } from "./core/metric_direction.ts";

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
} from "./core/train/trainer.ts";
export { CallbackList } from "./core/train/callback_list.ts";
export { crossEntropy, evalStep, type StepResult, trainStep } from "./core/train/train_step.ts";
export {
  type ExperimentRun,
  type PreparedExperiment,
  prepareExperiment,
  runExperiment,
  type RunExperimentOptions,
} from "./core/experiment/run_experiment.ts";
export { BUILTIN_EXPERIMENTS, loadExperiment } from "./experiments/registry.ts";
export { resolveOptions, splitSettings, STANDARD_OPTIONS } from "./core/experiment/options.ts";
export {
  describeParams,
  type Params,
  type ParamSpec,
  type ParamSpecs,
  type ParamValue,
  parseSetArg,
  resolveParams,
} from "./core/experiment/params.ts";
export { createOptimizer, OPTIMIZER_NAMES, type OptimizerName } from "./core/train/optimizers.ts";
export { SystemMetrics, wasmHeapBytes } from "./core/train/system_metrics.ts";
export { SystemSampler } from "./core/train/system_sampler.ts";
export {
  callbackProblems,
  loadPlugin,
  parsePluginArg,
  PluginError,
} from "./core/experiment/plugins.ts";
export {
  type LoadedResumePoint,
  loadResumePoint,
  ModelChangedError,
  NoResumePointError,
  resumeCheckpointer,
} from "./core/train/resume.ts";

// Backends
export {
  applyPrecision,
  BACKEND_NAMES,
  type BackendChoice,
  type BackendName,
  initBackend,
  type InitBackendOptions,
  releaseBackends,
} from "./core/backend/select.ts";
export {
  type Precision,
  PrecisionError,
  precisionFlag,
  PRECISIONS,
  type ResolvedPrecision,
} from "./core/backend/precision.ts";
export { nativeAvailable, type NativeStatus } from "./core/backend/native/ffi.ts";
export {
  NATIVE_BACKEND,
  nativeBf16Support,
  type NativeCacheStats,
  nativeCacheStats,
  type NativeOptions,
  type NativePrecision,
  nativePrecision,
  nativeThreads,
  registerNativeBackend,
  setNativePrecision,
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

// Evaluation and visualisation
export { evaluateModel, type EvaluateOptions } from "./core/infer/evaluate.ts";
export { finalSoftmax, gradCam } from "./core/viz/grad_cam.ts";
export { camOverlay, type CamOverlayOptions, type RgbImage } from "./core/viz/overlay.ts";
export {
  type FilterPattern,
  filterPatterns,
  type LayerPatterns,
  PatternInputError,
  type PatternOptions,
} from "./core/viz/patterns.ts";
export {
  type LayerTopPatches,
  type TopPatch,
  topPatches,
  type TopPatchOptions,
} from "./core/viz/top_patches.ts";
export {
  computePatternSet,
  type FileSink,
  type PatternSetOptions,
} from "./core/viz/pattern_report.ts";
export {
  formatReceptiveField,
  type LayerReceptiveField,
  type ReceptiveField,
  receptiveFields,
} from "./core/models/receptive_field.ts";

// Using a trained run
export {
  type ClassProbability,
  type ImagePrediction,
  type LoadPredictorOptions,
  predict,
  type PredictedActivations,
  type PredictedGradCam,
  type PredictFailure,
  type PredictInput,
  type PredictOptions,
  Predictor,
  type PredictReport,
  type PredictResult,
  type Preprocessing,
} from "./core/infer/predict.ts";
// Shipping a model: the shared preprocessing and the export (deno task export)
export {
  type DecodedImage,
  prepareImage,
  preprocessImage,
  type PreprocessSpec,
} from "./core/infer/preprocess.ts";
export {
  buildExport,
  type ExportBundle,
  type ExportMetadata,
  type ExportOptions,
  loadExport,
  type Quantization,
  QUANTIZATIONS,
  writeExport,
} from "./core/infer/export.ts";

// Run directories, data, callbacks, dashboard, tracking: also importable alone as
// "@convdeck/convdeck/run", "/data", "/callbacks", "/dashboard" and "/track".
export { resumeCommand, type ResumeTarget } from "./core/experiment/resume_command.ts";
export * from "./core/run/mod.ts";
export * from "./core/data/mod.ts";
export * from "./callbacks/mod.ts";
export * from "./dashboard/mod.ts";
export {
  type FinishOptions,
  type FitCallbackOptions,
  init,
  type InitOptions,
  type LayersModelLike,
  type LogPosition,
  type ModelLike,
  Run,
  type SaveModelInfo,
  type TfjsCallback,
} from "./track/mod.ts";
export { type GradCamResult } from "./core/viz/grad_cam.ts";
export {
  codeChanges,
  type CodeIdentity,
  formatCodeIdentity,
  type GitIdentity,
  type ModuleIdentity,
  moduleSha256,
  parseCodeIdentity,
} from "./core/experiment/code_identity.ts";
