/**
 * `deno task bench`: training images/s of the book's model per backend (with PyTorch side by
 * side when available), wasm heap peaks, the data pipeline (tests/bench/data.ts) and the
 * tracking overhead (tests/bench/train_tracking.ts).
 *
 * Flags: `deno task bench --help` ({@linkcode HELP}).
 *
 * Every case trains the book's model with 'same' padding; each row also gives the tfjs kernel
 * calls of one training step per backend. Each backend runs each case in a process of its own
 * (tests/bench/train_child.ts), as a standalone run would.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs-core";
import "@tensorflow/tfjs-layers";
import { choiceFlag, FlagError, intFlag, parseFlags, runCommand } from "../../core/flags.ts";
import { BACKEND_NAMES, type BackendName, initBackend } from "../../core/backend/select.ts";
import { resolveThreads } from "../../core/backend/wasm/threads.ts";
import { probeGpu } from "../../core/backend/probe.ts";
import type { TrainCase, TrainResult } from "./train_bench.ts";
import { runChild } from "./train_child.ts";
import {
  benchTorch,
  findTorch,
  TORCH_LAYOUTS,
  type TorchLayout,
  type TorchResult,
} from "./train_torch.ts";
import { nativeBf16Support } from "../../core/backend/native/register.ts";
import { benchTracking } from "./train_tracking.ts";
import { nativeAvailable, openMpWaitChoice } from "../../core/backend/native/ffi.ts";
import { benchRunsScale } from "./runs_scale.ts";
import { benchTrackLog } from "./track_log.ts";
import { benchPatterns } from "./patterns.ts";

const SECTIONS = ["train", "data", "tracking", "runs", "track", "patterns"] as const;

/** The `--help` text. */
export const HELP = `Usage: deno task bench [flags]

  --only train,data,tracking,runs,track,patterns
                               sections to run (default: all); \`runs\` is the runs table at
                               scale (tests/bench/runs_scale.ts: 10,000 runs x 100 epochs,
                               list/query/API/Chromium first render); \`track\` the tracking
                               client's log() rate in Deno and Node (tests/bench/track_log.ts);
                               \`patterns\` (tests/bench/patterns.ts) times the filter patterns
                               of 16 filters of every conv layer of the book's model at 64 and
                               224 px on the first of --backends (default auto)
  --backends wasm,webgpu,cpu   backends for the train section (default: native and
                               native-bf16 when oneDNN loads (bf16 where the CPU has it),
                               wasm, plus webgpu when the adapter is a real GPU; cpu is
                               ~600x slower than wasm). native-bf16 is the native backend
                               with --precision bf16 (its columns read "native bf16")
  --sizes 32,64,224            input sizes (default 32,64,224), RGB
  --batches 16,32              batch sizes (default 16,32)
  --no-fashion                 skip the Fashion-MNIST-shaped case (28x28x1, batch 64)
  --steps N                    timed steps per case (default: 10 at <=32px, 5 at <=64, 3 above)
  --warmup N                   untimed steps first (default 2)
  --threads N                  wasm and PyTorch threads (default: CONVDECK_THREADS or all cores)
  --no-torch                   skip PyTorch
  --profile                    print the per-kernel time profile of each case
  --rounds N                   rounds per case up to 64px (default 5): each backend and
                               PyTorch run once per round, alternating, and each side's median
                               round counts (single runs of either side vary by 5-15% on a
                               shared machine, in both directions; the median of several is
                               robust to those, and does not favour the side that varies more,
                               as the best round would)`;

function list(value: string | undefined, fallback: string[]): string[] {
  return value === undefined ? fallback : value.split(",").map((s) => s.trim()).filter(Boolean);
}

function numbers(value: string | undefined, fallback: number[], flag: string): number[] {
  const out = list(value, fallback.map(String)).map(Number);
  if (out.some((n) => !Number.isInteger(n) || n < 1)) {
    throw new FlagError(`--${flag} takes positive integers separated by commas, e.g. 16,32`);
  }
  return out;
}

/**
 * Timed steps per case: fewer for the larger images; three at 224 px so that the median is a
 * middle step (with two, one slow step, which a 224 px batch-32 step can still be after the
 * warm-up, moved the result by half its delay).
 */
function defaultSteps(size: number): number {
  return size <= 32 ? 10 : size <= 64 ? 5 : 3;
}

function mib(bytes: number | undefined): string {
  return bytes === undefined ? "-" : `${(bytes / 2 ** 20).toFixed(0)} MiB`;
}

function row(cells: string[], widths: number[]): string {
  return "| " + cells.map((c, i) => c.padEnd(widths[i])).join(" | ") + " |";
}

