/**
 * Every native (oneDNN / shim) kernel against the pure-JS `cpu` backend on random shapes,
 * strides, paddings, dilations and batch sizes; each case also checks that the native path
 * ran (not a fallback).
 */
import * as tf from "@tensorflow/tfjs-core";
import * as tfl from "@tensorflow/tfjs-layers";
import assert from "node:assert";
import { kernelCounts } from "../core/backend/native/kernels.ts";
import {
  convGradCalls,
  ensureNative,
  int,
  layerInputs,
  maskedLayerGrad,
  NATIVE,
  ownKernelRuns,
  pick,
  randomInput,
  relError,
  rng,
  runOn,
  sameFilterGrad,
} from "./native_helpers.ts";
import type { Input } from "./native_helpers.ts";
import { adamRun } from "./helpers/adam_run.ts";

const TOL = 1e-4;
const ignore = !NATIVE.ok;

type Pad = "same" | "valid" | number;

async function compare(
  label: string,
  kernel: string,
  inputs: Input[],
  fn: (...ts: tf.Tensor[]) => tf.Tensor,
): Promise<number> {
  await ensureNative();
  const before = kernelCounts[kernel]?.native ?? 0;
  const got = await runOn("native", inputs, fn);
  const ran = (kernelCounts[kernel]?.native ?? 0) - before;
  const want = await runOn("cpu", inputs, fn);
  assert.deepStrictEqual(got.shape, want.shape, label);
  const err = relError(got.values, want.values);
  assert(ran > 0, `${label}: ${kernel} did not run natively`);
  assert(err <= TOL, `${label}: relative error ${err} > ${TOL}`);
  return err;
}

function convCase(r: () => number, dilated: boolean) {
  const pad: Pad = pick(r, ["same", "valid", 1] as const);
  const kh = int(r, 1, 3);
  // tfjs sizes a numeric padding's output with the filter height and stride of the first
  // axis on both axes (those cases fall back to wasm): square filters and strides only.
  const kw = pad === 1 ? kh : int(r, 1, 3);
  const dil: [number, number] = dilated ? [int(r, 1, 2), int(r, 1, 2)] : [1, 1];
  if (pad === 1) dil[1] = dil[0];
  const strides: [number, number] = dilated && (dil[0] > 1 || dil[1] > 1)
    ? [1, 1]
    : [int(r, 1, 2), int(r, 1, 3)];
  if (pad === 1) strides[1] = strides[0];
  const h = int(r, (kh - 1) * dil[0] + 1 + 2, 12), w = int(r, (kw - 1) * dil[1] + 1 + 2, 12);
  return {
    n: int(r, 1, 3),
    h,
    w,
    c: int(r, 1, 5),
    co: int(r, 1, 6),
    kh,
    kw,
    strides,
    dil,
    pad,
  };
}

Deno.test({
  name: "native Conv2D and FusedConv2D match cpu (random shapes, strides, pads, dilations)",
  ignore,
  fn: async () => {
    const r = rng(7);
    let worst = 0;
    for (let i = 0; i < 14; i++) {
      const k = convCase(r, true);
      const x = randomInput(r, [k.n, k.h, k.w, k.c]);
      const f = randomInput(r, [k.kh, k.kw, k.c, k.co]);
      const label = `conv ${JSON.stringify(k)}`;
      worst = Math.max(
        worst,
        await compare(
          label,
          "Conv2D",
          [x, f],
          (a, b) => tf.conv2d(a as tf.Tensor4D, b as tf.Tensor4D, k.strides, k.pad, "NHWC", k.dil),
        ),
      );
      const bias = randomInput(r, [k.co]);
      const activation = pick(
        r,
        ["relu", "relu6", "elu", "leakyrelu", "sigmoid", "linear"] as const,
      );
      worst = Math.max(
        worst,
        await compare(
          `fused ${activation} ${label}`,
          "FusedConv2D",
          [x, f, bias],
          (a, b, c) =>
            tf.fused.conv2d({
              x: a as tf.Tensor4D,
              filter: b as tf.Tensor4D,
              strides: k.strides,
              pad: k.pad,
              dilations: k.dil,
              bias: c,
              activation,
              leakyreluAlpha: 0.3,
            }),
        ),
      );
    }
    console.log(`Conv2D/FusedConv2D worst relative error ${worst.toExponential(2)}`);
  },
});

