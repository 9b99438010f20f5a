/**
 * Saving and loading tfjs models, weights and optimizer state in Deno, in tfjs's standard
 * `model.json` + `weights.bin` format (the one `tf.loadLayersModel` reads over http and
 * tfjs-node reads with `file://`, which only exists in tfjs-node).
 *
 * A checkpoint directory:
 * ```
 * <dir>/model.json       topology + weightsManifest (no topology when weights-only);
 *                        userDefinedMetadata.convdeck = { weightsSha256, weightsBytes, ... }
 * <dir>/weights.bin      all weights, concatenated as tfjs encodes them
 * <dir>/optimizer.json   optional: optimizer class, config, manifest and sha256
 * <dir>/optimizer.bin    optional: optimizer.getWeights() (Adam's iterations and moments ...)
 * <dir>/state.json       optional: JSON state (epoch, logs, callbacks' state ...)
 * ```
 * `saveModel` writes the whole directory next to its destination and renames it into place,
 * so a crash never leaves a half-written checkpoint; loading verifies the sha256 checksums.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs-core";
import * as tfl from "@tensorflow/tfjs-layers";
import { basename, join } from "node:path";
import { existsConfined, FsError, readConfined, readConfinedText } from "../fs/confine.ts";
import { makeDirs, writeFileAtomic } from "../fs/atomic.ts";
import { sha256Hex } from "../sha256.ts";
export {
  CHECKPOINT_FILES,
  type CheckpointMetadata,
  MAX_MANIFEST_BYTES,
} from "./checkpoint_writer.ts";
import {
  captureArtifacts,
  CHECKPOINT_FILES,
  type CheckpointMetadata,
  checkpointMetadata,
  checkpointModelJson,
  MAX_MANIFEST_BYTES,
  writeCheckpointFolder,
} from "./checkpoint_writer.ts";

/** The most bytes a checkpoint's JSON files (model.json, optimizer.json, state.json) may have. */
export const MAX_CHECKPOINT_JSON_BYTES = 256 << 20;

/** The most bytes one binary file of a checkpoint (weights, optimizer state) may have. */
export const MAX_CHECKPOINT_BIN_BYTES = 4 * 1024 ** 3;

/** `manifest.json` of a checkpoint: every other file's sha256 and size, written last. */
export interface CheckpointManifest {
  /** Manifest format. */
  format: 1;
  /** ISO time of the save. */
  savedAt: string;
  /**
   * Save order among a run's resume points (1, 2, ...): "newest" without trusting clocks,
   * which can step backwards.
   */
  sequence?: number;
  /** File name (plain, inside the checkpoint) to its hash and size. */
  files: Record<string, { sha256: string; bytes: number }>;
}

/** True for a plain file name that stays inside its folder. */
function isPlainName(name: string): boolean {
  return name.length > 0 && name.length < 200 && !/[\\/\0]/.test(name) && name !== "." &&
    name !== "..";
}

/** Options of {@link saveModel}. */
export interface SaveModelOptions {
  /** Save the weights without the topology (Keras `save_weights_only`). */
  weightsOnly?: boolean;
  /** Also save this optimizer's state (optimizer.json + optimizer.bin). */
  optimizer?: tf.Optimizer;
  /** Also save this JSON value as state.json. */
  state?: unknown;
  /**
   * More files to keep in the checkpoint (plain names), e.g. callbacks' binary state; the
   * manifest covers them like the rest.
   */
  extraFiles?: Record<string, Uint8Array>;
  /**
   * Also write `manifest.json` (every file's sha256 and size), checked by
   * {@linkcode verifyCheckpoint}: resume points have one.
   */
  manifest?: boolean;
  /** The manifest's `sequence` (save order among a run's resume points). */
  sequence?: number;
  /**
   * The existing folder (a run folder) the checkpoint belongs to: it must exist, folders
   * between it and the checkpoint are created (never a symlink). Without it, the
   * checkpoint's parent folders are created as needed.
   */
  root?: string;
}

