/**
 * A run's model as something to ship (`deno task export`, the dashboard's "Download model"):
 * the tfjs model exactly as `tf.loadLayersModel` reads it (`model.json` + weight shards,
 * optionally quantized in tfjs's own format), `metadata.json` (classes, input, preprocessing,
 * run, checkpoint, the metric it was chosen by, versions, code identity), a static page that
 * classifies dropped images with the vendored tfjs, the shared preprocessing as `preprocess.js`,
 * and a README with Node and browser snippets.
 *
 * {@link buildExport} returns the files in memory (the dashboard zips them without writing);
 * {@link writeExport} writes them into a temp folder beside `--out` and renames it at the end.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs-core";
import * as tfl from "@tensorflow/tfjs-layers";
import { basename, dirname, join, relative, resolve, sep } from "node:path";
// Vendored into every export: embedded through the module graph, so exporting needs no read
// permission for Deno's npm cache (the dashboard's server may read only the runs folder).
import TFJS_MIN_JS from "@tensorflow/tfjs/dist/tf.min.js" with { type: "text" };
import TFJS_PACKAGE from "@tensorflow/tfjs/package.json" with { type: "json" };
import { VERSION } from "../version.ts";
import { readRunInfo } from "../run/run_info.ts";
import { RUN_FILES } from "../run/format.ts";
import { readRunDatasetFacts } from "../run/dataset_facts.ts";
import {
  assertTrained,
  findRunWeights,
  namedRunWeights,
  type RunWeights,
} from "../run/checkpoints.ts";
import { loadModelExplained, readState, verifyCheckpoint } from "../run/model_io.ts";
import { resolvePreprocessing } from "./input_spec.ts";
import { type PreprocessSpec, RESIZE_METHOD } from "./preprocess.ts";
import { type Quantization, QUANTIZATIONS, quantizeWeights, type WeightSpec } from "./quantize.ts";
import { exportIndexHtml, exportReadme, type ExportTexts } from "./export_page.ts";
import { APP_JS, PREPROCESS_JS } from "./_page_assets.ts";

export { QUANTIZATIONS };
export type { Quantization };

/** The tfjs version vendored into exports (`tf.min.js`). */
export const TFJS_VERSION: string = TFJS_PACKAGE.version;

/** tfjs's default weight shard size (4 MiB). */
const SHARD_BYTES = 4 * 1024 * 1024;

/** Options of {@link buildExport}. */
export interface ExportOptions {
  /** Checkpoint folder under `checkpoints/` (default: `findRunWeights`: best, else newest). */
  checkpoint?: string;
  /** Store the weights quantized (default: float32). */
  quantize?: Quantization;
  /** Bytes per weight shard (default 4 MiB, as tfjs). */
  shardBytes?: number;
}

/** `metadata.json` of an export. */
export interface ExportMetadata {
  /** Format of this file. */
  format: "convdeck-export";
  /** Its version. */
  formatVersion: 1;
  /** Class names by output index. */
  classes: string[];
  /** The model's input (NHWC, float32). */
  input: { height: number; width: number; channels: 1 | 3; layout: "NHWC"; dtype: "float32" };
  /** What `preprocess.js` needs (pass it as the spec), and how it is done, in words. */
  preprocessing: PreprocessSpec & {
    /** How predict and the training data resized (sharp), and how preprocess.js resizes. */
    resize: { training: string; preprocessJs: string };
    /** Alpha handling. */
    alpha: "composited over white";
    normalization: string;
    description: string;
  };
  /** `float32`, or how the weights are stored. */
  quantization: "float32" | Quantization;
  /** The run. */
  run: { id: string; experiment: string; status: string; epochs: number; createdAt: string };
  /** The checkpoint exported. */
  checkpoint: {
    name: string;
    kind: RunWeights["kind"];
    /** 0-based epoch of the weights, when recorded. */
    epoch?: number;
    /** The metric the checkpoint was chosen by (ModelCheckpoint's monitor) and its value. */
    chosenBy?: { metric: string; value: number | null };
    /** The epoch's logs when it was saved. */
    metrics?: Record<string, number>;
  };
  /** Test accuracy of the run, when it was evaluated. */
  test?: { accuracy: number; examples: number };
  /** Versions: convdeck's (exporting), the run's recorded ones, and the vendored tfjs. */
  versions: { convdeck: string; tfjs: string; run: Record<string, string> };
  /** The code that trained the run (run.json's `config.code`), when recorded. */
  code?: unknown;
  /** Fallbacks used for facts the run did not record. */
  notes: string[];
  /** ISO time of the export. */
  exportedAt: string;
}