Deno.test({
  name: "native Conv2DBackpropInput and Conv2DBackpropFilter match cpu",
  ignore,
  fn: async () => {
    const r = rng(11);
    let worst = 0;
    for (let i = 0; i < 14; i++) {
      const k = convCase(r, false);
      const info = tf.backend_util.computeConv2DInfo(
        [k.n, k.h, k.w, k.c],
        [k.kh, k.kw, k.c, k.co],
        k.strides,
        1,
        k.pad,
      );
      const dy = randomInput(r, info.outShape);
      const f = randomInput(r, [k.kh, k.kw, k.c, k.co]);
      const x = randomInput(r, [k.n, k.h, k.w, k.c]);
      const label = JSON.stringify(k);
      for (const g of convGradCalls(k, x, f, dy)) {
        worst = Math.max(worst, await compare(`${g.name} ${label}`, g.kernel, g.inputs, g.fn));
      }
    }
    console.log(`conv gradients worst relative error ${worst.toExponential(2)}`);
  },
});

Deno.test({
  name: "native BatchMatMul and _FusedMatMul match cpu (transposes, batch broadcast)",
  ignore,
  fn: async () => {
    const r = rng(13);
    for (let i = 0; i < 16; i++) {
      const m = int(r, 1, 40), kk = int(r, 1, 40), n = int(r, 1, 40);
      const ta = r() < 0.5, tb = r() < 0.5;
      const outer = pick(r, [[], [3], [2, 3]]);
      const aOuter = r() < 0.3 && outer.length > 0 ? outer.map(() => 1) : outer;
      const aShape = [...aOuter, ...(ta ? [kk, m] : [m, kk])];
      const bShape = [...outer, ...(tb ? [n, kk] : [kk, n])];
      const a = randomInput(r, aShape), b = randomInput(r, bShape);
      const label = `matmul a${aShape} b${bShape} ta=${ta} tb=${tb}`;
      await compare(label, "BatchMatMul", [a, b], (x, y) => tf.matMul(x, y, ta, tb));
      if (outer.length === 0) {
        const bias = randomInput(r, [n]);
        await compare(`fused ${label}`, "_FusedMatMul", [a, b, bias], (x, y, z) =>
          tf.fused.matMul({
            a: x,
            b: y,
            transposeA: ta,
            transposeB: tb,
            bias: z,
            activation: "relu",
          }));
      }
    }
  },
});

Deno.test({
  name: "native MaxPool and MaxPoolGrad match cpu",
  ignore,
  fn: async () => {
    const r = rng(17);
    for (let i = 0; i < 14; i++) {
      const f: [number, number] = [int(r, 1, 3), int(r, 1, 3)];
      const s: [number, number] = [int(r, 1, 3), int(r, 1, 3)];
      const pad = pick(r, ["same", "valid"] as const);
      const shape = [int(r, 1, 3), int(r, 4, 11), int(r, 4, 11), int(r, 1, 6)];
      const x = randomInput(r, shape);
      const label = `pool ${shape} f${f} s${s} ${pad}`;
      await compare(label, "MaxPool", [x], (a) => tf.maxPool(a as tf.Tensor4D, f, s, pad));
      const outShape = tf.backend_util.computePool2DInfo(
        shape as [number, number, number, number],
        f,
        s,
        1,
        pad,
      ).outShape;
      const dy = randomInput(r, outShape);
      await compare(`grad ${label}`, "MaxPoolGrad", [x, dy], (a, d) =>
        tf.tidy(() => {
          const y = tf.maxPool(a as tf.Tensor4D, f, s, pad);
          return tf.engine().runKernel("MaxPoolGrad", { dy: d, input: a, output: y }, {
            filterSize: f,
            strides: s,
            pad,
          }) as tf.Tensor;
        }));
    }
  },
});