/** A case's label: `32x32, 16` or `28x28x1, 64`. */
function caseLabel(c: TrainCase): string {
  return `${c.size}x${c.size}${(c.channels ?? 3) !== 3 ? `x${c.channels}` : ""}, ${c.batch}`;
}

async function trainSection(args: {
  backends: string[];
  cases: TrainCase[];
  threads: number;
  torch: boolean;
  profile: boolean;
  rounds: number;
}): Promise<void> {
  const results = new Map<string, TrainResult>();
  const roundsOf = new Map<string, TrainResult[]>();
  const torchRounds = new Map<string, TorchResult[]>();
  const key = (b: string, c: TrainCase) => `${b} ${caseLabel(c)}`;
  const backendInfo = new Map<string, string>();
  const unavailable = new Set<string>();
  let torch: Map<string, TorchResult> | undefined;
  let torchNote = "PyTorch: skipped (--no-torch)";
  const startLoad = loadAverage();
  const busy = Number(startLoad.split(" ")[0]) >= (navigator.hardwareConcurrency || 1) / 2;
  if (busy) {
    console.log(
      `train: WARNING: the machine is busy (load average ${startLoad} on ` +
        `${navigator.hardwareConcurrency} cores): other processes take CPU time from both sides ` +
        `unevenly (PyTorch's spinning OpenMP threads lose most), so the ratios below do not ` +
        `compare the implementations; run the bench on an idle machine`,
    );
  }
  const python = args.torch ? await findTorch() : undefined;
  if (args.torch && python === undefined) {
    torchNote =
      "PyTorch: not available (python3 -c 'import torch' fails; apt install python3-torch)";
  } else if (python !== undefined) {
    torch = new Map();
    torchNote =
      `PyTorch ${python.version} CPU, ${args.threads} thread${
        args.threads > 1 ? "s" : ""
      } (${python.python}), same model, 'same' padding, Adam 1e-3, batch; each case in float32 ` +
      `NCHW, float32 channels_last and bf16 autocast (torch.autocast("cpu", ` +
      `dtype=torch.bfloat16), channels_last), one after the other; the ratio is against the ` +
      `fastest of the three as measured; the peer runs alone, without the OpenMP settings of ` +
      `convdeck's backend`;
  }
  // Case by case, each backend then PyTorch back to back, so that load changes on a shared
  // machine hit all columns of a row alike.
  for (const c of args.cases) {
    const rounds = c.size <= 64 ? args.rounds : 1;
    for (let round = 0; round < rounds; round++) {
      for (const name of args.backends) {
        if (unavailable.has(name)) continue;
        // Each backend in a process of its own, as a standalone run (see train_child.ts).
        // The children get this process's environment, OpenMP settings included: native waits
        // as decided once at the bench's start (an idle machine: brief spinning), not by a load
        // average the bench itself has raised by the time a later child starts.
        const reply = await runChild({
          ...childBackend(name),
          threads: args.threads,
          case: c,
          ...(args.profile ? { profile: true } : {}),
        }, Deno.env.toObject());
        if ("unavailable" in reply) {
          console.log(`train: ${label(name)} unavailable (${reply.unavailable}): skipped`);
          unavailable.add(name);
          continue;
        }
        const cut = reply.info.indexOf("OpenMP waiting: ");
        backendInfo.set(
          name,
          cut < 0
            ? reply.info
            : `${reply.info.slice(0, cut)}OpenMP waiting: ${openMpWaitChoice()}, ` +
              `decided at the bench's start)`,
        );
        const r = reply.result;
        const all = roundsOf.get(key(name, c)) ?? [];
        roundsOf.set(key(name, c), [...all, r]);
        results.set(key(name, c), medianRound([...all, r]));
        const calls = r.kernelCalls;
        console.log(
          `train: ${label(name)} ${caseLabel(c)}: ${r.imagesPerSec.toFixed(2)} img/s ` +
            `(${r.msPerStep.toFixed(0)} ms/step, median of ${c.steps}` +
            `${calls !== undefined ? `, ${calls} kernel calls/step` : ""}` +
            `${r.wasmHeapBytes ? `, wasm heap ${mib(r.wasmHeapBytes)}` : ""})`,
        );
        for (const l of reply.profile ?? []) console.log(`    ${l}`);
      }
      if (torch !== undefined && python !== undefined) {
        try {
          for (const r of await benchTorch(python.python, [c], args.threads)) {
            const all = [...(torchRounds.get(key("torch", c)) ?? []), r];
            torchRounds.set(key("torch", c), all);
            torch.set(key("torch", c), medianTorch(all));
            console.log(
              `train: torch ${caseLabel(c)}: NCHW ${r.byLayout.nchw.toFixed(2)} img/s, ` +
                `channels_last ${r.byLayout.channels_last.toFixed(2)} img/s, ` +
                `bf16 autocast ${r.byLayout.bf16.toFixed(2)} img/s (best: ${r.layout})`,
            );
          }
        } catch (e) {
          torchNote += `: failed (${(e as Error).message})`;
          torch = undefined;
        }
      }
    }
  }
  const names = args.backends.filter((b) => args.cases.some((c) => results.has(key(b, c))));
  // Float32 backends, also compared with PyTorch's fastest float32 layout (NCHW or channels_last).
  const fp32Names = names.filter((n) => n !== NATIVE_BF16);
  const header = [
    "input, batch",
    ...names.map((n) => `${label(n)} img/s`),
    ...(torch
      ? [
        "PyTorch NCHW",
        "PyTorch channels_last",
        "PyTorch bf16 autocast",
        ...names.map((n) => `${label(n)} / best PyTorch`),
        ...fp32Names.map((n) => `${label(n)} / best PyTorch fp32`),
      ]
      : []),
    ...names.map((n) => `${label(n)} kernel calls/step`),
    ...names.map((n) => `${label(n)} CPU ms/step`),
    ...(torch ? ["PyTorch CPU ms/step (NCHW / channels_last / bf16)"] : []),
    ...(names.includes("wasm") ? ["wasm heap (peak)"] : []),
  ];
  const rows = args.cases.map((c) => {
    const t = torch?.get(key("torch", c));
    const mark = (layout: TorchLayout) =>
      t ? `${t.byLayout[layout].toFixed(2)}${t.layout === layout ? " *" : ""}` : "-";
    return [
      caseLabel(c),
      ...names.map((n) => results.get(key(n, c))?.imagesPerSec.toFixed(2) ?? "-"),
      ...(torch
        ? [
          mark("nchw"),
          mark("channels_last"),
          mark("bf16"),
          ...names.map((n) => {
            const r = results.get(key(n, c));
            return r && t ? `${(r.imagesPerSec / t.imagesPerSec).toFixed(2)}x` : "-";
          }),
          ...fp32Names.map((n) => {
            const r = results.get(key(n, c));
            const fp32 = t ? Math.max(t.byLayout.nchw, t.byLayout.channels_last) : 0;
            return r && fp32 > 0 ? `${(r.imagesPerSec / fp32).toFixed(2)}x` : "-";
          }),
        ]
        : []),
      ...names.map((n) => String(results.get(key(n, c))?.kernelCalls ?? "-")),
      ...names.map((n) => results.get(key(n, c))?.cpuMsPerStep.toFixed(1) ?? "-"),
      ...(torch
        ? [
          t ? TORCH_LAYOUTS.map((l) => t.cpuMsByLayout[l].toFixed(1)).join(" / ") : "-",
        ]
        : []),
      ...(names.includes("wasm") ? [mib(results.get(key("wasm", c))?.wasmHeapBytes)] : []),
    ];
  });
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  console.log(
    `\nTraining throughput (images/s, median step; up to 64px the median of ${args.rounds} alternating rounds per side), book convnet ('same' padding, 20 classes, ` +
      `separate softmax layer, Adam 1e-3), ${[...backendInfo.values()].join(", ")}; ` +
      `${torchNote}. * marks PyTorch's fastest configuration (best PyTorch: the fastest of ` +
      `NCHW, channels_last and bf16 autocast; best PyTorch fp32: the faster of NCHW and ` +
      `channels_last). Load average at the start: ${startLoad}, ` +
      `at the end: ${loadAverage()}${busy ? " (BUSY: not comparable)" : ""}`,
  );
  console.log(row(header, widths));
  console.log(row(widths.map((w) => "-".repeat(w)), widths));
  for (const r of rows) console.log(row(r, widths));
  console.log(
    "CPU ms/step: CPU time of all the process's threads per timed step. With --threads 1 it " +
      "is each side's work per step, less sensitive to other processes' load than wall time " +
      "(not immune: shared caches); with more threads it also counts threads spinning while " +
      "they wait.\n",
  );
}

