/**
 * Every kernel convdeck registers for wasm, checked against the pure-JS `cpu` backend on random
 * inputs of several shapes, strides and paddings. Prints the max abs error of each case.
 */
import * as tf from "@tensorflow/tfjs-core";
import assert from "node:assert/strict";
import { initBackend } from "../core/backend/select.ts";
import { tuning } from "../core/backend/wasm/conv2d_backprop_filter.ts";
import { simdKernels, simdTuning } from "../core/backend/wasm/simd.ts";
import { simdPool, simdPoolTuning } from "../core/backend/wasm/simd_pool.ts";
import { convSimdStats, convSimdTuning } from "../core/backend/wasm/conv_simd.ts";
import { getThreadsCount } from "@tensorflow/tfjs-backend-wasm";
import { fusedAdamSteps } from "../core/backend/fused_adam.ts";
import { adamRun } from "./helpers/adam_run.ts";
import { randomInput, rng } from "./native_helpers.ts";
import type { WasmBackend } from "../core/backend/wasm/heap.ts";
import { RELU_GRAD } from "../core/backend/relu_grad.ts";
import { maxAbsDiff, runOn, seededRandom } from "./backend_util.ts";

await initBackend("wasm", { log: () => {} });

interface ConvCase {
  x: [number, number, number, number];
  f: [number, number, number, number];
  strides: [number, number];
  pad: "valid" | "same";
}

const convCases: ConvCase[] = [
  { x: [2, 9, 9, 3], f: [3, 3, 3, 4], strides: [1, 1], pad: "valid" },
  { x: [2, 9, 9, 3], f: [3, 3, 3, 4], strides: [1, 1], pad: "same" },
  { x: [3, 10, 7, 5], f: [3, 2, 5, 6], strides: [2, 2], pad: "same" },
  { x: [2, 11, 11, 4], f: [5, 5, 4, 3], strides: [2, 3], pad: "valid" },
  { x: [1, 8, 8, 8], f: [1, 1, 8, 16], strides: [1, 1], pad: "valid" },
  { x: [2, 7, 7, 2], f: [3, 3, 2, 2], strides: [3, 3], pad: "same" },
  { x: [2, 6, 6, 3], f: [2, 2, 3, 4], strides: [1, 1], pad: "same" },
  { x: [2, 8, 8, 4], f: [4, 4, 4, 2], strides: [2, 2], pad: "same" },
  // SIMD paths: channels in fours (with and without a tail), pixel counts not a multiple of 4,
  // batch 1, 1 channel, strides 2 and valid padding over vector channels.
  { x: [1, 5, 7, 8], f: [3, 3, 8, 5], strides: [1, 1], pad: "same" },
  { x: [3, 6, 5, 6], f: [3, 3, 6, 7], strides: [1, 1], pad: "valid" },
  { x: [2, 9, 9, 8], f: [3, 3, 8, 4], strides: [2, 2], pad: "same" },
  { x: [1, 10, 9, 12], f: [3, 3, 12, 3], strides: [2, 1], pad: "valid" },
  { x: [3, 7, 7, 1], f: [3, 3, 1, 8], strides: [1, 1], pad: "same" },
  { x: [1, 4, 4, 32], f: [3, 3, 32, 16], strides: [1, 1], pad: "same" },
  // convdeck's SIMD convolution (output channels in eights): strides, valid padding, an
  // asymmetric filter, filter-gradient rows not a multiple of 4 (27, 9) and pixel counts not a
  // multiple of 4; the input gradient's flipped convolution takes it when the input has 8+.
  { x: [2, 9, 7, 8], f: [3, 3, 8, 8], strides: [2, 2], pad: "same" },
  { x: [3, 6, 6, 3], f: [3, 3, 3, 16], strides: [1, 1], pad: "valid" },
  { x: [2, 5, 5, 12], f: [2, 3, 12, 8], strides: [1, 2], pad: "same" },
  { x: [1, 3, 3, 16], f: [3, 3, 16, 24], strides: [1, 1], pad: "same" },
  { x: [2, 5, 6, 1], f: [3, 3, 1, 8], strides: [1, 1], pad: "same" },
  { x: [2, 6, 5, 24], f: [3, 3, 24, 16], strides: [1, 1], pad: "valid" },
  // From 64 output channels the filter gradient copies its inputs 4 rows to a vector first:
  // rows within a tap, and rows that cross taps or pass the end (6 channels, 54 rows).
  { x: [2, 5, 6, 12], f: [3, 3, 12, 64], strides: [1, 1], pad: "same" },
  { x: [1, 6, 5, 6], f: [3, 3, 6, 64], strides: [2, 1], pad: "valid" },
  // Winograd F(2x2, 3x3) (stride 1, 3x3, input channels a multiple of 4 from 8): output sizes
  // odd and even, 'valid' and 'same', tiles that cross images; the input gradients of these
  // (and of the 3x3 stride-1 cases above) take it too when their output channels allow.
  { x: [3, 8, 7, 8], f: [3, 3, 8, 8], strides: [1, 1], pad: "valid" },
  { x: [2, 7, 4, 16], f: [3, 3, 16, 32], strides: [1, 1], pad: "same" },
  // The forward pass on 4x4 tiles (F(4x4, 3x3)): outputs of 9 and 10 pixels (the last tiles cut
  // at 1 and 2), 3 images.
  { x: [3, 9, 10, 8], f: [3, 3, 8, 8], strides: [1, 1], pad: "same" },
  // Small images, taken position by position (4 images at one output position to a tile, the
  // taps in the padding skipped): batches not a multiple of 4, 3x3, 2x2 and 1x1 images, a
  // stride-2 output of 3x3, filter-gradient rows that cross taps (6 channels), with and
  // without the copied inputs (64 output channels).
  { x: [5, 3, 3, 8], f: [3, 3, 8, 16], strides: [1, 1], pad: "same" },
  { x: [6, 2, 2, 6], f: [3, 3, 6, 64], strides: [1, 1], pad: "same" },
  { x: [3, 1, 1, 12], f: [3, 3, 12, 8], strides: [1, 1], pad: "same" },
  { x: [7, 5, 5, 4], f: [3, 3, 4, 8], strides: [2, 2], pad: "same" },
];

