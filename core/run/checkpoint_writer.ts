/**
 * The checkpoint format's file names and its `model.json`, and writing a checkpoint folder
 * (every file flushed, then the folder renamed into place), without importing tfjs and with
 * `node:` APIs only: `model_io.ts` (the trainer) and the tracking API (`run.saveModel`, in Deno
 * and Node) write the same folders, which evaluate, predict and export read.
 *
 * @example
 * ```ts ignore
 * import { saveLayersModel } from "./checkpoint_writer.ts";
 * await saveLayersModel(model, "runs/mlp-20261207-101010/checkpoints/best");
 * ```
 *
 * @module
 */
import { dirname, join, resolve } from "node:path";
import { makeDirs, writeDirAtomic, writeNewFile } from "../fs/atomic.ts";
import { sha256Hex } from "../sha256.ts";

/** The most bytes a checkpoint's `manifest.json` may have. */
export const MAX_MANIFEST_BYTES = 1 << 20;

/** File names inside a checkpoint directory. */
export const CHECKPOINT_FILES = {
  model: "model.json",
  weights: "weights.bin",
  optimizerJson: "optimizer.json",
  optimizer: "optimizer.bin",
  state: "state.json",
  manifest: "manifest.json",
} as const;

/** What convdeck adds to `model.json`'s `userDefinedMetadata.convdeck`. */
export interface CheckpointMetadata {
  /** Checkpoint format version. */
  format: 1;
  /** True when model.json holds no topology (load with `loadWeights`). */
  weightsOnly: boolean;
  /** Hex sha256 of weights.bin. */
  weightsSha256: string;
  /** Size of weights.bin in bytes. */
  weightsBytes: number;
  /** ISO time of the save. */
  savedAt: string;
}

/** The part of tfjs's `ModelArtifacts` a checkpoint keeps. */
export interface ArtifactsLike {
  /** The topology (a Keras JSON model config). */
  modelTopology?: unknown;
  /** The weights' names, shapes and dtypes. */
  weightSpecs?: unknown[];
  /** The weights' bytes (one buffer or several). */
  weightData?: ArrayBuffer | ArrayBuffer[];
  /** `layers-model`. */
  format?: string;
  /** tfjs version that wrote it. */
  generatedBy?: string;
  /** Converter, if any. */
  convertedBy?: string | null;
  /** Loss and metrics of `compile()`. */
  trainingConfig?: unknown;
  /** Metadata the model carries. */
  userDefinedMetadata?: Record<string, unknown>;
}

/** A tfjs LayersModel as far as saving needs it (any tfjs instance, Deno or Node). */
export interface LayersModelLike {
  /** tfjs's `model.save(handlerOrUrl, config)`. */
  save(handler: unknown, config?: unknown): Promise<unknown>;
}

/** What a checkpoint save wrote. */
export interface WrittenCheckpoint {
  /** Absolute path of the checkpoint directory. */
  dir: string;
  /** File names written inside it. */
  files: string[];
  /** Hex sha256 of weights.bin. */
  weightsSha256: string;
  /** Size of weights.bin in bytes. */
  weightsBytes: number;
}

/** The weights' bytes as one array. */
export function joinWeightData(data: ArrayBuffer | ArrayBuffer[] | undefined): Uint8Array {
  if (data === undefined) return new Uint8Array(0);
  if (!Array.isArray(data)) return new Uint8Array(data);
  const out = new Uint8Array(data.reduce((n, b) => n + b.byteLength, 0));
  let off = 0;
  for (const b of data) {
    out.set(new Uint8Array(b), off);
    off += b.byteLength;
  }
  return out;
}

/** Captures a model's artifacts through tfjs's own serializer (a plain save handler). */
export async function captureArtifacts(model: LayersModelLike): Promise<ArtifactsLike> {
  let captured: ArtifactsLike | undefined;
  const handler = {
    save(artifacts: ArtifactsLike) {
      captured = artifacts;
      return Promise.resolve({
        modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: "JSON" },
      });
    },
  };
  await model.save(handler, { includeOptimizer: false });
  if (!captured) throw new Error("saveModel: tfjs model.save produced no artifacts");
  return captured;
}

/** `model.json` of a checkpoint of `artifacts` whose weights are `meta`'s. */
export function checkpointModelJson(
  artifacts: ArtifactsLike,
  meta: CheckpointMetadata,
): Record<string, unknown> {
  return {
    format: meta.weightsOnly ? "convdeck-weights" : artifacts.format ?? "layers-model",
    generatedBy: artifacts.generatedBy,
    convertedBy: artifacts.convertedBy ?? null,
    ...(meta.weightsOnly ? {} : { modelTopology: artifacts.modelTopology }),
    ...(artifacts.trainingConfig && !meta.weightsOnly
      ? { trainingConfig: artifacts.trainingConfig }
      : {}),
    weightsManifest: [{ paths: [CHECKPOINT_FILES.weights], weights: artifacts.weightSpecs ?? [] }],
    userDefinedMetadata: { ...(artifacts.userDefinedMetadata ?? {}), convdeck: meta },
  };
}

/** The checkpoint metadata of `weights`. */
export async function checkpointMetadata(
  weights: Uint8Array,
  weightsOnly: boolean,
): Promise<CheckpointMetadata> {
  return {
    format: 1,
    weightsOnly,
    weightsSha256: await sha256Hex(weights),
    weightsBytes: weights.length,
    savedAt: new Date().toISOString(),
  };
}

/**
 * Writes `files` (name, content) into a folder beside `dir`, each flushed, with `last` (the
 * manifest) written after the others, and renames it into place (replacing an older `dir`)
 * with core/fs's one atomic folder write: a crash never leaves a half checkpoint. With
 * `root` (the run folder) the folders between it and `dir` are created and a deleted run is
 * never re-created; without it, `dir`'s parents are created (a path the user named).
 */
export async function writeCheckpointFolder(
  dir: string,
  files: [string, Uint8Array | string][],
  last?: [string, string],
  options: { root?: string } = {},
): Promise<string> {
  const target = resolve(dir);
  if (options.root === undefined) await makeDirs(dirname(target));
  await writeDirAtomic(target, async (tmp) => {
    // Written and flushed in parallel: the disk commits the flushes together; the manifest
    // last, so a folder with a manifest has every file it names.
    await Promise.all(files.map(([name, data]) => writeNewFile(join(tmp, name), data)));
    if (last) await writeNewFile(join(tmp, last[0]), last[1]);
  }, { root: options.root === undefined ? undefined : resolve(options.root) });
  return target;
}

/**
 * Saves a tfjs LayersModel (topology and weights) into checkpoint folder `dir`, the format
 * `model_io.ts` writes and loads; `root` as in {@linkcode writeCheckpointFolder}.
 */
export async function saveLayersModel(
  model: LayersModelLike,
  dir: string,
  options: { root?: string } = {},
): Promise<WrittenCheckpoint> {
  const artifacts = await captureArtifacts(model);
  const weights = joinWeightData(artifacts.weightData);
  const meta = await checkpointMetadata(weights, false);
  const files: [string, Uint8Array | string][] = [
    [CHECKPOINT_FILES.weights, weights],
    [CHECKPOINT_FILES.model, JSON.stringify(checkpointModelJson(artifacts, meta))],
  ];
  const target = await writeCheckpointFolder(dir, files, undefined, options);
  return {
    dir: target,
    files: files.map(([n]) => n),
    weightsSha256: meta.weightsSha256,
    weightsBytes: meta.weightsBytes,
  };
}