/** An export in memory. */
export interface ExportBundle {
  /** File name (plain, in the export folder) to bytes. */
  files: Map<string, Uint8Array>;
  /** The metadata (also in `files` as metadata.json). */
  metadata: ExportMetadata;
  /** Bytes of model.json plus the weight shards. */
  modelBytes: number;
}

const enc = new TextEncoder();

function concat(parts: ArrayBuffer | ArrayBuffer[]): ArrayBuffer {
  if (!Array.isArray(parts)) return parts;
  const total = parts.reduce((a, p) => a + p.byteLength, 0);
  const out = new Uint8Array(total);
  let at = 0;
  for (const p of parts) {
    out.set(new Uint8Array(p), at);
    at += p.byteLength;
  }
  return out.buffer;
}

/**
 * Builds the export of the run in `runDir` in memory. Throws an error naming the run, the
 * checkpoint and the fix when the run has no usable weights (none, only the untrained starting
 * point, a checkpoint failing its manifest check or its checksum), no class names, or weights
 * that do not fit its dataset. Needs a registered tfjs backend; leaves no tensors behind.
 *
 * @example
 * ```ts ignore
 * import { buildExport } from "./export.ts";
 * const { files, metadata } = await buildExport("runs/default-20261201-101010", { quantize: "uint8" });
 * console.log([...files.keys()], metadata.classes);
 * ```
 */
