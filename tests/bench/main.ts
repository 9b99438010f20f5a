/**
 * `deno task bench`: training images/s of the book's model per backend (with PyTorch side by
 * side when available), wasm heap peaks, the data pipeline (tests/bench/data.ts) and the
 * tracking overhead (tests/bench/train_tracking.ts).
 *
 * Flags:
 *   --only train,data,tracking,runs  sections to run (default: all); `runs` is the runs
 *                                table at scale (tests/bench/runs_scale.ts: 10,000 runs x 100
 *                                epochs, list/query/API/Chromium first render)
 *   --backends wasm,webgpu,cpu   backends for the train section (default: wasm, plus webgpu
 *                                when the adapter is a real GPU; cpu is ~600x slower than wasm)
 *   --sizes 32,64,224            input sizes (default 32,64,224)
 *   --batches 16,32              batch sizes (default 16,32)
 *   --steps N                    timed steps per case (default: 5 at <=32px, 3 at <=64, 2 above)
 *   --warmup N                   untimed steps first (default: 2 at <=64px, 1 above)
 *   --threads N                  wasm and PyTorch threads (default: CONVDECK_THREADS or all cores)
 *   --no-torch                   skip PyTorch
 *   --profile                    print the per-kernel time profile of each wasm case
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs-core";
import "@tensorflow/tfjs-layers";
import { parseArgs } from "node:util";
import { type BackendName, initBackend } from "../../core/backend/select.ts";
import { resolveThreads } from "../../core/backend/wasm/threads.ts";
import { probeGpu } from "../../core/backend/probe.ts";
import { benchTrainCase, type TrainCase, type TrainResult } from "./train_bench.ts";
import { benchTorch, findTorch, type TorchResult } from "./train_torch.ts";
import { benchTracking } from "./train_tracking.ts";
import { nativeAvailable } from "../../core/backend/native/ffi.ts";
import { formatProfile, profileKernels } from "./train_profile.ts";
import { benchRunsScale } from "./runs_scale.ts";

const SECTIONS = ["train", "data", "tracking", "runs"] as const;

function list(value: string | undefined, fallback: string[]): string[] {
  return value === undefined ? fallback : value.split(",").map((s) => s.trim()).filter(Boolean);
}

function numbers(value: string | undefined, fallback: number[], flag: string): number[] {
  const out = list(value, fallback.map(String)).map(Number);
  if (out.some((n) => !Number.isInteger(n) || n < 1)) {
    throw new Error(`--${flag} takes positive integers separated by commas, e.g. 16,32`);
  }
  return out;
}

function defaultSteps(size: number): number {
  return size <= 32 ? 5 : size <= 64 ? 3 : 2;
}

function mib(bytes: number | undefined): string {
  return bytes === undefined ? "-" : `${(bytes / 2 ** 20).toFixed(0)} MiB`;
}

function row(cells: string[], widths: number[]): string {
  return "| " + cells.map((c, i) => c.padEnd(widths[i])).join(" | ") + " |";
}

async function trainSection(args: {
  backends: string[];
  cases: TrainCase[];
  threads: number;
  torch: boolean;
  profile: boolean;
}): Promise<void> {
  const results = new Map<string, TrainResult>();
  const key = (b: string, c: { size: number; batch: number }) => `${b} ${c.size} ${c.batch}`;
  const backendInfo = new Map<string, string>();
  const unavailable = new Set<string>();
  let torch: Map<string, TorchResult> | undefined;
  let torchNote = "PyTorch: skipped (--no-torch)";
  const python = args.torch ? await findTorch() : undefined;
  if (args.torch && python === undefined) {
    torchNote =
      "PyTorch: not available (python3 -c 'import torch' fails; apt install python3-torch)";
  } else if (python !== undefined) {
    torch = new Map();
    torchNote = `PyTorch ${python.version} CPU, ${args.threads} thread${
      args.threads > 1 ? "s" : ""
    } (${python.python})`;
  }
  // Case by case, each backend then PyTorch back to back, so that load changes on a shared
  // machine hit all columns of a row alike.
  for (const c of args.cases) {
    for (const name of args.backends) {
      if (unavailable.has(name)) continue;
      const choice = await initBackend(name as BackendName, { threads: args.threads });
      if (choice.name !== name) {
        console.log(`train: ${name} unavailable (${choice.reason}): skipped`);
        unavailable.add(name);
        continue;
      }
      backendInfo.set(
        name,
        `${name}${
          choice.threads ? ` (${choice.threads} thread${choice.threads > 1 ? "s" : ""})` : ""
        }`,
      );
      const prof = args.profile ? profileKernels(name) : undefined;
      const r = await benchTrainCase(c);
      prof?.stop();
      results.set(key(name, c), r);
      console.log(
        `train: ${name} ${c.size}x${c.size} batch ${c.batch}: ${r.imagesPerSec.toFixed(2)} img/s ` +
          `(${r.msPerStep.toFixed(0)} ms/step, median of ${c.steps}` +
          `${r.wasmHeapBytes ? `, wasm heap ${mib(r.wasmHeapBytes)}` : ""})`,
      );
      if (prof) {
        for (const l of formatProfile(prof.profile, c.warmup + c.steps)) console.log(`    ${l}`);
      }
    }
    if (torch !== undefined && python !== undefined) {
      try {
        for (const r of await benchTorch(python.python, [c], args.threads)) {
          torch.set(key("torch", r), r);
          console.log(
            `train: torch ${r.size}x${r.size} batch ${r.batch}: ${r.imagesPerSec.toFixed(2)} img/s`,
          );
        }
      } catch (e) {
        torchNote += `: failed (${(e as Error).message})`;
        torch = undefined;
      }
    }
  }
  const names = args.backends.filter((b) => args.cases.some((c) => results.has(key(b, c))));
  const header = [
    "input, batch",
    ...names.map((n) => `${n} img/s`),
    ...(torch ? ["PyTorch img/s", ...names.map((n) => `${n} / PyTorch`)] : []),
    ...(names.includes("wasm") ? ["wasm heap (peak so far)"] : []),
  ];
  const rows = args.cases.map((c) => {
    const t = torch?.get(key("torch", c));
    return [
      `${c.size}x${c.size}, ${c.batch}`,
      ...names.map((n) => results.get(key(n, c))?.imagesPerSec.toFixed(2) ?? "-"),
      ...(torch
        ? [
          t?.imagesPerSec.toFixed(2) ?? "-",
          ...names.map((n) => {
            const r = results.get(key(n, c));
            return r && t ? `${(r.imagesPerSec / t.imagesPerSec).toFixed(2)}x` : "-";
          }),
        ]
        : []),
      ...(names.includes("wasm") ? [mib(results.get(key("wasm", c))?.wasmHeapBytes)] : []),
    ];
  });
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  console.log(
    `\nTraining throughput, book convnet (20 classes, Adam 1e-3; 'same' padding below 76px, ` +
      `'valid' above), ${[...backendInfo.values()].join(", ")}; ${torchNote}`,
  );
  console.log(row(header, widths));
  console.log(row(widths.map((w) => "-".repeat(w)), widths));
  for (const r of rows) console.log(row(r, widths));
  console.log("");
}

async function dataSection(): Promise<void> {
  let mod: { benchData?: () => Promise<void> };
  try {
    mod = await import(new URL("./data.ts", import.meta.url).href);
  } catch (e) {
    if (e instanceof Error && /Module not found|Cannot find module/.test(e.message)) {
      console.log("data: skipped (tests/bench/data.ts not found)");
      return;
    }
    throw e;
  }
  if (typeof mod.benchData !== "function") {
    console.log("data: skipped (tests/bench/data.ts exports no benchData())");
    return;
  }
  await mod.benchData();
}

/** Parses flags and runs the selected sections. */
export async function main(argv: string[]): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: {
      only: { type: "string" },
      backends: { type: "string" },
      sizes: { type: "string" },
      batches: { type: "string" },
      steps: { type: "string" },
      warmup: { type: "string" },
      threads: { type: "string" },
      "no-torch": { type: "boolean", default: false },
      profile: { type: "boolean", default: false },
    },
  });
  const only = list(values.only, [...SECTIONS]);
  for (const s of only) {
    if (!(SECTIONS as readonly string[]).includes(s)) {
      throw new Error(`--only: unknown section '${s}': use ${SECTIONS.join(", ")}`);
    }
  }
  const threads = resolveThreads(values.threads === undefined ? undefined : Number(values.threads));
  if (only.includes("train")) {
    const gpu = await probeGpu();
    const native = nativeAvailable();
    const backends = list(values.backends, [
      ...(native.ok ? ["native"] : []),
      "wasm",
      ...(gpu.real ? ["webgpu"] : []),
    ]);
    if (values.backends === undefined && !native.ok) {
      console.log(`train: native not benchmarked (${native.reason})`);
    }
    if (values.backends === undefined && !gpu.real) {
      console.log(`train: webgpu not benchmarked by default (${gpu.why}); cpu opt-in (--backends)`);
    }
    const sizes = numbers(values.sizes, [32, 64, 224], "sizes");
    const batches = numbers(values.batches, [16, 32], "batches");
    const steps = values.steps === undefined ? undefined : numbers(values.steps, [], "steps")[0];
    const warmup = values.warmup === undefined ? undefined : Number(values.warmup);
    if (warmup !== undefined && !(Number.isInteger(warmup) && warmup >= 0)) {
      throw new Error("--warmup takes a non-negative integer, e.g. 1");
    }
    const cases: TrainCase[] = sizes.flatMap((size) =>
      batches.map((batch) => ({
        size,
        batch,
        steps: steps ?? defaultSteps(size),
        warmup: warmup ?? (size <= 64 ? 2 : 1),
      }))
    );
    await trainSection({
      backends,
      cases,
      threads,
      torch: !values["no-torch"],
      profile: values.profile,
    });
  }
  if (only.includes("data")) await dataSection();
  if (only.includes("runs")) await benchRunsScale();
  if (only.includes("tracking")) {
    // The first backend of --backends (default wasm) runs the tracking case.
    const backend = (values.backends?.split(",")[0]?.trim() || "wasm") as BackendName;
    const choice = await initBackend(backend, { threads, log: () => {} });
    console.log(`tracking: on ${choice.name}`);
    await benchTracking();
  }
  tf.disposeVariables();
}

if (import.meta.main) {
  await main(Deno.args);
  Deno.exit(0); // wasm worker threads would otherwise keep the process alive
}
