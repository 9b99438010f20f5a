/**
 * `deno task patterns --run RUN [--layer NAME]... [--filters 0-15] [--steps N] [--out DIR]`:
 * what each conv layer of a trained run detects. For every chosen layer, the patterns of the
 * chosen filters by gradient ascent on the input (see `core/viz/patterns.ts`) and the
 * top-activating validation patches (`core/viz/top_patches.ts`), as PNG grids. By default they
 * go into the run (`viz/`, through its writer, listed in its viz index for the dashboard's
 * "What it learned" tab); with `--out DIR` into DIR with a `patterns.json` beside them.
 *
 * Exit status: 0 when done, 1 when it failed (unknown run, no weights, a layer that is not a
 * conv layer, filters out of range: the message lists what exists), 2 for bad flags.
 *
 * @module
 */
import { isAbsolute, join, relative, resolve } from "node:path";
import type * as tfl from "@tensorflow/tfjs-layers";
import { BACKEND_NAMES, type BackendName, initBackend } from "../core/backend/select.ts";
import type { TrainOptions } from "../core/experiment/experiment.ts";
import type { Dataset } from "../core/data/dataset.ts";
import { isBuiltinExperiment, loadExperiment } from "../experiments/registry.ts";
import { hasModelTopology, loadModel, loadWeights } from "../core/run/model_io.ts";
import { readRunInfo } from "../core/run/reader.ts";
import { readRunDatasetFacts } from "../core/run/dataset_facts.ts";
import { RunWriter } from "../core/run/writer.ts";
import { findRunWeights, namedRunWeights, type RunWeights } from "../core/run/checkpoints.ts";
import { readVizIndex, writeVizIndex } from "../core/run/artifacts.ts";
import { makeDirs, writeFileAtomic } from "../core/fs/atomic.ts";
import { ProgressLine } from "../core/format/progress.ts";
import {
  computePatternSet,
  type FileSink,
  mergePatternSets,
  planPatterns,
} from "../core/viz/pattern_report.ts";
import { runAndExit } from "./_process.ts";
import { resolveRun, shownPath } from "./_run_ref.ts";
import { choiceFlag, FlagError, intFlag, parseFlags, runCommand } from "../core/flags.ts";

const USAGE =
  `Usage: deno task patterns --run RUN [--layer NAME]... [--filters LIST] [--steps N] [--out DIR]

  --run RUN          the run: its id in --runs, or its folder
  --runs DIR         the runs folder (default: runs)
  --layer NAME       a conv layer (repeatable; default: every conv layer)
  --filters LIST     filter indices, e.g. 0-15 or 0,4,8-11 (default: the first 16 of each layer)
  --steps N          gradient-ascent steps (default 40)
  --seed N           seed of the starting noise and the jitter (default 1)
  --patches K        top-activating validation patches per filter (default 8; 0: none)
  --images N         validation images scanned for patches (default 256)
  --out DIR          write the PNGs and patterns.json into DIR instead of the run
  --checkpoint NAME  checkpoint folder under the run's checkpoints/ (default: best, else the
                     newest other checkpoint, else the newest resume point)
  --experiment X     the experiment (for the validation images; default: the run's own)
  --backend NAME     ${BACKEND_NAMES.join("|")} (default auto)
  -h, --help         show this help

Patterns take about a second per layer at 64x64 on native and much longer at 224x224; the
time per layer is printed. Exit status: 0 when done, 1 when it failed, 2 for bad flags.`;

/** Parsed command line. */
export interface PatternsArgs {
  /** Run id or folder. */
  run: string;
  /** Runs folder. */
  runsDir: string;
  /** Conv layers (empty: all). */
  layers: string[];
  /** Filter indices (undefined: the first 16 of each layer). */
  filters?: number[];
  /** Gradient-ascent steps. */
  steps: number;
  /** Seed. */
  seed: number;
  /** Patches per filter. */
  patches: number;
  /** Validation images scanned. */
  images: number;
  /** Output folder instead of the run. */
  out?: string;
  /** Checkpoint name. */
  checkpoint?: string;
  /** Experiment name or path. */
  experiment?: string;
  /** Backend. */
  backend: BackendName;
}