function outShape(c: ConvCase): number[] {
  const info = tf.backend_util.computeConv2DInfo(c.x, c.f, c.strides, 1, c.pad);
  return info.outShape;
}

/** Relative tolerance against the largest magnitude of the reference. */
const REL_TOL = 1e-5;

async function checkFilterGrad(): Promise<void> {
  for (const [i, c] of convCases.entries()) {
    const xv = seededRandom(c.x.reduce((a, b) => a * b), 10 + i);
    const dyShape = outShape(c);
    const dyv = seededRandom(dyShape.reduce((a, b) => a * b), 20 + i);
    const fn = () =>
      tf.engine().runKernel("Conv2DBackpropFilter", {
        x: tf.tensor4d(xv, c.x),
        dy: tf.tensor(dyv, dyShape),
      }, { strides: c.strides, pad: c.pad, dataFormat: "NHWC", filterShape: c.f }) as tf.Tensor;
    const ref = await runOn("cpu", fn);
    const got = await runOn("wasm", fn);
    assert.deepEqual(got.shape, c.f);
    const { diff, scale } = maxAbsDiff(got.values, ref.values);
    console.log(`  filter grad ${JSON.stringify(c)}: max abs err ${diff.toExponential(2)}`);
    assert(diff <= REL_TOL * scale, `case ${i}: err ${diff} > ${REL_TOL} * ${scale}`);
  }
  await tf.setBackend("wasm");
}

async function checkInputGrad(): Promise<void> {
  for (const [i, c] of convCases.entries()) {
    const fv = seededRandom(c.f.reduce((a, b) => a * b), 30 + i);
    const dyShape = outShape(c);
    const dyv = seededRandom(dyShape.reduce((a, b) => a * b), 40 + i);
    const fn = () =>
      tf.engine().runKernel("Conv2DBackpropInput", {
        dy: tf.tensor(dyv, dyShape),
        filter: tf.tensor4d(fv, c.f),
      }, { strides: c.strides, pad: c.pad, dataFormat: "NHWC", inputShape: c.x }) as tf.Tensor;
    const ref = await runOn("cpu", fn);
    const got = await runOn("wasm", fn);
    assert.deepEqual(got.shape, c.x);
    const { diff, scale } = maxAbsDiff(got.values, ref.values);
    console.log(`  input grad ${JSON.stringify(c)}: max abs err ${diff.toExponential(2)}`);
    assert(diff <= REL_TOL * scale, `case ${i}: err ${diff} > ${REL_TOL} * ${scale}`);
  }
  await tf.setBackend("wasm");
}