export async function buildExport(
  runDir: string,
  options: ExportOptions = {},
): Promise<ExportBundle> {
  const dir = resolve(runDir);
  const quantize = options.quantize;
  if (quantize !== undefined && !QUANTIZATIONS.includes(quantize)) {
    throw new Error(
      `unknown quantization "${quantize}": use one of ${QUANTIZATIONS.join(", ")} (or none)`,
    );
  }
  const info = await readRunInfo(dir);
  const facts = await readRunDatasetFacts(dir);
  const weights = options.checkpoint
    ? await namedRunWeights(dir, options.checkpoint)
    : await findRunWeights(dir);
  assertTrained(
    weights,
    "train the run for at least one epoch (deno task train --resume <run>) and export again",
  );
  try {
    await verifyCheckpoint(weights.dir);
  } catch (err) {
    throw new Error(
      `checkpoint ${weights.name} of ${dir} fails its manifest check (${
        (err as Error).message
      }): it is damaged; export another one with --checkpoint NAME (see ${
        join(dir, RUN_FILES.checkpoints)
      })`,
    );
  }
  const model = await loadModelExplained(
    weights.dir,
    (message) =>
      `cannot load checkpoint ${weights.name} (${message.replace(`model_io: `, "")}); ` +
      `export another one with --checkpoint NAME`,
  );
  let artifacts: tf.io.ModelArtifacts | undefined;
  const notes = [...facts.notes];
  let pre;
  try {
    pre = resolvePreprocessing(dir, model.inputs[0].shape, facts, notes);
    const outputs = model.outputs[0].shape[1];
    if (outputs !== facts.classNames.length) {
      throw new Error(
        `${weights.dir}: the model outputs ${outputs} classes but the run has ` +
          `${facts.classNames.length} class names; the checkpoint does not belong to this run`,
      );
    }
    await model.save(tf.io.withSaveHandler((a) => {
      artifacts = a;
      return Promise.resolve({
        modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: "JSON" },
      });
    }));
  } finally {
    model.dispose();
  }
  if (!artifacts?.weightSpecs || !artifacts.weightData) {
    throw new Error(`checkpoint ${weights.name}: tfjs saved no weights`);
  }
  let data = concat(artifacts.weightData as ArrayBuffer | ArrayBuffer[]);
  let specs = artifacts.weightSpecs as WeightSpec[];
  if (quantize) ({ data, specs } = quantizeWeights(data, specs, quantize));

  const shardBytes = options.shardBytes ?? SHARD_BYTES;
  const shards: Uint8Array[] = [];
  for (let at = 0; at < data.byteLength || shards.length === 0; at += shardBytes) {
    shards.push(new Uint8Array(data.slice(at, Math.min(at + shardBytes, data.byteLength))));
  }
  const paths = shards.map((_, i) => `group1-shard${i + 1}of${shards.length}.bin`);
  const modelJson = {
    format: "layers-model",
    generatedBy: artifacts.generatedBy,
    convertedBy: `convdeck ${VERSION}`,
    modelTopology: artifacts.modelTopology,
    weightsManifest: [{ paths, weights: specs }],
  };

  const state = await readState(weights.dir).catch(() => undefined) as
    | {
      epoch?: number;
      logs?: Record<string, number>;
      checkpoint?: { monitor?: string; value?: number | null };
      trainer?: { position?: { epoch?: number } };
    }
    | undefined;
  const epoch = state?.epoch ??
    (state?.trainer?.position?.epoch !== undefined ? state.trainer.position.epoch - 1 : undefined);
  const [height, width, channels] = [pre.height, pre.width, pre.channels];
  const metadata: ExportMetadata = {
    format: "convdeck-export",
    formatVersion: 1,
    classes: facts.classNames,
    input: { height, width, channels, layout: "NHWC", dtype: "float32" },
    preprocessing: {
      height,
      width,
      channels,
      decodeChannels: pre.decodeChannels,
      decodeSize: pre.decodeSize,
      fit: pre.fit,
      resize: {
        training: `sharp (libvips) lanczos3 to ${pre.decodeSize}x${pre.decodeSize}` +
          (pre.decodeSize !== height ? `, then bilinear to ${height}x${width}` : ""),
        preprocessJs: RESIZE_METHOD,
      },
      alpha: "composited over white",
      normalization: pre.normalization,
      description: pre.description,
    },
    quantization: quantize ?? "float32",
    run: {
      id: basename(dir),
      experiment: info.experiment,
      status: info.status,
      epochs: info.epochs,
      createdAt: info.createdAt,
    },
    checkpoint: {
      name: weights.name,
      kind: weights.kind,
      ...(epoch !== undefined && epoch >= 0 ? { epoch } : {}),
      ...(state?.checkpoint?.monitor
        ? { chosenBy: { metric: state.checkpoint.monitor, value: state.checkpoint.value ?? null } }
        : {}),
      ...(state?.logs ? { metrics: state.logs } : {}),
    },
    ...(info.test ? { test: info.test } : {}),
    versions: { convdeck: VERSION, tfjs: TFJS_VERSION, run: info.versions ?? {} },
    ...(info.config?.code !== undefined ? { code: info.config.code } : {}),
    notes,
    exportedAt: new Date().toISOString(),
  };
  const texts: ExportTexts = {
    runId: metadata.run.id,
    checkpoint: weights.name,
    quantization: metadata.quantization,
    classes: facts.classNames,
    input: [height, width, channels],
    preprocessing: pre.description,
    tfjsVersion: TFJS_VERSION,
  };
  const files = new Map<string, Uint8Array>();
  files.set("model.json", enc.encode(JSON.stringify(modelJson)));
  shards.forEach((s, i) => files.set(paths[i], s));
  files.set("metadata.json", enc.encode(JSON.stringify(metadata, null, 2) + "\n"));
  files.set("preprocess.js", enc.encode(PREPROCESS_JS));
  files.set("app.js", enc.encode(APP_JS));
  files.set("index.html", enc.encode(exportIndexHtml(texts)));
  files.set("tf.min.js", enc.encode(TFJS_MIN_JS));
  files.set("README.md", enc.encode(exportReadme(texts)));
  // Node reads preprocess.js as the ES module it is.
  files.set(
    "package.json",
    enc.encode(JSON.stringify({ name: "convdeck-model", private: true, type: "module" }) + "\n"),
  );
  const modelBytes = files.get("model.json")!.length + shards.reduce((a, s) => a + s.length, 0);
  return { files, metadata, modelBytes };
}

/** True when `path` is `root` or inside it. */
function inside(path: string, root: string): boolean {
  const rel = relative(root, path);
  return rel === "" || (!rel.startsWith("..") && !rel.startsWith(sep) && rel !== "..");
}

/**
 * Checks an export destination before any work: refuses a folder inside the runs folder or
 * the run (a run folder is data that only the trainer writes), and an existing non-empty
 * folder unless `force`. Throws an error naming the folder and the fix.
 *
 * @example
 * ```ts ignore
 * import { checkExportDestination } from "./export.ts";
 * await checkExportDestination("exports/default", { runsDir: "runs", runDir: "runs/x" });
 * ```
 */