/** What {@link saveModel} wrote. */
export interface SavedCheckpoint {
  /** Absolute path of the checkpoint directory. */
  dir: string;
  /** File names written inside it. */
  files: string[];
  /** Hex sha256 of weights.bin. */
  weightsSha256: string;
  /** Size of weights.bin in bytes. */
  weightsBytes: number;
}

export { sha256Hex } from "../sha256.ts";

function toBytes(data: tf.io.WeightData | undefined): Uint8Array {
  if (data === undefined) return new Uint8Array(0);
  return new Uint8Array(tf.io.CompositeArrayBuffer.join(data));
}

/** `confine`'s checks for a file of a checkpoint folder (its messages say "a checkpoint"). */
const IN_CHECKPOINT = { scope: "a checkpoint" };

/** Encodes an optimizer's weights; returns the json and bin contents. */
async function encodeOptimizer(
  optimizer: tf.Optimizer,
): Promise<{ json: string; bin: Uint8Array }> {
  const named = await optimizer.getWeights();
  try {
    const { data, specs } = await tf.io.encodeWeights(named);
    const bin = new Uint8Array(data);
    const json = {
      format: "convdeck-optimizer",
      version: 1,
      className: optimizer.getClassName(),
      config: optimizer.getConfig(),
      weightsManifest: [{ paths: [CHECKPOINT_FILES.optimizer], weights: specs }],
      sha256: await sha256Hex(bin),
      bytes: bin.length,
    };
    return { json: JSON.stringify(json, null, 1), bin };
  } finally {
    // getWeights returns the optimizer's own variables plus fresh tensors (iterations):
    // dispose only the fresh ones.
    for (const { tensor } of named) if (!(tensor instanceof tf.Variable)) tensor.dispose();
  }
}

/**
 * Saves `model` to directory `dir` in tfjs's standard format (`model.json` + `weights.bin`),
 * with a sha256 of the weights in `userDefinedMetadata.convdeck`, and optionally the optimizer
 * state and a JSON state. The directory is written under a temporary name beside `dir` and
 * renamed into place (replacing an older `dir`), so a crash never leaves a half checkpoint.
 * Parent directories are created.
 *
 * @example
 * ```ts
 * import { loadModel, saveModel } from "./model_io.ts";
 * // await saveModel(model, "runs/x/checkpoints/best", { optimizer });
 * // const again = await loadModel("runs/x/checkpoints/best");
 * ```
 */
export async function saveModel(
  model: tfl.LayersModel,
  dir: string,
  options: SaveModelOptions = {},
): Promise<SavedCheckpoint> {
  const weightsOnly = Boolean(options.weightsOnly);
  const artifacts = await captureArtifacts(model);
  const weights = toBytes(artifacts.weightData as tf.io.WeightData | undefined);
  const meta = await checkpointMetadata(weights, weightsOnly);
  const modelJson = checkpointModelJson(artifacts, meta);
  const files: [string, Uint8Array | string][] = [
    [CHECKPOINT_FILES.weights, weights],
    [CHECKPOINT_FILES.model, JSON.stringify(modelJson)],
  ];
  if (options.optimizer) {
    const { json, bin } = await encodeOptimizer(options.optimizer);
    files.push([CHECKPOINT_FILES.optimizer, bin], [CHECKPOINT_FILES.optimizerJson, json]);
  }
  if (options.state !== undefined) {
    files.push([CHECKPOINT_FILES.state, JSON.stringify(options.state, null, 1)]);
  }
  for (const [name, bytes] of Object.entries(options.extraFiles ?? {})) {
    if (!isPlainName(name) || Object.values(CHECKPOINT_FILES).includes(name as never)) {
      throw new Error(`model_io: extra file name ${JSON.stringify(name)} is not allowed`);
    }
    files.push([name, bytes]);
  }
  const manifest: CheckpointManifest = {
    format: 1,
    savedAt: meta.savedAt,
    ...(options.sequence !== undefined ? { sequence: options.sequence } : {}),
    files: {},
  };
  for (const [name, data] of files) {
    const bytes = typeof data === "string" ? new TextEncoder().encode(data) : data;
    manifest.files[name] = { sha256: await sha256Hex(bytes), bytes: bytes.length };
  }

  const target = await writeCheckpointFolder(
    dir,
    files,
    options.manifest ? [CHECKPOINT_FILES.manifest, JSON.stringify(manifest, null, 1)] : undefined,
    { root: options.root },
  );
  return {
    dir: target,
    files: [...files.map(([n]) => n), ...(options.manifest ? [CHECKPOINT_FILES.manifest] : [])],
    weightsSha256: meta.weightsSha256,
    weightsBytes: meta.weightsBytes,
  };
}

