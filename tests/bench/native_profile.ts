/**
 * Where a training step of the book's model spends its time on the native backend:
 *
 * - per kernel (tf.profile): `deno run -A tests/bench/native_profile.ts [size=64] [batch=32]
 *   [backend=native] [precision=fp32]`;
 * - per layer and pass (`layers` as the 4th argument is not a precision: use
 *   `... 64 32 native bf16 layers`): milliseconds of each convolution's forward, weight gradient
 *   and input gradient and of the dense layer's matrix products, with GFLOP/s against the
 *   ceiling measured in the same process (the best of 20 bare 3x3 64->64 convolutions forward on
 *   16x16 outputs, batch 16, in the same precision, by the direct kernel), per wall second and
 *   per CPU second (the latter is robust on a busy machine: each thread's work). GFLOP/s count a
 *   direct convolution's multiply-adds, so a pass by Winograd's kernels (float32, see the native
 *   backend's README) reads above 100% of the ceiling.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs-core";
import "@tensorflow/tfjs-backend-wasm";
import { trainStep } from "../../core/train/train_step.ts";
import { initBackend } from "../../core/backend/select.ts";
import type { Precision } from "../../core/backend/precision.ts";
import { bookConvnet } from "../../core/models/book_convnet.ts";
import {
  CONV_GRAD_KERNEL,
  CONV_INPUT_GRAD_KERNEL,
  CONV_KERNEL,
} from "../../core/backend/native/conv_layer.ts";
import { median } from "./train_bench.ts";
import process from "node:process";

/** Milliseconds and calls per kernel name over one profiled training step, slowest first. */
export async function profileStep(
  size: number,
  batch: number,
): Promise<{ stepMs: number; kernels: [string, number, number][] }> {
  const model = bookConvnet([size, size, 3], 20, { seed: 1 });
  const opt = tf.train.adam(1e-3);
  const x = tf.randomUniform([batch, size, size, 3], 0, 1, "float32", 1);
  const labels = tf.tensor1d(Array.from({ length: batch }, (_, i) => i % 20), "int32");
  for (let i = 0; i < 2; i++) await trainStep(model, opt, x, labels, 20);
  const t = performance.now();
  await trainStep(model, opt, x, labels, 20);
  const stepMs = performance.now() - t;
  const agg = new Map<string, [number, number]>();
  const info = await tf.profile(async () => {
    await trainStep(model, opt, x, labels, 20);
  });
  for (const k of info.kernels) {
    const a = agg.get(k.name) ?? [0, 0];
    a[0] += k.kernelTimeMs as number;
    a[1]++;
    agg.set(k.name, a);
  }
  x.dispose();
  labels.dispose();
  opt.dispose();
  model.dispose();
  const kernels = [...agg].map(([n, [ms, c]]) => [n, ms, c] as [string, number, number]);
  return { stepMs, kernels: kernels.sort((p, q) => q[1] - p[1]) };
}

/** One layer and pass of {@linkcode profileLayers}. */
export interface LayerPass {
  /** e.g. `conv 32x32 3->32` or `dense 256->20`. */
  layer: string;
  /** `forward`, `weight grad`, `input grad` (conv) or `matmul` (dense, every product). */
  pass: string;
  /** Median milliseconds per step (wall). */
  ms: number;
  /** Median CPU milliseconds per step (all threads of the process; on a busy machine the work). */
  cpuMs: number;
  /** Floating-point operations per step (2 per multiply-add). */
  flops: number;
}

const PASSES: Record<string, string> = {
  [CONV_KERNEL]: "forward",
  [CONV_GRAD_KERNEL]: "weight grad",
  [CONV_INPUT_GRAD_KERNEL]: "input grad",
  _FusedMatMul: "matmul",
  BatchMatMul: "matmul",
};

type Shape = readonly number[];

