/**
 * What callbacks use to write into the run directory.
 *
 * @module
 */
import type * as tfl from "@tensorflow/tfjs-layers";
import type { SavedCheckpoint, SaveModelOptions } from "./model_io.ts";

/** The part of a run that callbacks may write to. */
export interface RunLogger {
  /** The run id. */
  readonly id: string;
  /** Absolute path of the run directory. */
  readonly dir: string;
  /** Appends an event (with the current epoch, step and time) to `events.jsonl`. */
  event(type: string, detail?: Record<string, unknown>): Promise<void>;
  /** Adds scalars to the current epoch's metrics record (merged at epoch end). */
  scalar(name: string, value: number): void;
  /**
   * Writes a file under the run directory (write-then-rename, parent folders created).
   * `relPath` must stay inside the run directory. Returns the absolute path.
   */
  artifact(relPath: string, data: Uint8Array | string): Promise<string>;
  /**
   * Saves `model` as a checkpoint folder at `relPath` under the run directory (see
   * `saveModel`), after checking that this process still owns the run; folders below the run
   * directory are created, the run directory itself never.
   */
  saveCheckpoint(
    relPath: string,
    model: tfl.LayersModel,
    options?: SaveModelOptions,
  ): Promise<SavedCheckpoint>;
  /** Prints a warning to stderr and records it as a `warning` event. */
  warn(message: string, detail?: Record<string, unknown>): Promise<void>;
}
