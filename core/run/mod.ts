/**
 * Run directories, the single source of truth of a training run: the writer the trainer uses,
 * validating readers (run.json, metrics and events read incrementally, reports, checkpoints,
 * resume points), a tail for live readers and a shared metrics cache. Nothing outside this
 * folder knows a run file's name or format.
 *
 * @example
 * ```ts
 * import { listRuns, readMetrics } from "./mod.ts";
 * for (const run of await listRuns("runs")) {
 *   const { records } = await readMetrics(run.dir);
 *   console.log(run.id, run.info?.status, records.length);
 * }
 * ```
 *
 * @module
 */
export {
  type KnownEventType,
  type MetricsRecord,
  RUN_STATUSES,
  type RunEvent,
  type RunInfo,
  type RunModelLayer,
  type RunStatus,
  type TrackedRunInfo,
} from "./format.ts";
export type { RunLogger } from "./logger.ts";
export { type CreateRunOptions, type RunPosition, RunWriter } from "./writer.ts";
export {
  FsError,
  type FsErrorStatus,
  type LinesResult,
  listRuns,
  MAX_RUN_INFO_BYTES,
  readEvents,
  type ReadLinesOptions,
  readMetrics,
  readModelSummary,
  readRunInfo,
  readRunInfoChecked,
  resolveInside,
  RunFileError,
  type RunListEntry,
  UnsafePathError,
  validateRunInfo,
} from "./reader.ts";
export {
  DEFAULT_CSV_LOG,
  readEvaluation,
  readVizIndex,
  writeEvaluation,
  writeVizIndex,
} from "./artifacts.ts";
export {
  checkpointDir,
  findRunWeights,
  listCheckpointNames,
  listResumePoints,
  namedRunWeights,
  type RunWeights,
  weightsStamp,
} from "./checkpoints.ts";
export {
  type CheckpointMetadata,
  loadModel,
  loadOptimizer,
  loadWeights,
  readState,
  type SavedCheckpoint,
  saveModel,
  type SaveModelOptions,
  saveOptimizer,
} from "./model_io.ts";
export { readRunDatasetFacts, type RunDatasetFacts } from "./dataset_facts.ts";
export { type CachedMetrics, MetricsCache, type MetricsSince } from "./metrics_cache.ts";
export type { RecordsSince } from "./tail_cache.ts";
export { type RunChanges, RunTail, type TailStart } from "./tail.ts";
export type { ClassAccuracy, EvaluationReport, WrongPrediction } from "./evaluation_format.ts";
export {
  VIZ_FORMAT,
  type VizActivations,
  type VizEpoch,
  type VizFilters,
  type VizGradCam,
  type VizImage,
  type VizIndex,
  type VizLabelledMosaic,
  type VizLayerPatterns,
  type VizMosaic,
  type VizPatch,
  type VizPatternSet,
} from "./viz_format.ts";
export {
  applyMetaEdit,
  checkName,
  checkNote,
  checkTag,
  emptyMeta,
  type MetaEdit,
  readRunMeta,
  type RunMeta,
  type RunMetaRead,
  updateRunMeta,
} from "./meta.ts";
export { DERIVED_STATUSES, type DerivedStatus, derivedStatus, type RunState } from "./state.ts";
export { emptyTrash, listTrash, restoreRun, RunIsLiveError, trashRun } from "./trash.ts";
export { type IndexedRun, type RefreshStats, RunIndex, type RunIndexOptions } from "./index.ts";
export { readRunRestarts, type RunRestarts } from "./restarts.ts";
export {
  type Cell,
  runCells,
  runDurationMs,
  type RunSummaryRecord,
  STANDARD_HYPERPARAMETERS,
  summarizeRun,
} from "./summary.ts";
export {
  type Aggregate,
  type ColumnInfo,
  type ColumnKind,
  type CompiledQuery,
  compileQuery,
  QueryError,
  queryTable,
  resolveColumn,
  type TableGroup,
  type TableQuery,
  type TableResult,
} from "./query.ts";