/**
 * Parses a filter list: `0-15`, `3`, `0,4,8-11` (ascending ranges, non-negative integers).
 *
 * @example
 * ```ts
 * import { parseFilterList } from "./patterns.ts";
 * console.log(parseFilterList("0-3,8")); // [0, 1, 2, 3, 8]
 * ```
 */
export function parseFilterList(text: string): number[] {
  const out: number[] = [];
  for (const part of text.split(",")) {
    const m = /^\s*(\d+)\s*(?:-\s*(\d+)\s*)?$/.exec(part);
    if (!m) throw new Error(`--filters must look like 0-15 or 0,4,8-11, got "${text}"`);
    const a = Number(m[1]), b = m[2] === undefined ? a : Number(m[2]);
    if (b < a) throw new Error(`--filters range ${part.trim()} runs backwards`);
    if (b - a > 4096) throw new Error(`--filters range ${part.trim()} is too long`);
    for (let f = a; f <= b; f++) if (!out.includes(f)) out.push(f);
  }
  return out;
}

/** Parses the command line; throws {@linkcode FlagError} on a bad flag. */
export function parsePatternsArgs(args: string[]): PatternsArgs {
  const { values } = parseFlags(args, {
    run: { type: "string" },
    runs: { type: "string" },
    layer: { type: "string", multiple: true },
    filters: { type: "string" },
    steps: { type: "string" },
    seed: { type: "string" },
    patches: { type: "string" },
    images: { type: "string" },
    out: { type: "string" },
    checkpoint: { type: "string" },
    experiment: { type: "string" },
    backend: { type: "string" },
    help: { type: "boolean", short: "h" },
  });
  if (!values.run) throw new FlagError("--run RUN is required (a run id or a run folder)");
  let filters: number[] | undefined;
  try {
    filters = values.filters === undefined ? undefined : parseFilterList(values.filters);
  } catch (err) {
    throw new FlagError((err as Error).message);
  }
  return {
    run: values.run,
    runsDir: values.runs ?? "runs",
    layers: values.layer ?? [],
    filters,
    steps: intFlag("--steps", values.steps, { min: 1 }) ?? 40,
    seed: intFlag("--seed", values.seed, { min: 0 }) ?? 1,
    patches: intFlag("--patches", values.patches, { min: 0 }) ?? 8,
    images: intFlag("--images", values.images, { min: 1 }) ?? 256,
    out: values.out,
    checkpoint: values.checkpoint,
    experiment: values.experiment,
    backend: choiceFlag("--backend", values.backend, BACKEND_NAMES) ?? "auto",
  };
}

/** Writes files into `dir` (write-then-rename), refusing paths that leave it. */
function folderSink(dir: string): FileSink {
  const root = resolve(dir);
  return {
    async artifact(relPath, data) {
      const target = resolve(root, relPath);
      const rel = relative(root, target);
      if (rel === "" || rel.startsWith("..") || isAbsolute(rel)) {
        throw new Error(`${relPath} is outside the output folder`);
      }
      await writeFileAtomic(target, data, { sync: false, root });
      return target;
    },
  };
}

async function loadRunModel(
  dir: string,
  weights: RunWeights,
  experimentFor: () => Promise<
    { model: (s: [number, number, number], n: number) => tfl.LayersModel }
  >,
): Promise<tfl.LayersModel> {
  if (await hasModelTopology(weights.dir)) return await loadModel(weights.dir);
  const experiment = await experimentFor();
  const facts = await readRunDatasetFacts(dir);
  if (!facts.imageShape) {
    throw new Error(
      `checkpoints/${weights.name} holds weights only and the run records no image shape to ` +
        `rebuild the model with`,
    );
  }
  const model = experiment.model(facts.imageShape, facts.classNames.length);
  try {
    await loadWeights(model, weights.dir);
  } catch (err) {
    model.dispose();
    throw err;
  }
  return model;
}