/** Writes only the optimizer state into an existing directory (each file write-then-rename). */
export async function saveOptimizer(optimizer: tf.Optimizer, dir: string): Promise<void> {
  const { json, bin } = await encodeOptimizer(optimizer);
  await makeDirs(dir);
  for (
    const [name, data] of [[CHECKPOINT_FILES.optimizer, bin], [
      CHECKPOINT_FILES.optimizerJson,
      json,
    ]] as const
  ) {
    await writeFileAtomic(join(dir, name), data);
  }
}

/** Reads a file of a checkpoint folder by the confinement policy, with model_io's messages. */
async function readCheckpointBytes(
  dir: string,
  name: string,
  maxBytes: number,
  missing: () => string,
): Promise<Uint8Array> {
  try {
    return await readConfined(dir, name, maxBytes, IN_CHECKPOINT);
  } catch (e) {
    if (e instanceof FsError && e.status === 404) throw new Error(missing());
    if (e instanceof FsError) {
      throw new Error(`model_io: ${basename(dir)}/${e.message}`, { cause: e });
    }
    throw e;
  }
}

async function readJson(dir: string, name: string, what: string): Promise<Record<string, unknown>> {
  const path = join(dir, name);
  const text = new TextDecoder().decode(
    await readCheckpointBytes(
      dir,
      name,
      MAX_CHECKPOINT_JSON_BYTES,
      () =>
        `model_io: ${path} not found: ${dir} is not a ${what} (expected ${name} written by ` +
        `saveModel${name === CHECKPOINT_FILES.model ? " or tfjs model.save" : "/saveOptimizer"}).`,
    ),
  );
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new Error(
      `model_io: ${path} is not valid JSON (${(e as Error).message}); the file is corrupt.`,
    );
  }
}

async function readVerified(
  dir: string,
  name: string,
  sha: unknown,
  bytes: unknown,
): Promise<Uint8Array> {
  const path = join(dir, name);
  const data = await readCheckpointBytes(
    dir,
    name,
    typeof bytes === "number" && bytes >= 0 ? bytes : MAX_CHECKPOINT_BIN_BYTES,
    () => `model_io: ${path} is missing; the checkpoint is incomplete, pick another one.`,
  );
  if (typeof sha === "string") {
    const got = await sha256Hex(data);
    if (got !== sha) {
      throw new Error(
        `model_io: checksum mismatch for ${path}: expected sha256 ${sha}, got ${got}` +
          (typeof bytes === "number" && bytes !== data.length
            ? ` (${data.length} bytes, expected ${bytes})`
            : "") +
          `. The checkpoint is corrupt or was modified; re-save it or use another checkpoint.`,
      );
    }
  }
  return data;
}

interface ReadModel {
  json: Record<string, unknown>;
  meta?: CheckpointMetadata;
  specs: tf.io.WeightsManifestEntry[];
  weights: Uint8Array;
}

