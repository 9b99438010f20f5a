/**
 * `deno task predict --run runs/<id> IMAGE|FOLDER... [--top-k N] [--json] [--cam DIR]`:
 * classifies images with a trained run (see `core/infer/predict.ts`) and prints the top-k classes of
 * each; folders are walked (sorted, hidden files skipped) and processed in batches with a
 * progress bar on stderr. A bad file is reported with its name and does not stop the others.
 *
 * Exit status: 0 when every image was classified, 1 when any failed (or the run cannot be
 * used), 2 for bad flags.
 *
 * @module
 */
import { basename, dirname, extname, join } from "node:path";
import { BACKEND_NAMES, type BackendName, initBackend } from "../core/backend/select.ts";
import { type Precision, PRECISIONS } from "../core/backend/precision.ts";
import { type ClassProbability, type PredictInput, Predictor } from "../core/infer/predict.ts";
import { isIgnored } from "../core/data/scan.ts";
import { ProgressLine } from "../core/format/progress.ts";
import { runAndExit } from "./_process.ts";
import { terminalSafe, terminalSafeJson } from "../core/format/terminal.ts";
import { resolveRun } from "./_run_ref.ts";
import { refuseUntrained } from "./_untrained.ts";
import { choiceFlag, FlagError, intFlag, parseFlags, runCommand } from "../core/flags.ts";

/**
 * The usage text.
 *
 * @example
 * ```ts
 * import { USAGE } from "./predict.ts";
 * console.log(USAGE);
 * ```
 */
export const USAGE =
  `Usage: deno task predict --run RUN IMAGE|FOLDER... [--runs DIR] [--top-k N] [--json] [--cam DIR] [--batch-size N] [--backend NAME] [--checkpoint NAME]

  --run RUN          a run id (a folder of --runs) or the path of a run folder
  --runs DIR         the runs folder a bare run id is looked up in (default: runs)
  IMAGE|FOLDER       image files, or folders (walked recursively, sorted; hidden files skipped)
  --top-k N          classes shown per image (default 3)
  --json             print one JSON document on stdout instead of text
  --cam DIR          write a Grad-CAM overlay PNG per image into DIR
  --batch-size N     images per forward pass (default 32)
  --backend NAME     ${BACKEND_NAMES.join("|")} (default auto)
  --precision P      fp32|bf16|auto: bf16 on the native backend (default fp32)
  --checkpoint NAME  checkpoint folder under the run's checkpoints/ (default: best, else the
                     newest checkpoint, else the newest resume point)
  --allow-untrained  use the untrained starting point (checkpoints/resume/e0000, random
                     weights) when it is the run's only weights (refused by default)
  -h, --help         show this help

Exit status: 0 every image classified, 1 some image or the run failed, 2 bad flags.`;

/**
 * A bad command line (exit status 2).
 *
 * @example
 * ```ts
 * import { parsePredictArgs, UsageError } from "./predict.ts";
 * try {
 *   parsePredictArgs(["--top-k", "0"]);
 * } catch (e) {
 *   console.log(e instanceof UsageError); // true
 * }
 * ```
 */
export class UsageError extends FlagError {
  /** Creates the error (one line, naming the flag and the fix). */
  constructor(message: string) {
    super(message);
    this.name = "UsageError";
  }
}

/** The parsed command line. */
export interface PredictArgs {
  /** The run: an id (looked up in `runsDir`) or a run folder. */
  run: string;
  /** The runs folder a bare run id is looked up in. */
  runsDir: string;
  /** Image files and folders, as given. */
  paths: string[];
  /** Classes per image. */
  topK: number;
  /** JSON output. */
  json: boolean;
  /** Grad-CAM output folder. */
  cam?: string;
  /** Images per forward pass. */
  batchSize: number;
  /** tfjs backend. */
  backend: BackendName;
  /** Compute precision (`--precision`; default fp32). */
  precision?: Precision;
  /** Checkpoint folder name. */
  checkpoint?: string;
  /** `--allow-untrained`: use the untrained starting point rather than refuse it. */
  allowUntrained: boolean;
  /** `--help` was given. */
  help: boolean;
}

/**
 * Parses the command line; throws {@link UsageError} for an unknown flag, a bad value, a
 * missing `--run` or no image.
 *
 * @example
 * ```ts
 * import { parsePredictArgs } from "./predict.ts";
 * const a = parsePredictArgs(["--run", "runs/x", "photos/", "--top-k", "5", "--json"]);
 * console.log(a.run, a.paths, a.topK, a.json); // runs/x [ "photos/" ] 5 true
 * ```
 */
