/**
 * Shared helpers of the native-backend tests: availability (with the reason when the tests
 * are skipped), a seeded generator, running one function on several backends on the same
 * inputs, and the error measure.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs-core";
import "@tensorflow/tfjs-backend-cpu";
import "@tensorflow/tfjs-backend-wasm";
import { nativeAvailable } from "../core/backend/native/ffi.ts";
import { nativeOwnKernels, registerNativeBackend } from "../core/backend/native/register.ts";
import { CONV_GRAD_KERNEL } from "../core/backend/native/conv_layer.ts";
import * as tfl from "@tensorflow/tfjs-layers";

/** Whether oneDNN is usable here; the tests are ignored (with this reason printed) if not. */
export const NATIVE = nativeAvailable();
if (!NATIVE.ok) {
  console.warn(`SKIPPING native backend tests: ${NATIVE.reason}`);
}

let registered = false;

/** Registers the native backend once per test process. */
export async function ensureNative(): Promise<void> {
  if (!registered) {
    await registerNativeBackend();
    registered = true;
  }
}

/** A seeded uniform generator in [0, 1) (mulberry32). */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** An input: its values and shape. */
export interface Input {
  data: Float32Array;
  shape: number[];
}

/** Random values in [-1, 1) of the given shape. */
export function randomInput(r: () => number, shape: number[]): Input {
  const data = new Float32Array(shape.reduce((a, b) => a * b, 1));
  for (let i = 0; i < data.length; i++) data[i] = r() * 2 - 1;
  return { data, shape };
}

/** Runs `fn` on `backend` with fresh tensors holding `inputs`; returns the output's values. */
export async function runOn(
  backend: string,
  inputs: Input[],
  fn: (...ts: tf.Tensor[]) => tf.Tensor,
): Promise<{ values: Float32Array; shape: number[] }> {
  await tf.setBackend(backend);
  const ts = inputs.map((i) => tf.tensor(i.data, i.shape, "float32"));
  const out = tf.tidy(() => fn(...ts));
  const values = (await out.data()) as Float32Array;
  const shape = out.shape;
  out.dispose();
  ts.forEach((t) => t.dispose());
  return { values, shape };
}

/** Largest absolute difference, relative to max(1, largest |reference|). */
export function relError(got: Float32Array, want: Float32Array): number {
  if (got.length !== want.length) return Infinity;
  let diff = 0, scale = 1;
  for (let i = 0; i < got.length; i++) {
    const d = Math.abs(got[i] - want[i]);
    diff = Number.isNaN(d) ? Infinity : Math.max(diff, d);
    scale = Math.max(scale, Math.abs(want[i]));
  }
  return diff / scale;
}

/** Picks one element of `xs` with `r`. */
export function pick<T>(r: () => number, xs: readonly T[]): T {
  return xs[Math.floor(r() * xs.length)];
}

/** An integer in [lo, hi]. */
export function int(r: () => number, lo: number, hi: number): number {
  return lo + Math.floor(r() * (hi - lo + 1));
}

/** A convolution's shapes as the native kernel tests draw them. */
export interface ConvShape {
  n: number;
  h: number;
  w: number;
  c: number;
  co: number;
  kh: number;
  kw: number;
  strides: [number, number];
  pad: "same" | "valid" | number;
}

/** One kernel call to compare across backends: its inputs and the function running it. */
export interface KernelCall {
  /** Short name for the assertion label (`input`, `filter`). */
  name: string;
  /** The tfjs kernel that must run natively. */
  kernel: string;
  inputs: Input[];
  fn: (...ts: tf.Tensor[]) => tf.Tensor;
}

/**
 * The two gradient kernels of convolution `k` (input gradient from `dy` and the filter `f`,
 * filter gradient from `x` and `dy`), run directly through the engine.
 */
export function convGradCalls(k: ConvShape, x: Input, f: Input, dy: Input): KernelCall[] {
  const attrs = { strides: k.strides, pad: k.pad, dataFormat: "NHWC" as const };
  return [
    {
      name: "input",
      kernel: "Conv2DBackpropInput",
      inputs: [dy, f],
      fn: (a, b) =>
        tf.engine().runKernel("Conv2DBackpropInput", { dy: a, filter: b }, {
          ...attrs,
          inputShape: [k.n, k.h, k.w, k.c],
        }) as tf.Tensor,
    },
    {
      name: "filter",
      kernel: "Conv2DBackpropFilter",
      inputs: [x, dy],
      fn: (a, b) =>
        tf.engine().runKernel("Conv2DBackpropFilter", { x: a, dy: b }, {
          ...attrs,
          filterShape: [k.kh, k.kw, k.c, k.co],
        }) as tf.Tensor,
    },
  ];
}

/**
 * `Conv2DBackpropFilter` of a stride-1, 'same' convolution with filter shape `filterShape`, as a
 * function of (x, dy): the weight gradient the own-kernel tests compare.
 */