/** Runs `deno task patterns`; returns where the files went. */
export async function runPatterns(args: PatternsArgs): Promise<string> {
  const { dir } = await resolveRun("--run", args.run, args.runsDir);
  const info = await readRunInfo(dir);
  const weights = args.checkpoint
    ? await namedRunWeights(dir, args.checkpoint)
    : await findRunWeights(dir).catch((err) => {
      throw new Error(`the run ${info.id} has no weights: ${(err as Error).message}`);
    });
  const stored = String(info.config?.experimentSource ?? info.experiment);
  const source = args.experiment ?? (isBuiltinExperiment(stored) ? stored : undefined);
  const experimentFor = () => {
    if (!source) {
      throw new Error(
        `${info.id} was trained with an experiment file. A run folder never chooses the code ` +
          `to run: pass the experiment file yourself with --experiment PATH.`,
      );
    }
    return loadExperiment(source);
  };
  const backend = await initBackend(args.backend, { log: (l) => console.error(l) });
  console.error(`backend: ${backend.name} (${backend.reason})`);
  const model = await loadRunModel(dir, weights, experimentFor);
  let dataset: Dataset | undefined;
  try {
    // Check the layers and filters before anything slow (the dataset) or written.
    const plan = planPatterns(model, args.layers, args.filters);
    console.error(
      `weights: checkpoints/${weights.name}; layers: ${plan.map((p) => p.layer).join(", ")}`,
    );
    if (args.patches > 0) {
      if (source) {
        const experiment = await loadExperiment(source);
        dataset = await experiment.dataset(
          { ...experiment.defaults, ...info.config } as TrainOptions,
        );
      } else {
        console.error(
          `no top patches: the run was trained with an experiment file; pass it with ` +
            `--experiment PATH for patches`,
        );
      }
    }
    const tag = `patterns-${weights.name.replace(/[^A-Za-z0-9_.-]/g, "_")}`;
    let progress: ProgressLine | undefined;
    let current = "";
    const compute = (sink: FileSink, folder: string) =>
      computePatternSet(model, sink, {
        dir: folder,
        layers: plan.map((p) => p.layer),
        filters: args.filters,
        steps: args.steps,
        seed: args.seed,
        split: dataset?.val ?? dataset?.test,
        k: args.patches,
        maxImages: args.images,
        denormalize: dataset?.denormalize?.bind(dataset),
        epoch: info.epochs > 0 ? info.epochs - 1 : null,
        source: "patterns",
        checkpoint: weights.name,
        onStep: (layer, done, total) => {
          if (layer !== current) {
            current = layer;
            const n = plan.find((p) => p.layer === layer)!.filters.length;
            progress = new ProgressLine(`${layer} (${n} filters) steps`, total);
          }
          progress!.update(done);
        },
        onLayer: (layer, seconds) => {
          progress?.finish();
          progress = undefined;
          console.error(`${layer}: ${seconds.toFixed(1)} s (patterns and patches)`);
        },
      });
    if (args.out) {
      const out = resolve(args.out);
      await makeDirs(out);
      const set = await compute(folderSink(out), ".");
      await writeFileAtomic(join(out, "patterns.json"), JSON.stringify(set, null, 2) + "\n", {
        root: out,
      });
      return out;
    }
    const run = await RunWriter.open(dir);
    try {
      const set = await compute(run, `viz/${tag}`);
      const index = await readVizIndex(dir);
      index.patterns = mergePatternSets(index.patterns ?? [], set);
      await writeVizIndex(run, index);
    } finally {
      await run.close();
    }
    return join(dir, "viz", tag);
  } finally {
    model.dispose();
    await dataset?.close?.();
  }
}

/** Runs `deno task patterns`; returns the exit code: 0 done, 1 failed, 2 bad flags. */
export function main(argv: string[]): Promise<number> {
  return runCommand(argv, {
    help: USAGE,
    main: async (argv) => {
      const where = await runPatterns(parsePatternsArgs(argv));
      console.log(`wrote ${shownPath(where)}`);
      return 0;
    },
  });
}

if (import.meta.main) await runAndExit(main);