export function parsePredictArgs(args: string[]): PredictArgs {
  let parsed;
  try {
    parsed = parseFlags(args, {
      run: { type: "string" },
      runs: { type: "string" },
      "top-k": { type: "string" },
      json: { type: "boolean" },
      cam: { type: "string" },
      "batch-size": { type: "string" },
      backend: { type: "string" },
      precision: { type: "string" },
      checkpoint: { type: "string" },
      "allow-untrained": { type: "boolean" },
      help: { type: "boolean", short: "h" },
    }, { positionals: true });
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  const { values, positionals } = parsed;
  const help = values.help ?? false;
  const check = <T>(f: () => T): T => {
    try {
      return f();
    } catch (err) {
      throw new UsageError((err as Error).message);
    }
  };
  if (!help) {
    if (!values.run) throw new UsageError("--run RUN is required (a run id or a run folder)");
    if (positionals.length === 0) throw new UsageError("give at least one IMAGE or FOLDER");
    if (values.cam === "") throw new UsageError("--cam expects a folder");
  }
  return {
    run: values.run ?? "",
    runsDir: values.runs ?? "runs",
    paths: positionals,
    topK: check(() => intFlag("--top-k", values["top-k"], { min: 1 })) ?? 3,
    json: values.json ?? false,
    cam: values.cam,
    batchSize: check(() => intFlag("--batch-size", values["batch-size"], { min: 1 })) ?? 32,
    backend: check(() => choiceFlag("--backend", values.backend, BACKEND_NAMES)) ?? "auto",
    precision: check(() => choiceFlag("--precision", values.precision, PRECISIONS)),
    checkpoint: values.checkpoint,
    allowUntrained: values["allow-untrained"] ?? false,
    help,
  };
}

/**
 * Expands folders to their files (recursively, sorted, hidden and OS files skipped); files and
 * paths that do not exist are kept as given (predict then reports them by name).
 *
 * @example
 * ```ts ignore
 * import { expandInputs } from "./predict.ts";
 * const { files, warnings } = await expandInputs(["photos/", "extra.jpg"]);
 * ```
 */
export async function expandInputs(
  paths: string[],
): Promise<{ files: string[]; warnings: string[] }> {
  const files: string[] = [];
  const warnings: string[] = [];
  const walk = async (dir: string): Promise<number> => {
    let entries: Deno.DirEntry[];
    try {
      entries = await Array.fromAsync(Deno.readDir(dir));
    } catch (err) {
      warnings.push(`${dir}: cannot list the folder (${(err as Error).message})`);
      return 0;
    }
    let count = 0;
    for (const e of entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))) {
      if (isIgnored(e.name)) continue;
      const path = join(dir, e.name);
      if (e.isDirectory) count += await walk(path);
      else if (e.isFile || e.isSymlink) {
        files.push(path);
        count++;
      }
    }
    return count;
  };
  for (const p of paths) {
    const st = await Deno.stat(p).catch(() => null);
    if (st?.isDirectory) {
      if (await walk(p) === 0) warnings.push(`${p}: the folder has no files`);
    } else files.push(p);
  }
  return { files, warnings };
}

/** One line of the JSON output's `results`. */
export interface PredictJsonResult {
  /** The file as given or found in a folder. */
  file: string;
  /** Whether it was classified. */
  ok: boolean;
  /** The top-k classes (when ok). */
  top?: ClassProbability[];
  /** The Grad-CAM overlay written (with `--cam`). */
  cam?: string;
  /** What went wrong (when not ok, or when only the Grad-CAM failed). */
  error?: string;
}

/** A unique `.png` name in `used` for `file`. */
function camName(file: string, used: Set<string>): string {
  const stem = basename(file, extname(file)) || "image";
  const parent = basename(dirname(file));
  let name = `${stem}.png`;
  if (used.has(name) && parent && parent !== "." && parent !== "..") name = `${parent}_${stem}.png`;
  for (let n = 2; used.has(name); n++) name = `${stem}-${n}.png`;
  used.add(name);
  return name;
}

function percent(p: number): string {
  return `${(p * 100).toFixed(1)}%`;
}

/**
 * Runs the command line `args`; returns the exit status (0, 1 or 2). Prints results on stdout,
 * everything else on stderr.
 *
 * @example
 * ```ts ignore
 * import { main } from "./predict.ts";
 * Deno.exit(await main(["--run", "runs/snacks-20261201-101010", "photos/"]));
 * ```
 */