function convLabelAndFlops(inputs: Record<string, { shape: Shape }>, attrs: tf.NamedAttrMap) {
  const f = inputs.filter.shape;
  const xs = (inputs.x?.shape ?? attrs.xShape) as Shape;
  const out = (inputs.y ?? inputs.dy)?.shape;
  const [n, oh, ow] = out ? [out[0], out[1], out[2]] : [xs[0], xs[1], xs[2]];
  return {
    layer: `conv ${xs[1]}x${xs[2]} ${f[2]}->${f[3]}`,
    flops: 2 * n * oh * ow * f[3] * f[0] * f[1] * f[2],
  };
}

/**
 * Times every convolution pass and matrix product of `steps` training steps (after 2 warm-up
 * steps) of the book's model on the active backend, by wrapping those kernels (they finish
 * before returning). Returns each layer and pass's median milliseconds per step, in step order.
 */
export async function profileLayers(
  size: number,
  batch: number,
  steps = 3,
  channels = 3,
): Promise<{ stepMs: number; passes: LayerPass[] }> {
  const model = bookConvnet([size, size, channels], 20, { seed: 1, padding: "same" });
  const opt = tf.train.adam(1e-3);
  const x = tf.randomUniform([batch, size, size, channels], 0, 1, "float32", 1);
  const labels = tf.tensor1d(Array.from({ length: batch }, (_, i) => i % 20), "int32");
  for (let i = 0; i < 2; i++) await trainStep(model, opt, x, labels, 20);
  const backend = tf.getBackend();
  const perStep: Map<string, LayerPass & { times: number[]; cpus: number[] }> = new Map();
  let current = new Map<string, { ms: number; cpu: number; flops: number }>();
  const restore: (() => void)[] = [];
  for (const config of tf.getKernelsForBackend(backend)) {
    const pass = PASSES[config.kernelName];
    if (pass === undefined) continue;
    const original = config.kernelFunc;
    const mutable = config as { kernelFunc: tf.KernelFunc };
    mutable.kernelFunc = (args) => {
      const c0 = process.cpuUsage();
      const t0 = performance.now();
      const out = original(args);
      const ms = performance.now() - t0;
      const cu = process.cpuUsage(c0);
      const cpu = (cu.user + cu.system) / 1000;
      const inputs = args.inputs as unknown as Record<string, { shape: Shape }>;
      let layer: string, flops: number;
      if (pass === "matmul") {
        const a = inputs.a.shape, b = inputs.b.shape;
        const ta = args.attrs?.transposeA, tb = args.attrs?.transposeB;
        const m = ta ? a[a.length - 1] : a[a.length - 2];
        const k = ta ? a[a.length - 2] : a[a.length - 1];
        const n = tb ? b[b.length - 2] : b[b.length - 1];
        layer = `matmul ${m}x${k} * ${k}x${n}`;
        flops = 2 * m * k * n;
      } else {
        ({ layer, flops } = convLabelAndFlops(inputs, args.attrs ?? {}));
      }
      const key = `${layer}|${pass}`;
      const c = current.get(key) ?? { ms: 0, cpu: 0, flops: 0 };
      current.set(key, { ms: c.ms + ms, cpu: c.cpu + cpu, flops: c.flops + flops });
      return out;
    };
    restore.push(() => mutable.kernelFunc = original);
  }
  const stepTimes: number[] = [];
  try {
    for (let s = 0; s < steps; s++) {
      current = new Map();
      const t0 = performance.now();
      await trainStep(model, opt, x, labels, 20);
      stepTimes.push(performance.now() - t0);
      for (const [key, c] of current) {
        const [layer, pass] = key.split("|");
        const e = perStep.get(key) ??
          { layer, pass, ms: 0, cpuMs: 0, flops: c.flops, times: [], cpus: [] };
        e.times.push(c.ms);
        e.cpus.push(c.cpu);
        perStep.set(key, e);
      }
    }
  } finally {
    restore.forEach((f) => f());
    tf.dispose([x, labels]);
    opt.dispose();
    model.dispose();
  }
  const passes = [...perStep.values()].map((e) => ({
    layer: e.layer,
    pass: e.pass,
    ms: median(e.times),
    cpuMs: median(e.cpus),
    flops: e.flops,
  }));
  return { stepMs: median(stepTimes), passes };
}