Deno.test({
  name: "native element-wise kernels (Relu, Step, Add, Multiply, Sum, Mean) match cpu",
  ignore,
  fn: async () => {
    const r = rng(19);
    for (const shape of [[4, 32, 32, 16], [3, 17, 19, 40], [70000]]) {
      const x = randomInput(r, shape), y = randomInput(r, shape);
      const c = shape[shape.length - 1];
      const bias = randomInput(r, [c]);
      const label = `${shape}`;
      await compare(`relu ${label}`, "Relu", [x], (a) => tf.relu(a));
      await compare(`step ${label}`, "Step", [x], (a) => tf.step(a, 0.25));
      await compare(`add ${label}`, "Add", [x, y], (a, b) => tf.add(a, b));
      await compare(`add bias ${label}`, "Add", [x, bias], (a, b) => tf.add(a, b));
      await compare(`bias add ${label}`, "Add", [bias, x], (a, b) => tf.add(a, b));
      await compare(`mul ${label}`, "Multiply", [x, y], (a, b) => tf.mul(a, b));
      await compare(`mul bias ${label}`, "Multiply", [x, bias], (a, b) => tf.mul(a, b));
      const lead = shape.length > 1 ? shape.slice(0, -1).map((_, i) => i) : [0];
      await compare(`sum ${label}`, "Sum", [x], (a) => tf.sum(a, lead));
      await compare(`sum keep ${label}`, "Sum", [x], (a) => tf.sum(a, lead, true));
      await compare(`sum all ${label}`, "Sum", [x], (a) => tf.sum(a));
      await compare(`mean all ${label}`, "Mean", [x], (a) => tf.mean(a));
      if (shape.length === 4) {
        // a global average pooling (H and W of NHWC), and a sum over middle axes
        await compare(`mean hw ${label}`, "Mean", [x], (a) => tf.mean(a, [1, 2]));
        await compare(`mean hw keep ${label}`, "Mean", [x], (a) => tf.mean(a, [2, 1], true));
        await compare(`sum hw ${label}`, "Sum", [x], (a) => tf.sum(a, [1, 2]));
        await compare(`mean n ${label}`, "Mean", [x], (a) => tf.mean(a, 0));
        await compare(`mean c ${label}`, "Mean", [x], (a) => tf.mean(a, 3));
        // wasm's Mean (which native's replaces) to the bit: training runs keep their numbers
        const gap = (a: tf.Tensor) => tf.mean(a, [1, 2]);
        const [nat, was] = [await runOn("native", [x], gap), await runOn("wasm", [x], gap)];
        assert.deepStrictEqual(nat.values, was.values, `mean hw ${label}: native != wasm`);
      }
    }
  },
});

Deno.test({
  name: "native Identity shares data, a different-dtype Cast still converts",
  ignore,
  fn: async () => {
    await ensureNative();
    await tf.setBackend("native");
    const x = tf.tensor([1.5, -2.5, 3.25]);
    const before = tf.memory().numDataBuffers;
    const y = tf.clone(x);
    assert.deepStrictEqual(tf.memory().numDataBuffers, before, "Identity must not copy");
    const z = tf.cast(x, "int32");
    assert.deepStrictEqual(Array.from(await z.data()), [1, -2, 3]);
    x.dispose();
    assert.deepStrictEqual(Array.from(await y.data()), [1.5, -2.5, 3.25]);
    y.dispose();
    z.dispose();
  },
});