async function readModelDir(dir: string): Promise<ReadModel> {
  const json = await readJson(dir, CHECKPOINT_FILES.model, "checkpoint directory");
  const meta = (json.userDefinedMetadata as Record<string, unknown> | undefined)?.convdeck as
    | CheckpointMetadata
    | undefined;
  const manifest = json.weightsManifest as tf.io.WeightsManifestConfig | undefined;
  if (!Array.isArray(manifest)) {
    throw new Error(
      `model_io: ${join(dir, CHECKPOINT_FILES.model)} has no weightsManifest; not a tfjs model.`,
    );
  }
  const specs = manifest.flatMap((g) => g.weights);
  const parts: Uint8Array[] = [];
  for (const group of manifest) {
    for (const p of group.paths) {
      const name = typeof p === "string" ? p.replace(/^\.\//, "") : "";
      if (!isPlainName(name)) {
        throw new Error(
          `model_io: ${join(dir, CHECKPOINT_FILES.model)} names weights file ` +
            `${JSON.stringify(p)}, which is not a plain file inside the checkpoint; refused.`,
        );
      }
      parts.push(
        name === CHECKPOINT_FILES.weights && meta
          ? await readVerified(dir, name, meta.weightsSha256, meta.weightsBytes)
          : await readVerified(dir, name, undefined, undefined),
      );
    }
  }
  const weights = parts.length === 1
    ? parts[0]
    : new Uint8Array(tf.io.concatenateArrayBuffers(parts.map((p) => p.slice().buffer)));
  return { json, meta, specs, weights };
}

/**
 * Loads a model saved by {@link saveModel} (or any tfjs `model.json` + weights in a
 * directory), verifying the weights' sha256. Throws a clear error for a weights-only
 * checkpoint, a missing file or a checksum mismatch.
 */
export async function loadModel(dir: string): Promise<tfl.LayersModel> {
  const { json, meta, specs, weights } = await readModelDir(dir);
  if (meta?.weightsOnly || !json.modelTopology) {
    throw new Error(
      `model_io: ${dir} holds weights only (saveWeightsOnly); build the model in code and ` +
        `call loadWeights(model, dir) instead.`,
    );
  }
  const artifacts: tf.io.ModelArtifacts = {
    modelTopology: json.modelTopology as tf.io.ModelArtifacts["modelTopology"],
    format: json.format as string | undefined,
    generatedBy: json.generatedBy as string | undefined,
    convertedBy: json.convertedBy as string | null | undefined,
    trainingConfig: json.trainingConfig as tf.io.TrainingConfig | undefined,
    userDefinedMetadata: json.userDefinedMetadata as tf.io.ModelArtifacts["userDefinedMetadata"],
    weightSpecs: specs,
    weightData: weights.slice().buffer,
  };
  return await tfl.loadLayersModel({ load: () => Promise.resolve(artifacts) });
}

/**
 * {@link loadModel}, its failure's message rewritten by `explain` (given loadModel's message):
 * for callers that say which checkpoint could not be loaded and what to do instead.
 *
 * @example
 * ```ts
 * import { loadModelExplained } from "./model_io.ts";
 * const dir = "runs/x/checkpoints/best";
 * const model = await loadModelExplained(dir, (m) => `cannot load ${dir}: ${m}`);
 * ```
 */
export async function loadModelExplained(
  dir: string,
  explain: (message: string) => string,
): Promise<tfl.LayersModel> {
  try {
    return await loadModel(dir);
  } catch (err) {
    throw new Error(explain((err as Error).message));
  }
}

/**
 * Loads the weights of a checkpoint (full or weights-only) into `model`, which must have the
 * same architecture: weights are matched in order and their shapes checked.
 */
export async function loadWeights(model: tfl.LayersModel, dir: string): Promise<void> {
  const { specs, weights } = await readModelDir(dir);
  const target = model.weights;
  if (specs.length !== target.length) {
    throw new Error(
      `model_io: ${dir} holds ${specs.length} weight tensors but the model has ${target.length}; ` +
        `build the same architecture that was saved.`,
    );
  }
  specs.forEach((s, i) => {
    const want = target[i].shape;
    if (s.shape.length !== want.length || s.shape.some((d, j) => d !== want[j])) {
      throw new Error(
        `model_io: weight ${i} (${s.name}) in ${dir} has shape [${s.shape}] but the model's ` +
          `${target[i].name} has [${want}]; build the same architecture that was saved.`,
      );
    }
  });
  const map = tf.io.decodeWeights(weights.slice().buffer, specs);
  const tensors = specs.map((s) => map[s.name]);
  try {
    model.setWeights(tensors);
  } finally {
    tf.dispose(Object.values(map));
  }
}

/** True when `dir` holds saved optimizer state. */
export function hasOptimizer(dir: string): Promise<boolean> {
  return existsConfined(dir, CHECKPOINT_FILES.optimizerJson, "file", IN_CHECKPOINT);
}

/**
 * Restores optimizer state saved with `saveModel(..., { optimizer })` or {@link saveOptimizer}
 * into `optimizer`, which must be of the same class. Verifies the sha256.
 */
export async function loadOptimizer(optimizer: tf.Optimizer, dir: string): Promise<void> {
  const json = await readJson(
    dir,
    CHECKPOINT_FILES.optimizerJson,
    "checkpoint with optimizer state",
  );
  if (json.className !== optimizer.getClassName()) {
    throw new Error(
      `model_io: ${join(dir, CHECKPOINT_FILES.optimizerJson)} holds ${String(json.className)} ` +
        `state but the optimizer is ${optimizer.getClassName()}; use the same optimizer to resume.`,
    );
  }
  const bin = await readVerified(dir, CHECKPOINT_FILES.optimizer, json.sha256, json.bytes);
  const specs = (json.weightsManifest as tf.io.WeightsManifestConfig).flatMap((g) => g.weights);
  const map = tf.io.decodeWeights(bin.slice().buffer, specs);
  try {
    await optimizer.setWeights(specs.map((s) => ({ name: s.name, tensor: map[s.name] })));
  } finally {
    tf.dispose(Object.values(map));
  }
  restoreAdamAccumulators(optimizer);
}

/**
 * `beta^n` as float32 training reaches it: `n - 1` float32 products starting from `beta` (Adam
 * multiplies its bias-correction accumulators by beta once per step).
 *
 * @example
 * ```ts
 * import { float32Power } from "./model_io.ts";
 * float32Power(0.999, 32) === Math.fround(Math.pow(0.999, 32)); // false: the products round
 * ```
 */
export function float32Power(beta: number, n: number): number {
  const b = Math.fround(beta);
  let acc = b;
  for (let i = 1; i < n; i++) acc = Math.fround(acc * b);
  return acc;
}

/**
 * tfjs's `Adam.setWeights` sets the accumulators `beta1^(t+1)`, `beta2^(t+1)` with `pow`, which
 * differs in the last bits from the products training made: a run resumed after step t would
 * then drift from one never stopped. Set them as training has them.
 */
function restoreAdamAccumulators(optimizer: tf.Optimizer): void {
  const o = optimizer as unknown as {
    accBeta1?: tf.Variable;
    accBeta2?: tf.Variable;
    beta1: number;
    beta2: number;
    iterations: number;
  };
  if (optimizer.getClassName() !== "Adam" || !o.accBeta1 || !o.accBeta2) return;
  const n = o.iterations + 1;
  tf.tidy(() => {
    o.accBeta1!.assign(tf.scalar(float32Power(o.beta1, n)));
    o.accBeta2!.assign(tf.scalar(float32Power(o.beta2, n)));
  });
}

/** Reads a checkpoint's state.json, or `undefined` when it has none. */
export async function readState(dir: string): Promise<unknown> {
  if (!(await existsConfined(dir, CHECKPOINT_FILES.state, "file", IN_CHECKPOINT))) {
    return undefined;
  }
  return await readJson(dir, CHECKPOINT_FILES.state, "checkpoint with state");
}

/**
 * Checks a checkpoint against its `manifest.json`: every listed file exists with its size and
 * sha256, names stay inside the folder. Returns the manifest, or `undefined` when the folder
 * has none (saved by an older convdeck or by tfjs). Throws an error naming the first problem.
 */
export async function verifyCheckpoint(dir: string): Promise<CheckpointManifest | undefined> {
  const path = join(dir, CHECKPOINT_FILES.manifest);
  let text: string;
  try {
    // Never a symlink, FIFO or device (a run folder is data), and capped.
    text = await readConfinedText(dir, CHECKPOINT_FILES.manifest, MAX_MANIFEST_BYTES);
  } catch (e) {
    if (e instanceof FsError && e.status === 404) return undefined;
    throw new Error(`${dir}: ${(e as Error).message}`);
  }
  let m: CheckpointManifest;
  try {
    m = JSON.parse(text);
  } catch (e) {
    throw new Error(`${path} is not valid JSON (${(e as Error).message})`);
  }
  if (m?.format !== 1 || typeof m.files !== "object" || m.files === null) {
    throw new Error(`${path} is not a convdeck checkpoint manifest`);
  }
  for (const [name, want] of Object.entries(m.files)) {
    if (!isPlainName(name)) {
      throw new Error(`${path} names ${JSON.stringify(name)}, outside the checkpoint; refused`);
    }
    const st = await Deno.lstat(join(dir, name)).catch(() => null);
    if (!st?.isFile) throw new Error(`${name} is missing (or not a regular file)`);
    if (st.size !== want?.bytes) {
      throw new Error(`${name} has ${st.size} bytes, the manifest says ${want?.bytes}`);
    }
    let data: Uint8Array;
    try {
      data = await readConfined(dir, name, want.bytes, IN_CHECKPOINT);
    } catch (e) {
      throw new Error(`${name}: ${(e as Error).message}`);
    }
    const got = await sha256Hex(data);
    if (got !== want.sha256) throw new Error(`${name} does not match its sha256 in the manifest`);
  }
  return m;
}

/** Reads a file of a checkpoint (a plain name); `undefined` when it does not exist. */
export async function readCheckpointFile(
  dir: string,
  name: string,
): Promise<Uint8Array | undefined> {
  if (!isPlainName(name)) throw new Error(`model_io: ${JSON.stringify(name)} is not a plain name`);
  try {
    return await readConfined(dir, name, MAX_CHECKPOINT_BIN_BYTES, IN_CHECKPOINT);
  } catch (e) {
    if (e instanceof FsError && e.status === 404) return undefined;
    if (e instanceof FsError) throw new Error(`model_io: ${basename(dir)}/${e.message}`);
    throw e;
  }
}

/**
 * Whether a checkpoint holds the model's topology (a full model) or only weights
 * (`saveWeightsOnly`); throws naming the folder when it has no `model.json`.
 */
export async function hasModelTopology(dir: string): Promise<boolean> {
  const json = await readJson(dir, CHECKPOINT_FILES.model, "checkpoint directory");
  return Boolean(json.modelTopology);
}

/**
 * The model topology saved in a checkpoint's `model.json` (tfjs `modelTopology`), or
 * `undefined` for a weights-only checkpoint; throws naming the folder when it has no
 * `model.json`. Compare it with {@linkcode currentTopology} through `topologyChanges`.
 *
 * @example
 * ```ts
 * import { readModelTopology } from "./model_io.ts";
 * // const saved = await readModelTopology("runs/x/checkpoints/resume/e0003-b00000");
 * ```
 */
export async function readModelTopology(dir: string): Promise<unknown> {
  const json = await readJson(dir, CHECKPOINT_FILES.model, "checkpoint directory");
  return json.modelTopology ?? undefined;
}

/**
 * The topology of `model` as `saveModel` writes it (`model.toJSON(null, false)`), for
 * comparing with {@linkcode readModelTopology}.
 */
export function currentTopology(model: tfl.LayersModel): unknown {
  return model.toJSON(null, false);
}