async function checkForward(): Promise<void> {
  for (const [i, c] of convCases.entries()) {
    const xv = seededRandom(c.x.reduce((a, b) => a * b), 50 + i);
    const fv = seededRandom(c.f.reduce((a, b) => a * b), 60 + i);
    const fn = () => tf.conv2d(tf.tensor4d(xv, c.x), tf.tensor4d(fv, c.f), c.strides, c.pad);
    const ref = await runOn("cpu", fn);
    const got = await runOn("wasm", fn);
    assert.deepEqual(got.shape, ref.shape);
    const { diff, scale } = maxAbsDiff(got.values, ref.values);
    console.log(`  conv ${JSON.stringify(c)}: max abs err ${diff.toExponential(2)}`);
    assert(diff <= REL_TOL * scale, `case ${i}: err ${diff} > ${REL_TOL} * ${scale}`);
  }
  await tf.setBackend("wasm");
}

Deno.test("wasm Conv2D matches cpu", checkForward);

Deno.test("wasm Conv2DBackpropFilter matches cpu", checkFilterGrad);

Deno.test("wasm Conv2DBackpropInput matches cpu", checkInputGrad);

Deno.test("wasm conv gradients match cpu when blocked by pixels and chunked by images", async () => {
  const saved = { ...tuning };
  tuning.scratchFloats = 1; // one image per col2im chunk
  tuning.pixelBlock = 7; // filter-gradient blocks that straddle rows and images
  try {
    await checkFilterGrad();
    await checkInputGrad();
  } finally {
    Object.assign(tuning, saved);
  }
});

Deno.test("wasm SIMD convolution: reached, correct when chunked and blocked, the same bits on one thread", async () => {
  await tf.setBackend("wasm");
  const backend = tf.backend() as unknown as WasmBackend;
  const pool = simdPool(backend);
  assert(pool !== undefined, "the SIMD pool is available");
  assert.equal(pool.parts, getThreadsCount(), "one part per wasm thread");
  for (let i = 0; i < 500 && pool.helpersReady() < pool.parts - 1; i++) {
    await new Promise((r) => setTimeout(r, 10));
  }
  assert.equal(pool.helpersReady(), pool.parts - 1, "every helper thread started");
  const before = { ...convSimdStats };
  await checkForward();
  await checkFilterGrad();
  assert(convSimdStats.forward > before.forward, "Conv2D took the SIMD path");
  assert(convSimdStats.filterGrad > before.filterGrad, "the filter gradient took the SIMD path");
  assert(convSimdStats.winograd > before.winograd, "3x3 stride-1 convolutions took Winograd");
  assert(convSimdStats.byPosition > before.byPosition, "small images went position by position");
  assert(convSimdStats.winograd4x4 > before.winograd4x4, "Winograd took 4x4 tiles where they pay");
  const saved = { ...convSimdTuning };
  // Blocks of 4 pixels, 3 pixels and 4 Winograd tiles, chunks of 4 tiles for Winograd's filter
  // gradient.
  Object.assign(convSimdTuning, {
    pixelChunk: 5,
    filterBlock: 3,
    forwardBlockFloats: 1,
    winogradBlockFloats: 1,
    winogradGradChunkFloats: 1,
  });
  try {
    await checkForward();
    await checkFilterGrad();
    await checkInputGrad();
    // Winograd's forward pass on 2x2 tiles only, then Winograd off (the direct kernels).
    convSimdTuning.winograd4x4 = false;
    const winograd4x4 = convSimdStats.winograd4x4;
    await checkForward();
    await checkInputGrad();
    assert.equal(convSimdStats.winograd4x4, winograd4x4, "4x4 tiles turned off");
    convSimdTuning.winogradMinChannels = 0;
    const winograd = convSimdStats.winograd;
    await checkForward();
    await checkFilterGrad();
    await checkInputGrad();
    assert.equal(convSimdStats.winograd, winograd, "Winograd turned off");
  } finally {
    Object.assign(convSimdTuning, saved);
  }
  // Splitting across threads changes no bit (Winograd's tiles, the direct kernel's pixels): compare with the caller running every part.
  const x = tf.tensor4d(seededRandom(2 * 9 * 9 * 16, 70), [2, 9, 9, 16]);
  const f = tf.tensor4d(seededRandom(9 * 16 * 24, 71), [3, 3, 16, 24]);
  const dy = tf.tensor4d(seededRandom(2 * 9 * 9 * 24, 72), [2, 9, 9, 24]);
  const both = () => {
    const y = tf.conv2d(x, f, 1, "same");
    const dw = tf.engine().runKernel("Conv2DBackpropFilter", { x, dy }, {
      strides: [1, 1],
      pad: "same",
      dataFormat: "NHWC",
      filterShape: [3, 3, 16, 24],
    }) as tf.Tensor;
    const out = [y.dataSync().slice(), dw.dataSync().slice()];
    tf.dispose([y, dw]);
    return out;
  };
  const winograd = convSimdStats.winograd;
  const split = both();
  assert(convSimdStats.winograd > winograd, "the split check ran Winograd");
  simdPoolTuning.helpers = false;
  try {
    const alone = both();
    assert.deepEqual(split[0], alone[0]);
    assert.deepEqual(split[1], alone[1]);
  } finally {
    simdPoolTuning.helpers = true;
    tf.dispose([x, f, dy]);
  }
});