Deno.test({
  name: "native fused Adam: one kernel per step, tfjs's numbers to the bit, resumable",
  ignore,
  fn: async () => {
    await ensureNative();
    const { fusedAdamSteps, inPlaceAdamUpdates } = await import("../core/backend/fused_adam.ts");
    const r = rng(23);
    const shapes = [[3, 3, 4, 8], [8], [70001], [5, 20]];
    const init = shapes.map((s) => randomInput(r, s));
    const grads = Array.from({ length: 5 }, () => shapes.map((s) => randomInput(r, s)));
    await tf.setBackend("native");
    const before = tf.memory().numTensors;
    const want = await adamRun("cpu", init, grads);
    const fused0 = fusedAdamSteps();
    const inPlace0 = inPlaceAdamUpdates();
    const got = await adamRun("native", init, grads);
    // Step 1 creates the moments (tfjs's code); steps 2-5 are fused.
    assert.strictEqual(fusedAdamSteps() - fused0, grads.length - 1, "fused steps");
    // Nothing else holds the variables' data: every weight and moment is updated in place.
    assert.strictEqual(
      inPlaceAdamUpdates() - inPlace0,
      3 * shapes.length * (grads.length - 1),
      "in-place updates",
    );
    const resumed = await adamRun("native", init, grads, 3);
    assert.strictEqual(tf.memory().numTensors, before, "Adam runs leaked tensors");
    for (const [label, run] of [["fused", got], ["fused, resumed at step 3", resumed]] as const) {
      for (const [k, v] of want.values.entries()) {
        assert.deepStrictEqual(run.values[k], v, `${label}: variable ${k} differs from tfjs`);
      }
      for (const [k, m] of want.moments.entries()) {
        assert.deepStrictEqual(run.moments[k], m, `${label}: moment ${k} differs from tfjs`);
      }
    }
  },
});

Deno.test({
  name: "native fused Adam: a snapshot sharing a variable's data keeps the old values",
  ignore,
  fn: async () => {
    await ensureNative();
    await tf.setBackend("native");
    const w = tf.variable(tf.tensor1d([1, 2, 3, 4]), true, "adam_shared");
    const opt = tf.train.adam(0.1);
    const step = () => {
      const g = tf.tensor1d([0.5, -0.5, 1, -1]);
      opt.applyGradients([{ name: w.name, tensor: g }]);
      g.dispose();
    };
    step(); // creates the moments
    // On native a clone shares the data (Identity); the fused step must not write through it.
    const snapshot = tf.clone(w);
    const old = Array.from(await snapshot.data());
    step();
    assert.deepStrictEqual(Array.from(await snapshot.data()), old, "snapshot changed");
    assert.notDeepStrictEqual(Array.from(await w.data()), old, "the variable was not updated");
    snapshot.dispose();
    // Alone again: updated in place, and the values still move.
    const mid = Array.from(await w.data());
    step();
    assert.notDeepStrictEqual(Array.from(await w.data()), mid);
    opt.dispose();
    w.dispose();
  },
});

/** Output and weight/input gradients of a conv stack on `backend` (same weights everywhere). */
async function convStackGrads(
  backend: string,
  x: Input,
  weights: Input[],
  build: () => tfl.LayersModel,
): Promise<{ values: Float32Array; shape: number[] }[]> {
  await tf.setBackend(backend);
  const model = build();
  const wts = weights.map((w) => tf.tensor(w.data, w.shape));
  model.setWeights(wts);
  tf.dispose(wts);
  const xt = tf.tensor(x.data, x.shape);
  const outs = tf.tidy(() => {
    const vars = model.trainableWeights.map((w) => w.read() as tf.Variable);
    let y: tf.Tensor | undefined;
    const { grads } = tf.variableGrads(() => {
      y = tf.keep(model.apply(xt, { training: true }) as tf.Tensor);
      // A loss whose gradient differs per element (not all ones).
      return tf.sum(tf.mul(y, tf.sin(y)));
    }, vars);
    const dx = tf.grad((t: tf.Tensor) => tf.sum(tf.square(model.apply(t) as tf.Tensor)))(xt);
    return [y!, dx, ...vars.map((v) => grads[v.name])];
  });
  const res = await Promise.all(
    outs.map(async (t) => ({ values: (await t.data()) as Float32Array, shape: t.shape })),
  );
  tf.dispose(outs);
  xt.dispose();
  model.dispose();
  return res;
}

/** A model to check on native against cpu: `c` channels, `h`x`h` inputs. */
interface StackCase {
  label: string;
  build: () => tfl.LayersModel;
  c: number;
  h: number;
}

/**
 * For each case: random weights and input, the output and every gradient on native against
 * cpu (relative error within TOL), `calls()` (a path's counter) grown by at least `minCalls`,
 * and no tensor leaked.
 */
