/**
 * A minimal RunLogger and TrainContext over a temporary directory, for callback tests without
 * the trainer.
 *
 * @module
 */
import { dirname, join } from "node:path";
import type * as tfl from "@tensorflow/tfjs-layers";
import type { RunLogger } from "../../core/run/logger.ts";
import { saveModel } from "../../core/run/model_io.ts";
import type { HistoryEntry, TrainContext } from "../../core/train/callback.ts";

/** A RunLogger writing into `dir`, recording warnings and events in memory too. */
export function dirLogger(dir: string): RunLogger & { warnings: string[]; events: string[] } {
  const warnings: string[] = [];
  const events: string[] = [];
  return {
    id: "test-run",
    dir,
    warnings,
    events,
    event(type) {
      events.push(type);
      return Promise.resolve();
    },
    scalar() {},
    async artifact(relPath, data) {
      if (relPath.split("/").includes("..") || relPath.startsWith("/")) {
        throw new Error(`artifact path escapes the run: ${relPath}`);
      }
      const file = join(dir, relPath);
      await Deno.mkdir(dirname(file), { recursive: true });
      const tmp = `${file}.tmp`;
      if (typeof data === "string") await Deno.writeTextFile(tmp, data);
      else await Deno.writeFile(tmp, data);
      await Deno.rename(tmp, file);
      return file;
    },
    saveCheckpoint(relPath, model, options = {}) {
      return saveModel(model, join(dir, relPath), { ...options, root: dir });
    },
    warn(message) {
      warnings.push(message);
      return Promise.resolve();
    },
  };
}

/** A TrainContext for `model` at `epoch` (of `totalEpochs`) logging into `run`. */
export function fakeContext(
  model: tfl.LayersModel,
  run: RunLogger,
  epoch: number,
  totalEpochs = 10,
  history: HistoryEntry[] = [],
): TrainContext {
  return {
    model,
    learningRate: 1e-3,
    stopTraining() {},
    stopRequested: false,
    run,
    history,
    epoch,
    step: epoch * 10,
    stepsPerEpoch: 10,
    totalEpochs,
  };
}
