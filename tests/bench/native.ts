/**
 * Benchmark of the `native` (oneDNN) backend: training throughput of the book's model
 * (images/second, median step after warm-up, `trainStep` with Adam 1e-3) at 32x32 and 64x64
 * batch 32 and 224x224 batch 16, with PyTorch alongside when `import torch` works.
 *
 * Run alone: `deno run -A tests/bench/native.ts [--steps 5] [--sizes 32,64,224]`.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs-core";
import "@tensorflow/tfjs-backend-wasm";
import { parseArgs } from "node:util";
import { trainStep } from "../../core/train_step.ts";
import { nativeAvailable } from "../../core/backend/native/ffi.ts";
import { nativeThreads, registerNativeBackend } from "../../core/backend/native/register.ts";
import { bookModel, paddingFor, torchScript } from "./book_model.ts";
import { peerEnv } from "./train_torch.ts";

/** One benchmark row. */
export interface NativeBenchRow {
  /** Input side in pixels. */
  size: number;
  /** Batch size. */
  batch: number;
  /** Convolution padding used. */
  padding: string;
  /** Training images per second on `native` (median step). */
  nativeIps: number;
  /** PyTorch images per second, or null when torch is not importable. */
  torchIps: number | null;
  /** nativeIps / torchIps, or null. */
  ratio: number | null;
}

/** The default configurations: [size, batch]. */
export const NATIVE_BENCH_CONFIGS: [number, number][] = [[32, 32], [64, 32], [224, 16]];

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

async function nativeIps(size: number, batch: number, steps: number): Promise<number> {
  const model = bookModel(size);
  const optimizer = tf.train.adam(1e-3);
  const x = tf.randomUniform([batch, size, size, 3], 0, 1, "float32", 1);
  const labels = tf.tensor1d(Array.from({ length: batch }, (_, i) => i % 20), "int32");
  const times: number[] = [];
  for (let i = 0; i < steps + 2; i++) {
    const t = performance.now();
    await trainStep(model, optimizer, x, labels, 20);
    if (i >= 2) times.push(performance.now() - t);
  }
  x.dispose();
  labels.dispose();
  optimizer.dispose();
  model.dispose();
  return batch / (median(times) / 1000);
}

/** The first Python that can `import torch`, or null. */
export function findTorchPython(): string | null {
  for (const py of ["python3", "/usr/bin/python3"]) {
    try {
      const r = new Deno.Command(py, { args: ["-c", "import torch"], stderr: "null" })
        .outputSync();
      if (r.success) return py;
    } catch { /* not installed */ }
  }
  return null;
}

async function torchIps(
  py: string,
  size: number,
  batch: number,
  steps: number,
  threads: number,
): Promise<number> {
  const out = await new Deno.Command(py, {
    args: ["-c", torchScript(size, batch, steps, threads)],
    stdout: "piped",
    stderr: "piped",
    clearEnv: true,
    env: peerEnv(),
  }).output();
  if (!out.success) throw new Error(`PyTorch run failed: ${new TextDecoder().decode(out.stderr)}`);
  const lines = new TextDecoder().decode(out.stdout).trim().split("\n");
  return JSON.parse(lines[lines.length - 1]).ips;
}

/**
 * Runs the benchmark and returns its rows (prints nothing). Throws when oneDNN is missing.
 *
 * @example
 * ```ts
 * const rows = await benchNative({ steps: 3, configs: [[64, 32]] });
 * console.log(rows[0].nativeIps, rows[0].ratio);
 * ```
 */
export async function benchNative(
  opts: { steps?: number; configs?: [number, number][]; torch?: boolean } = {},
): Promise<NativeBenchRow[]> {
  const status = nativeAvailable();
  if (!status.ok) throw new Error(`native backend unavailable: ${status.reason}`);
  const previous = tf.getBackend();
  await registerNativeBackend();
  await tf.setBackend("native");
  const steps = opts.steps ?? 5;
  const py = opts.torch === false ? null : findTorchPython();
  const rows: NativeBenchRow[] = [];
  try {
    for (const [size, batch] of opts.configs ?? NATIVE_BENCH_CONFIGS) {
      const n = await nativeIps(size, batch, steps);
      const t = py ? await torchIps(py, size, batch, steps, nativeThreads()) : null;
      rows.push({
        size,
        batch,
        padding: paddingFor(size),
        nativeIps: n,
        torchIps: t,
        ratio: t ? n / t : null,
      });
    }
  } finally {
    if (previous && previous !== "native") await tf.setBackend(previous);
  }
  return rows;
}

/** Formats rows as a Markdown table. */
export function formatNativeBench(rows: NativeBenchRow[], threads: number): string {
  const f = (v: number | null, d = 1) => (v === null ? "-" : v.toFixed(d));
  return [
    `| input, batch (padding) | native img/s (${threads} threads) | PyTorch img/s | ratio |`,
    "|---|---|---|---|",
    ...rows.map((r) =>
      `| ${r.size}x${r.size}, ${r.batch} (${r.padding}) | ${f(r.nativeIps)} | ${f(r.torchIps)} | ${
        f(r.ratio, 2)
      } |`
    ),
  ].join("\n");
}

if (import.meta.main) {
  const { values } = parseArgs({
    args: Deno.args,
    options: { steps: { type: "string", default: "5" }, sizes: { type: "string" } },
  });
  const sizes = values.sizes?.split(",").map(Number);
  const configs = sizes
    ? NATIVE_BENCH_CONFIGS.filter(([s]) => sizes.includes(s))
    : NATIVE_BENCH_CONFIGS;
  const rows = await benchNative({ steps: Number(values.steps), configs });
  console.log(formatNativeBench(rows, nativeThreads()));
}
