/**
 * `deno task export --run RUN --out DIR [--checkpoint NAME] [--quantize uint8|uint16|float16]
 * [--force] [--runs DIR]`: turns a run's checkpoint into a folder to ship (see
 * `core/infer/export.ts`): model.json + weight shards for plain `tf.loadLayersModel`,
 * metadata.json, preprocess.js, a static page with the vendored tfjs, and a README.
 *
 * Exit status: 0 written, 1 the run or the destination cannot be used, 2 bad flags.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs-core";
import "@tensorflow/tfjs-backend-cpu";
import {
  buildExport,
  checkExportDestination,
  type Quantization,
  QUANTIZATIONS,
  writeExport,
} from "../core/infer/export.ts";
import { runAndExit } from "./_process.ts";
import { resolveRun } from "./_run_ref.ts";
import { choiceFlag, FlagError, parseFlags, runCommand } from "../core/flags.ts";

/**
 * The usage text.
 *
 * @example
 * ```ts
 * import { USAGE } from "./export.ts";
 * console.log(USAGE);
 * ```
 */
export const USAGE = `Usage: deno task export --run RUN --out DIR [--checkpoint NAME] [--quantize ${
  QUANTIZATIONS.join("|")
}] [--force] [--runs DIR]

Writes a trained run's model as a folder to ship: model.json + weight shards (plain
tf.loadLayersModel reads them), metadata.json (classes, input, preprocessing), preprocess.js,
index.html (classifies dropped images, offline, from any static server) and a README.

  --run RUN          the run: its id (a folder of --runs) or its path
  --out DIR          the folder to write (not inside the runs folder)
  --checkpoint NAME  checkpoint folder under checkpoints/ (default: best, else the newest
                     checkpoint, else the newest resume point)
  --quantize Q       store the weights as uint8 (4x smaller), uint16 or float16 (2x),
                     dequantized by tf.loadLayersModel; default float32
  --force            replace --out when it exists and is not empty
  --runs DIR         the runs folder (default: runs)

Exit status: 0 written, 1 the run or --out cannot be used, 2 bad flags.`;

/** The parsed command line. */
export interface ExportArgs {
  /** Run id or path. */
  run: string;
  /** Destination folder. */
  out: string;
  /** Runs folder. */
  runs: string;
  /** Checkpoint name. */
  checkpoint?: string;
  /** Quantization. */
  quantize?: Quantization;
  /** Replace a non-empty `out`. */
  force: boolean;
  /** `--help` was given. */
  help: boolean;
}

/**
 * Parses the command line; throws for an unknown flag, a missing `--run`/`--out` or an
 * unknown `--quantize`.
 *
 * @example
 * ```ts
 * import { parseExportArgs } from "./export.ts";
 * const a = parseExportArgs(["--run", "default-20261201-101010", "--out", "web", "--quantize", "uint8"]);
 * console.log(a.run, a.out, a.quantize); // default-20261201-101010 web uint8
 * ```
 */
export function parseExportArgs(argv: string[]): ExportArgs {
  const { values, positionals } = parseFlags(argv, {
    run: { type: "string" },
    out: { type: "string" },
    runs: { type: "string" },
    checkpoint: { type: "string" },
    quantize: { type: "string" },
    force: { type: "boolean" },
    help: { type: "boolean", short: "h" },
  }, { positionals: true });
  const help = values.help ?? false;
  if (!help) {
    if (positionals.length > 0) {
      throw new FlagError(`unexpected argument "${positionals[0]}": give the run with --run RUN`);
    }
    if (!values.run) throw new FlagError("--run RUN is required (a run id or a run folder)");
    if (!values.out) throw new FlagError("--out DIR is required (the folder to write)");
    if (values.checkpoint === "") throw new FlagError("--checkpoint expects a checkpoint name");
  }
  const quantize = values.quantize === undefined
    ? undefined
    : choiceFlag("--quantize", values.quantize, QUANTIZATIONS);
  return {
    run: values.run ?? "",
    out: values.out ?? "",
    runs: values.runs ?? "runs",
    ...(values.checkpoint ? { checkpoint: values.checkpoint } : {}),
    ...(quantize ? { quantize } : {}),
    force: values.force ?? false,
    help,
  };
}

function kib(bytes: number): string {
  return bytes >= 1024 * 1024
    ? `${(bytes / 1024 / 1024).toFixed(2)} MiB`
    : `${(bytes / 1024).toFixed(1)} KiB`;
}

/**
 * Runs the command with `argv`; returns the exit code.
 *
 * @example
 * ```ts ignore
 * import { main } from "./export.ts";
 * Deno.exit(await main(["--run", "default-20261201-101010", "--out", "web"]));
 * ```
 */
export function main(argv: string[]): Promise<number> {
  return runCommand(argv, { help: USAGE, main: (argv) => runExport(parseExportArgs(argv)) });
}

async function runExport(args: ExportArgs): Promise<number> {
  const runDir = (await resolveRun("--run", args.run, args.runs)).shown;
  await checkExportDestination(args.out, { runsDir: args.runs, runDir, force: args.force });
  await tf.setBackend("cpu");
  console.error(`exporting ${runDir} ...`);
  const bundle = await buildExport(runDir, {
    checkpoint: args.checkpoint,
    quantize: args.quantize,
  });
  await writeExport(bundle, args.out);
  const m = bundle.metadata;
  const shown = args.out.replace(/\/+$/, "");
  console.log(
    `wrote ${shown}/: ${m.run.id} checkpoint ${m.checkpoint.name}` +
      `${m.checkpoint.epoch !== undefined ? ` (epoch ${m.checkpoint.epoch + 1})` : ""}, ` +
      `${m.quantization}, model ${kib(bundle.modelBytes)}, ${m.classes.length} classes, ` +
      `input ${m.input.height}x${m.input.width}x${m.input.channels}`,
  );
  console.log(`  try it: serve ${shown}/ with any static server and open index.html`);
  for (const note of m.notes) console.error(`note: ${note}`);
  return 0;
}

if (import.meta.main) await runAndExit(main);