/**
 * GFLOP/s of the best of `reps` bare 3x3 64->64 convolutions (16x16 outputs, batch 16: 0.15
 * GFLOP, short enough to run within a time slice of a busy machine) here: per wall second, and
 * per CPU second of all threads (GFLOP/s of one core's work), by the direct kernel: in float32
 * 'valid' on 18x18 inputs (Winograd's kernels take only 'same' ones), in bf16 'same' on 16x16 (no
 * bf16 Winograd; oneDNN's bf16 kernel ran the 'valid' case 5-15% slower here).
 */
export function convCeilingGflops(
  precision: Precision = "fp32",
  reps = 20,
): { wall: number; perCpu: number } {
  const valid = precision !== "bf16";
  const x = tf.randomUniform([16, valid ? 18 : 16, valid ? 18 : 16, 64]);
  const w = tf.randomUniform([3, 3, 64, 64]);
  let best = Infinity, bestCpu = Infinity;
  for (let i = 0; i < reps; i++) {
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    const y = tf.conv2d(x as tf.Tensor4D, w as tf.Tensor4D, 1, valid ? "valid" : "same");
    best = Math.min(best, performance.now() - t0);
    const cu = process.cpuUsage(c0);
    bestCpu = Math.min(bestCpu, (cu.user + cu.system) / 1000);
    y.dispose();
  }
  tf.dispose([x, w]);
  const flops = 2 * 16 * 16 * 16 * 64 * 64 * 9;
  return { wall: flops / best / 1e6, perCpu: flops / bestCpu / 1e6 };
}

if (import.meta.main) {
  const [shape = "64", batch = "32", backend = "native", precision = "fp32", mode] = Deno.args;
  // SIZE or SIZExSIZExCHANNELS (28x28x1: Fashion-MNIST's shape)
  const [size, , channels = 3] = shape.split("x").map(Number);
  await initBackend(backend as "native", { precision: precision as Precision });
  const load = Deno.readTextFileSync("/proc/loadavg").split(" ").slice(0, 3).join(" ");
  if (mode === "layers") {
    const ceiling = convCeilingGflops(precision as Precision);
    const { stepMs, passes } = await profileLayers(size, Number(batch), 3, channels);
    const total = passes.reduce((s, p) => s + p.ms, 0);
    console.log(
      `${backend} ${precision} ${size}x${size}x${channels} batch ${batch}: step ${
        stepMs.toFixed(1)
      } ms ` +
        `(median of 3; conv and matmul passes ${total.toFixed(1)} ms of it); conv ceiling ` +
        `${ceiling.wall.toFixed(0)} GFLOP/s wall, ${ceiling.perCpu.toFixed(0)} per CPU second ` +
        `(best bare direct 3x3 64->64, 16x16, b16); load ${load}`,
    );
    console.log(
      "| layer | pass | ms/step | CPU ms/step | GFLOP/s | GFLOP per CPU s | of ceiling |",
    );
    console.log("|---|---|---|---|---|---|---|");
    for (const p of passes) {
      const g = p.flops / p.ms / 1e6, gc = p.flops / p.cpuMs / 1e6;
      console.log(
        `| ${p.layer} | ${p.pass} | ${p.ms.toFixed(2)} | ${p.cpuMs.toFixed(2)} | ` +
          `${g.toFixed(0)} | ${gc.toFixed(0)} | ${(100 * g / ceiling.wall).toFixed(0)}% |`,
      );
    }
  } else {
    const { stepMs, kernels } = await profileStep(Number(size), Number(batch));
    console.log(`${backend} ${size}x${size} batch ${batch}: step ${stepMs.toFixed(0)} ms`);
    for (const [n, ms, c] of kernels.slice(0, 20)) {
      console.log(`${n.padEnd(24)} ${ms.toFixed(1).padStart(8)} ms ${String(c).padStart(4)} calls`);
    }
  }
  Deno.exit(0);
}