Deno.test("wasm fused Adam: one kernel per step, tfjs's numbers to the bit (SIMD and JavaScript)", async () => {
  const r = rng(31);
  const shapes = [[3, 3, 4, 8], [8], [70001], [5, 21]];
  const init = shapes.map((s) => randomInput(r, s));
  const grads = Array.from({ length: 4 }, () => shapes.map((s) => randomInput(r, s)));
  const want = await adamRun("cpu", init, grads);
  // tfjs recomputes the beta powers with pow on resume, so the reference resumes too.
  const wantResumed = await adamRun("cpu", init, grads, 2);
  for (const simd of [true, false]) {
    simdTuning.enabled = simd;
    try {
      const fused0 = fusedAdamSteps();
      const got = await adamRun("wasm", init, grads);
      const resumed = await adamRun("wasm", init, grads, 2);
      // Step 1 creates the moments (tfjs's code); the others are fused, in both runs.
      assert.equal(fusedAdamSteps() - fused0, 2 * (grads.length - 1), "fused steps");
      const pairs = [["fused", got, want], ["resumed at step 2", resumed, wantResumed]] as const;
      for (const [label, run, ref] of pairs) {
        for (const [k, v] of ref.values.entries()) {
          assert.deepStrictEqual(run.values[k], v, `simd ${simd}, ${label}: variable ${k}`);
        }
        for (const [k, m] of ref.moments.entries()) {
          assert.deepStrictEqual(run.moments[k], m, `simd ${simd}, ${label}: moment ${k}`);
        }
      }
    } finally {
      simdTuning.enabled = true;
    }
  }
  await tf.setBackend("wasm");
});

interface DepthwiseCase {
  x: [number, number, number, number];
  f: [number, number, number, number];
  strides: [number, number];
  dilations: [number, number];
  pad: "valid" | "same";
}

const depthwiseCases: DepthwiseCase[] = [
  { x: [2, 7, 7, 3], f: [3, 3, 3, 1], strides: [1, 1], dilations: [1, 1], pad: "same" },
  { x: [1, 9, 8, 4], f: [3, 3, 4, 2], strides: [2, 2], dilations: [1, 1], pad: "valid" },
  { x: [2, 9, 9, 2], f: [5, 5, 2, 3], strides: [2, 2], dilations: [1, 1], pad: "same" },
];