async function checkStacksAgainstCpu(
  r: () => number,
  cases: StackCase[],
  calls: () => number,
  minCalls: number,
  what: string,
): Promise<void> {
  await tf.setBackend("native");
  const before = tf.memory().numTensors;
  for (const k of cases) {
    await tf.setBackend("cpu");
    const probe = k.build();
    const weights = probe.getWeights().map((w) => randomInput(r, w.shape));
    probe.dispose();
    const x = randomInput(r, [2, k.h, k.h, k.c]);
    const want = await convStackGrads("cpu", x, weights, k.build);
    const calls0 = calls();
    const got = await convStackGrads("native", x, weights, k.build);
    assert(calls() - calls0 >= minCalls, `${k.label}: the ${what} path did not run`);
    for (const [i, w] of want.entries()) {
      assert.deepStrictEqual(got[i].shape, w.shape, `${k.label}: output ${i} shape`);
      const err = relError(got[i].values, w.values);
      assert(err <= TOL, `${k.label}: output ${i}: relative error ${err} > ${TOL}`);
    }
  }
  await tf.setBackend("native");
  assert.strictEqual(tf.memory().numTensors, before, `${what} leaked tensors`);
}

Deno.test({
  name: "native fused conv layers (conv + bias + ReLU, one kernel each way) match cpu",
  ignore,
  fn: async () => {
    await ensureNative();
    const { fusedConvLayerCalls } = await import("../core/backend/native/conv_layer.ts");
    const r = rng(29);
    const cases: StackCase[] = [
      {
        label: "same, relu, bias",
        c: 3,
        h: 9,
        build: () =>
          tfl.sequential({
            layers: [
              tfl.layers.conv2d({
                inputShape: [9, 9, 3],
                filters: 5,
                kernelSize: 3,
                padding: "same",
                activation: "relu",
              }),
              tfl.layers.conv2d({ filters: 4, kernelSize: 3, padding: "same", activation: "relu" }),
            ],
          }),
      },
      {
        label: "valid, stride 2, linear, no bias, then strided relu",
        c: 2,
        h: 13,
        build: () =>
          tfl.sequential({
            layers: [
              tfl.layers.conv2d({
                inputShape: [13, 13, 2],
                filters: 6,
                kernelSize: [3, 2],
                strides: 2,
                padding: "valid",
                useBias: false,
              }),
              tfl.layers.conv2d({
                filters: 3,
                kernelSize: 2,
                strides: [1, 2],
                padding: "same",
                activation: "relu",
              }),
            ],
          }),
      },
    ];
    await checkStacksAgainstCpu(r, cases, fusedConvLayerCalls, 4, "fused conv layers");
  },
});

Deno.test({
  name: "native ReLU max pool: the pool's gradient folds the conv's ReLU mask, matching cpu",
  ignore,
  fn: async () => {
    await ensureNative();
    const { reluPoolLayerCalls } = await import("../core/backend/native/pool_layer.ts");
    const r = rng(37);
    const conv = (filters: number, extra: Record<string, unknown> = {}) =>
      tfl.layers.conv2d({ filters, kernelSize: 3, padding: "same", activation: "relu", ...extra });
    const cases: StackCase[] = [
      {
        label: "the book's blocks: conv, pool, conv, pool (odd size: floor), conv",
        c: 3,
        h: 10,
        build: () =>
          tfl.sequential({
            layers: [
              conv(6, { inputShape: [10, 10, 3] }),
              tfl.layers.maxPooling2d({ poolSize: 2 }),
              conv(5),
              tfl.layers.maxPooling2d({ poolSize: 2 }),
              conv(4),
            ],
          }),
      },
      {
        label: "a ReLU output with two consumers (pool and a strided conv, added)",
        c: 2,
        h: 8,
        build: () => {
          const input = tfl.input({ shape: [8, 8, 2] });
          const y = conv(4).apply(input) as tfl.SymbolicTensor;
          const a = tfl.layers.maxPooling2d({ poolSize: 2 }).apply(y) as tfl.SymbolicTensor;
          const b = tfl.layers.conv2d({ filters: 4, kernelSize: 2, strides: 2 }).apply(y);
          const out = tfl.layers.add().apply([a, b as tfl.SymbolicTensor]);
          return tfl.model({ inputs: input, outputs: out as tfl.SymbolicTensor });
        },
      },
      {
        label: "overlapping windows (pool 3, stride 2, same padding)",
        c: 2,
        h: 9,
        build: () =>
          tfl.sequential({
            layers: [
              conv(3, { inputShape: [9, 9, 2] }),
              tfl.layers.maxPooling2d({ poolSize: 3, strides: 2, padding: "same" }),
              conv(2),
            ],
          }),
      },
    ];
    await checkStacksAgainstCpu(r, cases, reluPoolLayerCalls, 1, "ReLU pool layers");
  },
});