/** The round with the median images/s (of an even count, the lower middle). */
function medianRound<T extends { imagesPerSec: number }>(rounds: T[]): T {
  const sorted = [...rounds].sort((a, b) => a.imagesPerSec - b.imagesPerSec);
  return sorted[Math.floor((sorted.length - 1) / 2)];
}

/** PyTorch's rounds of one case summed up layout by layout: each layout's median round. */
function medianTorch(rounds: TorchResult[]): TorchResult {
  const byLayout = {} as Record<TorchLayout, number>;
  const cpuMsByLayout = {} as Record<TorchLayout, number>;
  for (const l of TORCH_LAYOUTS) {
    const m = medianRound(rounds.map((r) => ({ imagesPerSec: r.byLayout[l], r }))).r;
    byLayout[l] = m.byLayout[l];
    cpuMsByLayout[l] = m.cpuMsByLayout[l];
  }
  const layout = TORCH_LAYOUTS.reduce((a, b) => (byLayout[b] > byLayout[a] ? b : a));
  return {
    ...rounds[0],
    byLayout,
    cpuMsByLayout,
    layout,
    imagesPerSec: byLayout[layout],
    msPerStep: (rounds[0].batch * 1000) / byLayout[layout],
  };
}

/** The bench's name for the native backend in bf16 mixed precision. */
const NATIVE_BF16 = "native-bf16";