Deno.test("wasm depthwise conv gradients match cpu", async () => {
  for (const [i, c] of depthwiseCases.entries()) {
    const info = tf.backend_util.computeConv2DInfo(
      c.x,
      c.f,
      c.strides,
      c.dilations,
      c.pad,
      undefined,
      true,
    );
    const xv = seededRandom(c.x.reduce((a, b) => a * b), 50 + i);
    const fv = seededRandom(c.f.reduce((a, b) => a * b), 60 + i);
    const dyv = seededRandom(info.outShape.reduce((a, b) => a * b), 70 + i);
    const common = { strides: c.strides, dilations: c.dilations, pad: c.pad };
    const gradInput = () =>
      tf.engine().runKernel(
        "DepthwiseConv2dNativeBackpropInput",
        { dy: tf.tensor(dyv, info.outShape), filter: tf.tensor4d(fv, c.f) },
        { ...common, inputShape: c.x },
      ) as tf.Tensor;
    const gradFilter = () =>
      tf.engine().runKernel(
        "DepthwiseConv2dNativeBackpropFilter",
        { x: tf.tensor4d(xv, c.x), dy: tf.tensor(dyv, info.outShape) },
        { ...common, filterShape: c.f },
      ) as tf.Tensor;
    for (
      const [name, fn, shape] of [["input", gradInput, c.x], ["filter", gradFilter, c.f]] as const
    ) {
      const ref = await runOn("cpu", fn);
      const got = await runOn("wasm", fn);
      assert.deepEqual(got.shape, shape);
      const { diff, scale } = maxAbsDiff(got.values, ref.values);
      console.log(
        `  depthwise ${name} grad ${JSON.stringify(c)}: max abs err ${diff.toExponential(2)}`,
      );
      assert(diff <= REL_TOL * scale, `case ${i} ${name}: err ${diff} > ${REL_TOL} * ${scale}`);
    }
  }
  await tf.setBackend("wasm");
});

async function checkMaxPoolGrad(): Promise<void> {
  const cases: {
    x: [number, number, number, number];
    size: number;
    stride: number;
    pad: "valid" | "same";
  }[] = [
    { x: [2, 8, 8, 3], size: 2, stride: 2, pad: "valid" },
    { x: [1, 9, 7, 4], size: 3, stride: 2, pad: "same" },
    { x: [2, 7, 7, 2], size: 3, stride: 1, pad: "valid" },
    // SIMD paths: channels in fours, with a tail, odd sizes (floor), batch 1.
    { x: [2, 8, 8, 32], size: 2, stride: 2, pad: "valid" },
    { x: [1, 7, 7, 6], size: 2, stride: 2, pad: "valid" },
    { x: [1, 9, 9, 8], size: 3, stride: 2, pad: "same" },
    // Split across the threads by images.
    { x: [5, 6, 6, 8], size: 2, stride: 2, pad: "valid" },
  ];
  for (const [i, c] of cases.entries()) {
    // Relu-like input: many exact zeros, so ties are common.
    const xv = seededRandom(c.x.reduce((a, b) => a * b), 80 + i).map((v) => Math.max(0, v));
    const fn = () => {
      const x = tf.tensor4d(xv, c.x);
      const y = tf.maxPool(x, c.size, c.stride, c.pad);
      const dy = tf.tensor(seededRandom(y.size, 90 + i), y.shape);
      return tf.engine().runKernel("MaxPoolGrad", { dy, input: x, output: y }, {
        filterSize: c.size,
        strides: c.stride,
        pad: c.pad,
      }) as tf.Tensor;
    };
    const ref = await runOn("cpu", fn);
    const got = await runOn("wasm", fn);
    const { diff, scale } = maxAbsDiff(got.values, ref.values);
    console.log(`  max pool grad ${JSON.stringify(c)}: max abs err ${diff.toExponential(2)}`);
    // Overlapping windows sum in a different order; a misrouted gradient would be O(1).
    assert(diff <= REL_TOL * scale, `case ${i}: err ${diff}`);
  }
  await tf.setBackend("wasm");
}

Deno.test("wasm MaxPoolGrad matches cpu (ties included)", checkMaxPoolGrad);