Deno.test({
  name: "native conv input gradient: first layer skipped, a stale mask recomputed",
  ignore,
  fn: async () => {
    await ensureNative();
    const { CONV_GRAD_KERNEL, CONV_INPUT_GRAD_KERNEL, CONV_KERNEL, lastConvGradGeneration } =
      await import(
        "../core/backend/native/conv_layer.ts"
      );
    const r = rng(31);
    const xIn = randomInput(r, [2, 6, 6, 3]), fIn = randomInput(r, [3, 3, 3, 4]);
    const bIn = randomInput(r, [4]), dyIn = randomInput(r, [2, 6, 6, 4]);
    const attrs = {
      strides: [1, 1],
      pad: "same",
      dilations: [1, 1],
      activation: "relu",
      hasBias: true,
    };
    // Reference on cpu: dx = the input gradient of the conv for the output gradient dy * (y > 0).
    const want = await runOn("cpu", [xIn, fIn, bIn, dyIn], (x, f, b, dy) => {
      const y = tf.relu(tf.add(tf.conv2d(x as tf.Tensor4D, f as tf.Tensor4D, 1, "same"), b));
      const g = tf.mul(dy, tf.step(y));
      return tf.grad((t: tf.Tensor) =>
        tf.sum(tf.mul(tf.conv2d(t as tf.Tensor4D, f as tf.Tensor4D, 1, "same"), g))
      )(x);
    });
    const got = await runOn("native", [xIn, fIn, bIn, dyIn], (x, f, b, dy) => {
      const e = tf.engine();
      const y = e.runKernel(CONV_KERNEL, { x, filter: f, bias: b }, attrs) as tf.Tensor;
      // This layer's weight gradient keeps its mask; another layer's weight gradient in between
      // makes it stale (the shim then holds the mask of -dy: reusing it would give -dx), so the
      // input gradient must recompute it from dy and y.
      tf.dispose(e.runKernel(CONV_GRAD_KERNEL, { dy, y, x, filter: f }, attrs) as tf.Tensor[]);
      const generation = lastConvGradGeneration();
      const other = e.runKernel(CONV_GRAD_KERNEL, { dy: tf.neg(dy), y, x, filter: f }, attrs);
      tf.dispose(other as tf.Tensor[]);
      return e.runKernel(CONV_INPUT_GRAD_KERNEL, { dy: tf.neg(tf.neg(dy)), y, filter: f }, {
        ...attrs,
        xShape: x.shape,
        generation,
      }) as tf.Tensor;
    });
    const err = relError(got.values, want.values);
    assert(err <= TOL, `stale-mask input gradient: relative error ${err}`);

    // In training, the first layer's input gradient is never computed.
    await tf.setBackend("native");
    const model = tfl.sequential({
      layers: [
        tfl.layers.conv2d({ inputShape: [6, 6, 3], filters: 4, kernelSize: 3, activation: "relu" }),
        tfl.layers.conv2d({ filters: 2, kernelSize: 3, activation: "relu" }),
      ],
    });
    const x = tf.tensor(xIn.data, xIn.shape);
    const before = kernelCounts[CONV_INPUT_GRAD_KERNEL]?.native ?? 0;
    const grads = tf.variableGrads(
      () => tf.sum(model.apply(x, { training: true }) as tf.Tensor),
      model.trainableWeights.map((w) => w.read() as tf.Variable),
    );
    assert.strictEqual((kernelCounts[CONV_INPUT_GRAD_KERNEL]?.native ?? 0) - before, 1);
    tf.dispose([grads.value, ...Object.values(grads.grads), x]);
    model.dispose();
  },
});