/** A bench backend name as the table shows it. */
function label(name: string): string {
  return name === NATIVE_BF16 ? "native bf16" : name;
}

/** The child's backend and precision for a bench backend name. */
function childBackend(name: string): { backend: string; precision?: "bf16" } {
  return name === NATIVE_BF16 ? { backend: "native", precision: "bf16" } : { backend: name };
}

function loadAverage(): string {
  try {
    return Deno.readTextFileSync("/proc/loadavg").split(" ").slice(0, 3).join(" ");
  } catch {
    return "unknown";
  }
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
  const { values } = parseFlags(argv, {
    only: { type: "string" },
    backends: { type: "string" },
    sizes: { type: "string" },
    batches: { type: "string" },
    steps: { type: "string" },
    warmup: { type: "string" },
    threads: { type: "string" },
    "no-torch": { type: "boolean" },
    profile: { type: "boolean" },
    "no-fashion": { type: "boolean" },
    rounds: { type: "string" },
    help: { type: "boolean", short: "h" },
  });
  const only = list(values.only, [...SECTIONS]);
  for (const s of only) {
    if (!(SECTIONS as readonly string[]).includes(s)) {
      throw new FlagError(`--only: unknown section '${s}': use ${SECTIONS.join(", ")}`);
    }
  }
  const threads = resolveThreads(intFlag("--threads", values.threads, { min: 1 }));
  for (const b of list(values.backends, [])) {
    choiceFlag("--backends", b, [...BACKEND_NAMES, NATIVE_BF16]);
  }
  // Every flag is checked before any work.
  const sizes = numbers(values.sizes, [32, 64, 224], "sizes");
  const batches = numbers(values.batches, [16, 32], "batches");
  const steps = values.steps === undefined ? undefined : numbers(values.steps, [], "steps")[0];
  const warmup = intFlag("--warmup", values.warmup, { min: 0 });
  const rounds = values.rounds === undefined ? 5 : numbers(values.rounds, [], "rounds")[0];
  if (only.includes("train")) {
    const gpu = await probeGpu();
    const native = nativeAvailable();
    const backends = list(values.backends, [
      ...(native.ok ? ["native"] : []),
      ...(native.ok && nativeBf16Support().ok ? [NATIVE_BF16] : []),
      "wasm",
      ...(gpu.real ? ["webgpu"] : []),
    ]);
    if (values.backends === undefined && !native.ok) {
      console.log(`train: native not benchmarked (${native.reason})`);
    }
    if (values.backends === undefined && !gpu.real) {
      console.log(`train: webgpu not benchmarked by default (${gpu.why}); cpu opt-in (--backends)`);
    }
    const cases: TrainCase[] = sizes.flatMap((size) =>
      batches.map((batch) => ({
        size,
        batch,
        steps: steps ?? defaultSteps(size),
        // Two at every size: at 224 px the second step still ran 5-20% slower than the fourth
        // and later ones (native float32, batch 16 and 32), so one warm-up step undercounted.
        warmup: warmup ?? 2,
      }))
    );
    if (!values["no-fashion"]) {
      // Fashion-MNIST's shape: 28x28 grey images, batch 64.
      cases.push({
        size: 28,
        channels: 1,
        batch: 64,
        steps: steps ?? defaultSteps(28),
        warmup: warmup ?? 2,
      });
    }
    await trainSection({
      backends,
      cases,
      threads,
      torch: !values["no-torch"],
      profile: values.profile ?? false,
      rounds,
    });
  }
  if (only.includes("data")) await dataSection();
  if (only.includes("track")) await benchTrackLog();
  if (only.includes("runs")) await benchRunsScale();
  if (only.includes("patterns")) {
    await benchPatterns({
      backend: (values.backends?.split(",")[0]?.trim() || "auto") as BackendName,
    });
  }
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
  const code = await runCommand(Deno.args, {
    help: HELP,
    main: async (argv) => (await main(argv), 0),
  });
  Deno.exit(code); // wasm worker threads would otherwise keep the process alive
}