async function checkSum(): Promise<void> {
  const xv = seededRandom(2 * 5 * 4 * 3, 99);
  const cases: [number[], boolean][] = [[[0, 1, 2], false], [[0], true], [[1, 0], false], [
    [3],
    false,
  ], [
    [1, 2],
    false,
  ], [[0, 1, 2, 3], false]];
  for (const [axis, keepDims] of cases) {
    const fn = () => tf.sum(tf.tensor4d(xv, [2, 5, 4, 3]), axis, keepDims);
    const ref = await runOn("cpu", fn);
    const got = await runOn("wasm", fn);
    assert.deepEqual(got.shape, ref.shape);
    const { diff, scale } = maxAbsDiff(got.values, ref.values);
    assert(diff <= REL_TOL * scale, `axis ${axis}: err ${diff}`);
  }
  // Bias-gradient shapes: channels in fours, and in fours plus a tail; split across the threads
  // by 16 columns (54: 32 + 16 + 4 + 2).
  for (
    const shape of [[3, 4, 4, 32], [2, 3, 5, 10], [2, 3, 3, 54]] as [
      number,
      number,
      number,
      number,
    ][]
  ) {
    const v = seededRandom(shape.reduce((a, b) => a * b), 98);
    const fn = () => tf.sum(tf.tensor4d(v, shape), [0, 1, 2]);
    const ref = await runOn("cpu", fn);
    const got = await runOn("wasm", fn);
    assert.deepEqual(got.shape, ref.shape);
    const { diff, scale } = maxAbsDiff(got.values, ref.values);
    assert(diff <= REL_TOL * scale, `shape ${shape}: err ${diff}`);
  }
  await tf.setBackend("wasm");
}

Deno.test("wasm Sum matches cpu on the fast path (leading axes) and elsewhere", checkSum);

async function checkReluGrad(): Promise<void> {
  for (const n of [1, 7, 64, 1029]) {
    const yv = seededRandom(n, 110 + n).map((v, i) => (i % 5 === 0 ? 0 : v));
    const dyv = seededRandom(n, 120 + n);
    const fn = () =>
      tf.engine().runKernel(RELU_GRAD, { dy: tf.tensor1d(dyv), y: tf.tensor1d(yv) }) as tf.Tensor;
    const got = await runOn("wasm", fn);
    const want = dyv.map((d, i) => (yv[i] > 0 ? d : 0));
    assert.deepEqual(Array.from(got.values), Array.from(want));
  }
}

Deno.test(
  "wasm ConvdeckReluGrad matches its definition (zeros, lengths not a multiple of 4)",
  checkReluGrad,
);

Deno.test("wasm kernels use convdeck's SIMD module over tfjs's own memory", async () => {
  await tf.setBackend("wasm");
  assert(simdKernels(tf.backend() as unknown as WasmBackend) !== undefined);
});

Deno.test("wasm kernels' JavaScript fallbacks (SIMD module off) match cpu", async (t) => {
  simdTuning.enabled = false;
  try {
    await t.step("conv gradients", async () => {
      await checkFilterGrad();
      await checkInputGrad();
    });
    await t.step("max pool gradient", checkMaxPoolGrad);
    await t.step("sum", checkSum);
    await t.step("relu gradient", checkReluGrad);
  } finally {
    simdTuning.enabled = true;
  }
});

Deno.test("wasm kernels leave no tensors behind", async () => {
  await tf.setBackend("wasm");
  const before = tf.memory().numTensors;
  const x = tf.randomUniform([2, 6, 6, 8], -1, 1, "float32", 3);
  const dy = tf.randomUniform([2, 6, 6, 4], -1, 1, "float32", 4);
  const f = tf.randomUniform([3, 3, 8, 4], -1, 1, "float32", 5);
  const attrs = { strides: [1, 1], pad: "same", dataFormat: "NHWC" };
  const outs = [
    tf.engine().runKernel("Conv2DBackpropFilter", { x, dy }, {
      ...attrs,
      filterShape: [3, 3, 8, 4],
    }) as tf.Tensor,
    tf.engine().runKernel("Conv2DBackpropInput", { dy, filter: f }, {
      ...attrs,
      inputShape: [2, 6, 6, 8],
    }) as tf.Tensor,
    tf.engine().runKernel(RELU_GRAD, { dy: x, y: x }) as tf.Tensor,
    tf.sum(x, [0, 1, 2]),
  ];
  tf.dispose([...outs, x, dy, f]);
  assert.equal(tf.memory().numTensors, before);
});