export function sameFilterGrad(filterShape: number[]) {
  return (xt: tf.Tensor, dyt: tf.Tensor): tf.Tensor =>
    tf.engine().runKernel("Conv2DBackpropFilter", { x: xt, dy: dyt }, {
      strides: [1, 1],
      pad: "same",
      dataFormat: "NHWC",
      filterShape: filterShape as [number, number, number, number],
    }) as tf.Tensor;
}

/**
 * The fused conv layer's gradient kernel (ReLU-masked, 3x3 'same', stride 1) as a function of
 * (x, dy, y, filter): output `i` (0 the weight gradient, 1 the bias gradient) on native, and the
 * float32 reference (`Conv2DBackpropFilter` / a sum of dy * (y > 0)) on any other backend.
 * `inputOffTape`: the kernel's hint that no input gradient follows (a first layer's).
 */
export function maskedLayerGrad(i: 0 | 1, filterShape: number[], inputOffTape = false) {
  return (xt: tf.Tensor, dyt: tf.Tensor, yt: tf.Tensor, wt: tf.Tensor): tf.Tensor => {
    if (tf.getBackend() === "native") {
      return (tf.engine().runKernel(CONV_GRAD_KERNEL, { dy: dyt, y: yt, x: xt, filter: wt }, {
        strides: [1, 1],
        pad: "same",
        dilations: [1, 1],
        activation: "relu",
        hasBias: true,
        inputOffTape,
      }) as tf.Tensor[])[i];
    }
    const g = tf.mul(dyt, tf.cast(tf.greater(yt, 0), "float32"));
    if (i === 1) return tf.sum(g, [0, 1, 2]);
    return sameFilterGrad(filterShape)(xt, g);
  };
}

/** One 3x3 ReLU convolution of {@linkcode seededConvnet}, with a 2x2 max pool after it or not. */
export interface ConvSpec {
  filters: number;
  padding?: "same" | "valid";
  poolAfter?: boolean;
}

/**
 * A small convnet with seeded Glorot weights (seeds `seed`, `seed + 1`, ... layer by layer):
 * `convs` on `size` x `size` x `channels` inputs, then a flatten or a global average pool, then
 * a dense softmax over `classes`.
 */
export function seededConvnet(
  size: number,
  convs: ConvSpec[],
  head: "flatten" | "gap",
  classes: number,
  { channels = 3, seed = 1 } = {},
): tfl.Sequential {
  const init = () => tfl.initializers.glorotUniform({ seed: seed++ });
  const m = tfl.sequential();
  for (const [i, c] of convs.entries()) {
    m.add(tfl.layers.conv2d({
      filters: c.filters,
      kernelSize: 3,
      activation: "relu",
      padding: c.padding ?? "same",
      kernelInitializer: init(),
      ...(i === 0 ? { inputShape: [size, size, channels] } : {}),
    }));
    if (c.poolAfter) m.add(tfl.layers.maxPooling2d({ poolSize: 2 }));
  }
  m.add(head === "flatten" ? tfl.layers.flatten() : tfl.layers.globalAveragePooling2d({}));
  m.add(tfl.layers.dense({ units: classes, activation: "softmax", kernelInitializer: init() }));
  return m;
}

/** A seeded batch: `batch` images of uniform [0, 1) values and labels 0, 1, ... mod `classes`. */
export function seededBatch(
  seed: number,
  batch: number,
  size: number,
  classes: number,
  channels = 3,
): { x: tf.Tensor4D; labels: tf.Tensor1D } {
  const r = rng(seed);
  const x = tf.tensor4d(Float32Array.from({ length: batch * size * size * channels }, r), [
    batch,
    size,
    size,
    channels,
  ]);
  const labels = tf.tensor1d(Int32Array.from({ length: batch }, (_, i) => i % classes), "int32");
  return { x, labels };
}

/**
 * A fused conv layer's gradient inputs for an `n` x `h` x `w` image batch, `c` input and `co`
 * output channels, drawn from `r` in this order: x, dy, y (its output), a 3x3 filter.
 */
export function layerInputs(
  r: () => number,
  n: number,
  h: number,
  w: number,
  c: number,
  co: number,
): [Input, Input, Input, Input] {
  return [
    randomInput(r, [n, h, w, c]),
    randomInput(r, [n, h, w, co]),
    randomInput(r, [n, h, w, co]),
    randomInput(r, [3, 3, c, co]),
  ];
}

/**
 * Whether the shim's own `kind` weight-gradient kernel runs here; prints why a test skips when
 * not (no AVX-512 / AVX512-BF16 as oneDNN sees it, or turned off).
 */
export function ownKernelRuns(kind: "fp32" | "bf16"): boolean {
  if (nativeOwnKernels()[kind]) return true;
  const name = kind === "fp32" ? "float32" : "bf16";
  console.warn(`SKIPPING: the own ${name} weight-gradient kernel does not run here`);
  return false;
}