export async function checkExportDestination(
  out: string,
  where: { runsDir: string; runDir: string; force?: boolean },
): Promise<void> {
  const target = resolve(out);
  for (const [root, what] of [[where.runsDir, "the runs folder"], [where.runDir, "the run"]]) {
    if (inside(target, resolve(root))) {
      throw new Error(
        `--out ${out} is inside ${what} (${root}): run folders hold only what training ` +
          `writes; export somewhere else, e.g. --out exports/${basename(resolve(where.runDir))}`,
      );
    }
  }
  const st = await Deno.lstat(target).catch(() => null);
  if (!st) return;
  if (!st.isDirectory) {
    throw new Error(`--out ${out} exists and is not a folder: choose another --out`);
  }
  for await (const _ of Deno.readDir(target)) {
    if (!where.force) {
      throw new Error(
        `--out ${out} exists and is not empty: add --force to replace it, or choose another --out`,
      );
    }
    return;
  }
}

/**
 * Writes an export into a temp folder beside `out` and renames it to `out` at the end (an
 * existing `out` is replaced only after the new one is complete), so an interrupted export
 * leaves nothing half-written in `out`. Call {@link checkExportDestination} first.
 *
 * @example
 * ```ts ignore
 * import { buildExport, writeExport } from "./export.ts";
 * await writeExport(await buildExport("runs/x"), "exports/x");
 * ```
 */
export async function writeExport(bundle: ExportBundle, out: string): Promise<void> {
  const target = resolve(out);
  const parent = dirname(target);
  await Deno.mkdir(parent, { recursive: true });
  const tmp = await Deno.makeTempDir({ dir: parent, prefix: `.${basename(target)}.export-` });
  try {
    await Deno.chmod(tmp, 0o755); // a folder to serve (makeTempDir makes it private)
    for (const [name, bytes] of bundle.files) await Deno.writeFile(join(tmp, name), bytes);
    const old = await Deno.lstat(target).catch(() => null);
    if (old) {
      const aside = `${tmp}.old`;
      await Deno.rename(target, aside);
      await Deno.rename(tmp, target);
      await Deno.remove(aside, { recursive: true });
    } else {
      await Deno.rename(tmp, target);
    }
  } catch (err) {
    await Deno.remove(tmp, { recursive: true }).catch(() => {});
    throw err;
  }
}

/**
 * Loads an export written by {@link writeExport} (model.json + shards, dequantizing quantized
 * weights as plain tfjs does) with its metadata, e.g. to evaluate it against its run's data
 * (`deno task evaluate --run RUN --export DIR`). Throws naming the folder when it is not an
 * export.
 *
 * @example
 * ```ts ignore
 * import { loadExport } from "./export.ts";
 * const { model, metadata } = await loadExport("exports/default-uint8");
 * console.log(metadata.quantization, model.outputs[0].shape);
 * model.dispose();
 * ```
 */
export async function loadExport(
  dir: string,
): Promise<{ model: tfl.LayersModel; metadata: ExportMetadata }> {
  const read = async (name: string) => {
    try {
      return await Deno.readFile(join(dir, name));
    } catch (err) {
      throw new Error(
        `${dir} is not a convdeck export (cannot read ${name}: ${(err as Error).message}); ` +
          `write one with deno task export`,
      );
    }
  };
  const dec = new TextDecoder();
  const metadata = JSON.parse(dec.decode(await read("metadata.json"))) as ExportMetadata;
  const json = JSON.parse(dec.decode(await read("model.json")));
  if (metadata.format !== "convdeck-export" || json.format !== "layers-model") {
    throw new Error(`${dir} is not a convdeck export (metadata.json or model.json): export again`);
  }
  const group = json.weightsManifest?.[0];
  const paths: string[] = group?.paths ?? [];
  if (paths.some((p) => p.includes("/") || p.includes("\\") || p.startsWith("."))) {
    throw new Error(`${dir}/model.json names weight files outside the folder; refused`);
  }
  const shards = await Promise.all(paths.map(read));
  const artifacts: tf.io.ModelArtifacts = {
    modelTopology: json.modelTopology,
    weightSpecs: group.weights,
    weightData: concat(shards.map((s) => s.slice().buffer)),
  };
  const model = await tfl.loadLayersModel({ load: () => Promise.resolve(artifacts) });
  return { model, metadata };
}
