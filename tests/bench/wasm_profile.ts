/**
 * Per-kernel profile of the book's model training on the `wasm` backend, as the bench runs it
 * (initBackend with threads, convdeck's kernels, 'same' padding, separate softmax):
 * `deno run -A tests/bench/wasm_profile.ts [size=32] [batch=32] [channels=3] [steps=5]
 * [threads=2] [--layers] [--no-simd] [--block=N]`. Prints wall ms per step, CPU ms per step, the per-kernel ms per step
 * (with `--layers`: per kernel and input shape) and the filter gradient's im2col / GEMM split.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs-core";
import process from "node:process";
import { initBackend } from "../../core/backend/select.ts";
import { filterGradStats, tuning } from "../../core/backend/wasm/conv2d_backprop_filter.ts";
import { simdTuning } from "../../core/backend/wasm/simd.ts";
import { trainStep } from "../../core/train/train_step.ts";
import { bookConvnet } from "../../core/models/book_convnet.ts";

/** Per-kernel milliseconds and calls of `steps` training steps, keyed by name (and shape). */
export async function wasmProfile(
  size: number,
  batch: number,
  channels: number,
  steps: number,
  byShape: boolean,
): Promise<{ stepMs: number; cpuMs: number; rows: [string, number, number][] }> {
  const model = bookConvnet([size, size, channels], 20, { seed: 1 });
  const opt = tf.train.adam(1e-3);
  const x = tf.randomUniform([batch, size, size, channels], 0, 1, "float32", 7);
  const labels = tf.tensor1d(Array.from({ length: batch }, (_, i) => i % 20), "int32");
  try {
    for (let i = 0; i < 3; i++) await trainStep(model, opt, x, labels, 20);
    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
    for (let i = 0; i < steps; i++) await trainStep(model, opt, x, labels, 20);
    const stepMs = (performance.now() - t0) / steps;
    const cpu = process.cpuUsage(cpu0);
    const cpuMs = (cpu.user + cpu.system) / 1000 / steps;
    const agg = new Map<string, [number, number]>();
    const restore: (() => void)[] = [];
    for (const config of tf.getKernelsForBackend("wasm")) {
      const original = config.kernelFunc;
      const mutable = config as { kernelFunc: tf.KernelFunc };
      mutable.kernelFunc = (args) => {
        const t = performance.now();
        const out = original(args);
        const ms = performance.now() - t;
        const first = Object.values(args.inputs)[0] as tf.TensorInfo | undefined;
        const key = byShape && first ? `${config.kernelName} ${first.shape.join("x")}` : config
          .kernelName;
        const a = agg.get(key) ?? [0, 0];
        a[0] += ms;
        a[1]++;
        agg.set(key, a);
        return out;
      };
      restore.push(() => mutable.kernelFunc = original);
    }
    filterGradStats.im2colMs = 0;
    filterGradStats.gemmMs = 0;
    try {
      for (let i = 0; i < steps; i++) await trainStep(model, opt, x, labels, 20);
    } finally {
      restore.forEach((f) => f());
    }
    const rows = [...agg].map(([n, [ms, c]]) =>
      [n, ms / steps, c / steps] as [
        string,
        number,
        number,
      ]
    );
    return { stepMs, cpuMs, rows: rows.sort((p, q) => q[1] - p[1]) };
  } finally {
    x.dispose();
    labels.dispose();
    opt.dispose();
    model.dispose();
  }
}

if (import.meta.main) {
  const flags = Deno.args.filter((a) => a.startsWith("--"));
  // --no-simd: the JavaScript loops instead of ../../core/backend/wasm/simd.ts; --block=N:
  // output pixels per filter-gradient GEMM. Together they reproduce the kernels before SIMD.
  if (flags.includes("--no-simd")) simdTuning.enabled = false;
  const block = flags.find((f) => f.startsWith("--block="));
  if (block !== undefined) tuning.pixelBlock = Number(block.slice(8));
  const [size = "32", batch = "32", channels = "3", steps = "5", threads = "2"] = Deno.args
    .filter((a) => !a.startsWith("--"));
  await initBackend("wasm", { threads: Number(threads), log: () => {} });
  const n = Number(steps);
  const r = await wasmProfile(
    Number(size),
    Number(batch),
    Number(channels),
    n,
    flags.includes("--layers"),
  );
  const load = Deno.loadavg().map((v) => v.toFixed(2)).join(" ");
  console.log(
    `wasm ${size}x${size}x${channels} batch ${batch}, ${threads} threads, ` +
      `${simdTuning.enabled ? "SIMD" : "no SIMD"}, block ${tuning.pixelBlock}: ` +
      `${r.stepMs.toFixed(1)} ms/step (${(Number(batch) * 1000 / r.stepMs).toFixed(1)} img/s), ` +
      `CPU ${r.cpuMs.toFixed(1)} ms/step, load ${load}`,
  );
  const total = r.rows.reduce((s, v) => s + v[1], 0);
  for (const [name, ms, calls] of r.rows.slice(0, 40)) {
    console.log(
      `${name.padEnd(40)} ${ms.toFixed(2).padStart(8)} ms/step ` +
        `${(100 * ms / total).toFixed(1).padStart(5)}% ${String(calls).padStart(4)} calls`,
    );
  }
  console.log(`kernels total ${total.toFixed(1)} ms/step`);
  console.log(
    `filter grad: im2col ${(filterGradStats.im2colMs / n).toFixed(2)} ms/step, ` +
      `GEMM ${(filterGradStats.gemmMs / n).toFixed(2)} ms/step`,
  );
  // The threaded backend's workers would keep the process alive.
  Deno.exit(0);
}