Deno.test({
  name: "native: the shim's own float32 3x3 weight-gradient kernel matches cpu, bias included",
  ignore,
  fn: async () => {
    await ensureNative();
    const { nativeCacheStats } = await import("../core/backend/native/register.ts");
    if (!ownKernelRuns("fp32")) return;
    const { CONV_GRAD_KERNEL } = await import("../core/backend/native/conv_layer.ts");
    const r = rng(37);
    // 1-4 input channels (a first layer: padded row copies; widths down to 2) and multiples of 8
    // (straight from the tensors; rows of 24 pixels or more); heights down to 1, several
    // 32-channel output blocks; the last two span several of the kernel's row chunks, across
    // image boundaries
    const cases = [
      { n: 1, h: 1, w: 2, c: 3, co: 32 },
      { n: 3, h: 5, w: 7, c: 1, co: 64 },
      { n: 2, h: 9, w: 13, c: 4, co: 32 },
      { n: 2, h: 3, w: 3, c: 2, co: 32 },
      { n: 1, h: 3, w: 24, c: 8, co: 96 },
      { n: 2, h: 4, w: 25, c: 32, co: 32 },
      { n: 2, h: 30, w: 80, c: 3, co: 32 },
      { n: 3, h: 30, w: 40, c: 8, co: 32 },
    ];
    for (const { n, h, w, c, co } of cases) {
      const label = `own float32 weight gradient ${n}x${h}x${w}x${c} -> ${co}`;
      const [x, dy, y, filter] = layerInputs(r, n, h, w, c, co);
      const own0 = nativeCacheStats().ownWeightGradients;
      const grad = sameFilterGrad([3, 3, c, co]);
      await compare(label, "Conv2DBackpropFilter", [x, dy], grad);
      // the fused layer's kernel: ReLU-masked weight and bias gradients in one call, with the
      // full masked copy (kept for an input gradient) and without (a first layer's: masked a
      // chunk at a time)
      for (const offTape of [false, true]) {
        for (const i of [0, 1] as const) {
          await compare(
            `${label}, masked (${i}${offTape ? ", no input gradient" : ""})`,
            CONV_GRAD_KERNEL,
            [x, dy, y, filter],
            maskedLayerGrad(i, [3, 3, c, co], offTape),
          );
        }
      }
      assert.strictEqual(
        nativeCacheStats().ownWeightGradients - own0,
        5,
        `${label}: not the own kernel`,
      );
      const [a, b] = [await runOn("native", [x, dy], grad), await runOn("native", [x, dy], grad)];
      assert.deepStrictEqual(a.values, b.values, `${label}: two runs differ`);
    }
  },
});

Deno.test({
  name: "native conv layer: the input's gradient when the input is not computed on the tape",
  ignore,
  fn: async () => {
    await ensureNative();
    // A first layer's weight gradient skips the masked output gradient its input gradient would
    // share (its input is not computed under the tape); differentiating with respect to that
    // input all the same (saliency, pattern ascent) must still give the right input gradient,
    // and the right weight gradient beside it.
    const r = rng(41);
    const inputs = [
      randomInput(r, [2, 9, 11, 3]),
      randomInput(r, [3, 3, 3, 32]),
      randomInput(r, [32]),
      randomInput(r, [2, 9, 11, 32]),
    ];
    const grads = (which: 0 | 1) => (x: tf.Tensor, k: tf.Tensor, b: tf.Tensor, dy: tf.Tensor) => {
      const layer = tfl.layers.conv2d({
        filters: 32,
        kernelSize: 3,
        padding: "same",
        activation: "relu",
        weights: [k, b],
      });
      const kernel = () => (layer.getWeights()[0] as tf.Variable);
      const f = (xx: tf.Tensor) => tf.sum(tf.mul(layer.apply(xx) as tf.Tensor, dy));
      layer.apply(x); // builds the layer
      // another layer's gradient just before leaves its masked output gradient in the shim
      if (tf.getBackend() === "native") {
        tf.dispose(maskedLayerGrad(0, [3, 3, 3, 32])(x, tf.neg(dy), dy, k));
      }
      const { grads: g } = tf.variableGrads(() => f(x) as tf.Scalar, [kernel()]);
      const dx = tf.grad(f)(x);
      const out = which === 0 ? dx : Object.values(g)[0];
      return tf.keep(out.clone());
    };
    const { nativeCacheStats, nativeOwnKernels } = await import(
      "../core/backend/native/register.ts"
    );
    for (const which of [0, 1] as const) {
      const own0 = nativeCacheStats().ownWeightGradients;
      const got = await runOn("native", inputs, grads(which));
      // (where the own kernel does not run, oneDNN's path must give the same gradients)
      if (nativeOwnKernels().fp32) {
        assert(nativeCacheStats().ownWeightGradients > own0, "the own weight gradient did not run");
      }
      const want = await runOn("cpu", inputs, grads(which));
      const err = relError(got.values, want.values);
      assert(err <= TOL, `${which ? "weight" : "input"} gradient: relative error ${err}`);
    }
  },
});