export function main(args: string[]): Promise<number> {
  return runCommand(args, { help: USAGE, main: (argv) => predict(parsePredictArgs(argv)) });
}

async function predict(a: PredictArgs): Promise<number> {
  // Class names, notes and errors come from the run's files: printed terminal-safe.
  const log = (line: string) => console.error(terminalSafe(line, { oneLine: true }));
  let predictor: Predictor | undefined;
  try {
    const { files, warnings } = await expandInputs(a.paths);
    for (const w of warnings) log(`warning: ${w}`);
    if (files.length === 0) throw new Error(`no image files in ${a.paths.join(", ")}`);
    const backend = await initBackend(a.backend, { log, precision: a.precision });
    log(
      `backend: ${backend.name} (${backend.reason})` +
        (backend.precision === "bf16" ? `, precision bf16 (${backend.precisionReason})` : ""),
    );
    const run = await resolveRun("--run", a.run, a.runsDir);
    predictor = await Predictor.load(run.shown, { checkpoint: a.checkpoint });
    await refuseUntrained(predictor.weights, run, a.allowUntrained);
    const kind = {
      best: "the best checkpoint",
      checkpoint: "the newest checkpoint",
      resume: "no checkpoint saved: the newest resume point",
    }[predictor.weights.kind];
    log(
      `weights: checkpoints/${predictor.weights.name} (${a.checkpoint ? "as asked" : kind})`,
    );
    log(`preprocessing: ${predictor.preprocessing.description}`);
    for (const n of predictor.notes) log(`note: ${n}`);
    if (a.cam) await Deno.mkdir(a.cam, { recursive: true });

    const out: PredictJsonResult[] = [];
    const used = new Set<string>();
    const bar = files.length > a.batchSize
      ? new ProgressLine("predicting", files.length)
      : undefined;
    try {
      for (let start = 0; start < files.length; start += a.batchSize) {
        const chunk: PredictInput[] = files.slice(start, start + a.batchSize);
        const results = await predictor.predict(chunk, {
          topK: a.topK,
          batchSize: a.batchSize,
          gradCam: a.cam !== undefined,
        });
        for (const r of results) {
          if (!r.ok) {
            out.push({ file: r.name, ok: false, error: r.error });
            continue;
          }
          const item: PredictJsonResult = { file: r.name, ok: true, top: r.top };
          if (r.gradCam && a.cam) {
            const file = join(a.cam, camName(r.name, used));
            await Deno.writeFile(file, r.gradCam.png);
            item.cam = file;
          } else if (a.cam) {
            item.ok = false;
            item.error = `Grad-CAM failed: ${r.gradCamError ?? "unknown reason"}`;
          }
          out.push(item);
        }
        bar?.update(Math.min(start + a.batchSize, files.length));
      }
    } finally {
      bar?.finish();
    }

    const failed = out.filter((r) => !r.ok).length;
    if (a.json) {
      console.log(terminalSafeJson(JSON.stringify(
        {
          run: run.shown,
          weights: { name: predictor.weights.name, kind: predictor.weights.kind },
          classNames: predictor.classNames,
          preprocessing: predictor.preprocessing,
          notes: predictor.notes,
          results: out,
          summary: { images: out.length, classified: out.length - failed, failed },
        },
        null,
        2,
      )));
    } else {
      const width = Math.min(60, Math.max(...out.map((r) => r.file.length)));
      for (const r of out) {
        if (!r.top) continue;
        const classes = r.top.map((t) => `${t.name} ${percent(t.prob)}`).join("  ");
        console.log(
          terminalSafe(`${r.file.padEnd(width)}  ${classes}${r.cam ? `  (cam: ${r.cam})` : ""}`, {
            oneLine: true,
          }),
        );
      }
    }
    for (const r of out) if (r.error) log(`error: ${r.file}: ${r.error}`);
    log(
      `${out.length} image${out.length === 1 ? "" : "s"}: ${out.length - failed} classified` +
        (failed ? `, ${failed} failed` : "") +
        (a.cam ? `; Grad-CAM overlays in ${a.cam}` : ""),
    );
    return failed ? 1 : 0;
  } finally {
    predictor?.dispose();
  }
}

// Exit explicitly: thread pools (sharp's, wasm's) can keep the process alive after main.
if (import.meta.main) await runAndExit(main);