Deno.test({
  name: "native float32 Winograd convolutions (forward, both gradients) match cpu",
  ignore,
  fn: async () => {
    await ensureNative();
    const { nativeCacheStats, nativeBf16Support } = await import(
      "../core/backend/native/register.ts"
    );
    if (!nativeBf16Support().isa.startsWith("AVX-512") && nativeBf16Support().isa !== "AMX") {
      console.warn("SKIPPING: oneDNN's Winograd kernels need AVX-512");
      return;
    }
    const r = rng(43);
    // 3x3 'same' convolutions with 16k channels in and out on images of 5x5 pixels and more
    // (odd sizes: tiles cut at the edge); the second layer's input gradient reuses the blocked
    // output gradient its weight gradient left; a layer without bias or activation; the first
    // layer's input gradient (tf.grad with respect to the input) recomputes its mask
    const cases: StackCase[] = [
      {
        label: "16 -> 32 -> 16, 9x9",
        c: 16,
        h: 9,
        build: () =>
          tfl.sequential({
            layers: [
              tfl.layers.conv2d({
                inputShape: [9, 9, 16],
                filters: 32,
                kernelSize: 3,
                padding: "same",
                activation: "relu",
              }),
              tfl.layers.conv2d({
                filters: 16,
                kernelSize: 3,
                padding: "same",
                activation: "relu",
              }),
            ],
          }),
      },
      {
        label: "32 -> 16 linear without bias -> 32, 6x6",
        c: 32,
        h: 6,
        build: () =>
          tfl.sequential({
            layers: [
              tfl.layers.conv2d({
                inputShape: [6, 6, 32],
                filters: 16,
                kernelSize: 3,
                padding: "same",
                useBias: false,
              }),
              tfl.layers.conv2d({
                filters: 32,
                kernelSize: 3,
                padding: "same",
                activation: "relu",
              }),
            ],
          }),
      },
    ];
    // per case: 2 forward passes (the loss's and the input gradient's) of 2 layers, 2 weight
    // gradients, 3 input gradients
    await checkStacksAgainstCpu(r, cases, () => nativeCacheStats().winogradConvs, 9, "Winograd");
    // a plain input gradient (of dy itself) right after a fused layer's weight gradient of the
    // same shapes, which left its masked output gradient blocked in the shim: not reused
    const [x, dy, y, filter] = layerInputs(r, 2, 7, 5, 16, 32);
    const calls0 = nativeCacheStats().winogradConvs;
    await runOn("native", [x, dy, y, filter], maskedLayerGrad(0, [3, 3, 16, 32]));
    await compare(
      "plain input gradient after a masked weight gradient",
      "Conv2DBackpropInput",
      [dy, filter],
      (d, f) => tf.conv2dTranspose(d as tf.Tensor4D, f as tf.Tensor4D, [2, 7, 5, 16], 1, "same"),
    );
    assert.strictEqual(nativeCacheStats().winogradConvs - calls0, 2, "not Winograd");
  },
});
