/**
 * bf16 mixed precision on the native backend: every bf16 kernel (convolution forward, input
 * gradient, weight gradient, the fused conv layer's three kernels, matrix products) against the
 * float32 `cpu` reference within a stated bf16 tolerance, the clear error where the CPU has no
 * native bf16, and deterministic losses of a bf16 training run.
 *
 * The tolerance: rounding both factors of a product x·w to bf16 (8 significant bits, round to
 * nearest even) changes it by at most 2^-8·|x·w| (two half-ulps), and the errors of a sum of K
 * products add up like a random walk, so each output may differ from float32 by
 * `BF16_TOL · sqrt(Σ (x_k·w_k)²)`, with BF16_TOL = 2^-5 (about 10 standard deviations of that
 * walk). The bound is computed per output element by running the same op on the squared inputs.
 * Every case also checks that the result is NOT float32's to 1e-6: the bf16 path really ran.
 */
import * as tf from "@tensorflow/tfjs-core";
import * as tfl from "@tensorflow/tfjs-layers";
import assert from "node:assert";
import { kernelCounts } from "../core/backend/native/kernels.ts";
import { CONV_GRAD_KERNEL, CONV_KERNEL } from "../core/backend/native/conv_layer.ts";
import {
  nativeBf16Support,
  nativeCacheStats,
  nativePrecision,
  setNativePrecision,
} from "../core/backend/native/register.ts";
import { trainStep } from "../core/train/train_step.ts";
import {
  isPacked,
  markPacked,
  type PackedHost,
  packingOn,
  setPacking,
} from "../core/backend/native/packed.ts";
import {
  convGradCalls,
  ensureNative,
  type Input,
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
  seededBatch,
  seededConvnet,
} from "./native_helpers.ts";

/** Tolerance factor of the bf16 bound (see the module comment). */
const BF16_TOL = 2 ** -5;
const BF16 = NATIVE.ok ? nativeBf16Support() : { ok: false, isa: "no oneDNN" };
if (NATIVE.ok && !BF16.ok) console.warn(`SKIPPING bf16 numerics: no native bf16 (${BF16.isa})`);
const ignore = !NATIVE.ok || !BF16.ok;

const squared = (i: Input): Input => ({ data: i.data.map((x) => x * x), shape: i.shape });

/**
 * Runs `fn` on native in bf16 and on cpu in float32; checks every element within the bound and
 * that `kernel` ran natively. `boundInputs` picks which inputs the products are made of (a bias
 * is not); returns the largest error relative to its bound.
 */
async function compareBf16(
  label: string,
  kernel: string,
  inputs: Input[],
  fn: (...ts: tf.Tensor[]) => tf.Tensor,
  bound: (...ts: tf.Tensor[]) => tf.Tensor = fn,
  nProducts = inputs.length,
): Promise<number> {
  await ensureNative();
  const before = kernelCounts[kernel]?.native ?? 0;
  const got = await runBf16(inputs, fn);
  const ran = (kernelCounts[kernel]?.native ?? 0) - before;
  assert(ran > 0, `${label}: ${kernel} did not run natively`);
  const want = await runOn("cpu", inputs, fn);
  const sq = await runOn("cpu", inputs.slice(0, nProducts).map(squared), bound);
  assert.deepStrictEqual(got.shape, want.shape, label);
  let worst = 0, maxDiff = 0;
  for (let i = 0; i < want.values.length; i++) {
    const d = Math.abs(got.values[i] - want.values[i]);
    const b = BF16_TOL * Math.sqrt(sq.values[i]) + 1e-6;
    assert(
      d <= b,
      `${label}: element ${i}: bf16 ${got.values[i]} vs fp32 ${want.values[i]} (bound ${b})`,
    );
    worst = Math.max(worst, d / b);
    maxDiff = Math.max(maxDiff, d);
  }
  assert(maxDiff > 1e-6, `${label}: the result is float32's exactly: bf16 did not run`);
  return worst;
}

/** `fn` on native in bf16 (the precision set back to fp32 after). */
async function runBf16(inputs: Input[], fn: (...ts: tf.Tensor[]) => tf.Tensor) {
  setNativePrecision("bf16");
  try {
    return await runOn("native", inputs, fn);
  } finally {
    setNativePrecision("fp32");
  }
}

function convCase(r: () => number) {
  const pad = pick(r, ["same", "valid"] as const);
  const kh = int(r, 1, 3), kw = int(r, 1, 3);
  return {
    n: int(r, 1, 3),
    h: int(r, kh + 2, 12),
    w: int(r, kw + 2, 12),
    // channel counts that hit oneDNN's blocked bf16 kernels (16, 32) and odd ones
    c: pick(r, [1, 3, 16, 32]),
    co: pick(r, [5, 16, 32]),
    kh,
    kw,
    strides: [int(r, 1, 2), int(r, 1, 2)] as [number, number],
    pad,
  };
}

Deno.test({
  name: "bf16: Conv2D, FusedConv2D and both conv gradients within the bf16 bound of fp32",
  ignore,
  fn: async () => {
    const r = rng(26);
    let worst = 0;
    for (let i = 0; i < 10; i++) {
      const k = convCase(r);
      const label = `bf16 conv ${JSON.stringify(k)}`;
      const x = randomInput(r, [k.n, k.h, k.w, k.c]);
      const f = randomInput(r, [k.kh, k.kw, k.c, k.co]);
      const conv = (a: tf.Tensor, b: tf.Tensor) =>
        tf.conv2d(a as tf.Tensor4D, b as tf.Tensor4D, k.strides, k.pad, "NHWC");
      worst = Math.max(worst, await compareBf16(label, "Conv2D", [x, f], conv));
      const bias = randomInput(r, [k.co]);
      worst = Math.max(
        worst,
        await compareBf16(
          `fused ${label}`,
          "FusedConv2D",
          [x, f, bias],
          (a, b, c) =>
            tf.fused.conv2d({
              x: a as tf.Tensor4D,
              filter: b as tf.Tensor4D,
              strides: k.strides,
              pad: k.pad,
              bias: c,
              activation: "relu",
            }),
          conv,
          2,
        ),
      );
      const outShape = tf.backend_util.computeConv2DInfo(
        [k.n, k.h, k.w, k.c],
        [k.kh, k.kw, k.c, k.co],
        k.strides,
        1,
        k.pad,
      ).outShape;
      const dy = randomInput(r, outShape);
      for (const g of convGradCalls(k, x, f, dy)) {
        worst = Math.max(
          worst,
          await compareBf16(`${g.name} grad ${label}`, g.kernel, g.inputs, g.fn),
        );
      }
    }
    console.log(`bf16 conv kernels: worst error ${worst.toFixed(3)} of the bound`);
    assert.strictEqual(nativePrecision(), "fp32");
  },
});

Deno.test({
  name: "bf16: BatchMatMul and _FusedMatMul (transposes, batches) within the bf16 bound",
  ignore,
  fn: async () => {
    const r = rng(27);
    let worst = 0;
    for (let i = 0; i < 10; i++) {
      const m = int(r, 1, 40), kk = int(r, 1, 300), n = int(r, 1, 40);
      const ta = r() < 0.5, tb = r() < 0.5;
      const outer = pick(r, [[], [3]]);
      const aShape = [...outer, ...(ta ? [kk, m] : [m, kk])];
      const bShape = [...outer, ...(tb ? [n, kk] : [kk, n])];
      const a = randomInput(r, aShape), b = randomInput(r, bShape);
      const label = `bf16 matmul a${aShape} b${bShape} ta=${ta} tb=${tb}`;
      const mm = (x: tf.Tensor, y: tf.Tensor) => tf.matMul(x, y, ta, tb);
      worst = Math.max(worst, await compareBf16(label, "BatchMatMul", [a, b], mm));
      if (outer.length === 0) {
        const bias = randomInput(r, [n]);
        worst = Math.max(
          worst,
          await compareBf16(
            `fused ${label}`,
            "_FusedMatMul",
            [a, b, bias],
            (x, y, z) => tf.fused.matMul({ a: x, b: y, transposeA: ta, transposeB: tb, bias: z }),
            mm,
            2,
          ),
        );
      }
    }
    console.log(`bf16 matmul kernels: worst error ${worst.toFixed(3)} of the bound`);
  },
});

Deno.test({
  name: "bf16: the fused conv layer's kernels (forward, weight, input and masked gradients)",
  ignore,
  fn: async () => {
    await ensureNative();
    const r = rng(28);
    const x = randomInput(r, [2, 10, 10, 16]);
    const w1 = randomInput(r, [3, 3, 16, 32]);
    const w2 = randomInput(r, [3, 3, 32, 16]);
    // gradients of sum(conv2(conv1(x)) * g) w.r.t. w1 and w2 (and so through conv2's input
    // gradient): a fixed random g
    const g = randomInput(r, [2, 10, 10, 16]);
    const run = async (precision: "fp32" | "bf16") => {
      await tf.setBackend("native");
      setNativePrecision(precision);
      try {
        const m = tfl.sequential();
        for (const [i, w] of [w1, w2].entries()) {
          m.add(tfl.layers.conv2d({
            filters: w.shape[3],
            kernelSize: 3,
            padding: "same",
            activation: "linear",
            ...(i === 0 ? { inputShape: [10, 10, 16] } : {}),
          }));
        }
        m.setWeights([
          tf.tensor(w1.data, w1.shape),
          tf.zeros([32]),
          tf.tensor(w2.data, w2.shape),
          tf.zeros([16]),
        ]);
        const xt = tf.tensor(x.data, x.shape), gt = tf.tensor(g.data, g.shape);
        const { value, grads } = tf.variableGrads(() =>
          tf.sum(tf.mul(m.apply(xt) as tf.Tensor, gt)) as tf.Scalar
        );
        const out = [await value.data()];
        for (const v of [m.layers[0].getWeights()[0], m.layers[1].getWeights()[0]]) {
          const name = Object.keys(grads).find((n) => grads[n].shape.join() === v.shape.join());
          out.push(await grads[name!].data());
        }
        tf.dispose([xt, gt, value, ...Object.values(grads)]);
        m.dispose();
        return out as Float32Array[];
      } finally {
        setNativePrecision("fp32");
      }
    };
    const before = kernelCounts["ConvdeckConv2DGrad"]?.native ?? 0;
    const bf = await run("bf16");
    assert((kernelCounts["ConvdeckConv2DGrad"]?.native ?? 0) > before, "fused layer path ran");
    const fp = await run("fp32");
    // Two bf16 layers deep, through sums of many products of either sign (the loss, each weight
    // gradient), the per-element bound does not apply: the whole result is compared instead,
    // |bf16 - fp32|_2 <= 1e-2 |fp32|_2. (Linear layers: with ReLUs, an output within bf16's
    // error of zero flips its mask, and a handful of flips move a weight gradient by percents,
    // in any mixed precision; the masked kernel is checked on its own below.)
    for (const [i, name] of ["loss", "dw1", "dw2"].entries()) {
      let d2 = 0, n2 = 0;
      for (let j = 0; j < fp[i].length; j++) {
        d2 += (bf[i][j] - fp[i][j]) ** 2;
        n2 += fp[i][j] ** 2;
      }
      const rel = Math.sqrt(d2 / n2);
      assert(rel < 1e-2, `${name}: bf16 differs from fp32 by ${rel} (L2, relative)`);
      assert(rel > 1e-7, `${name}: identical to fp32: bf16 did not run`);
    }
    // the ReLU-masked weight and bias gradient kernel on a given y: per-element bound against
    // cpu's Conv2DBackpropFilter of dy * (y > 0)
    const y = randomInput(r, [2, 10, 10, 32]);
    const dy = randomInput(r, [2, 10, 10, 32]);
    const worst = await compareBf16(
      "masked weight gradient",
      CONV_GRAD_KERNEL,
      [x, dy, y, w1],
      maskedLayerGrad(0, w1.shape),
    );
    assert(worst <= 1);
  },
});

Deno.test({
  name: "bf16: a weight gradient split by batch across threads: within the bound, repeatable",
  ignore,
  fn: async () => {
    await ensureNative();
    // 8x16x24x16 -> 32: 28 MFLOP, over the shim's split threshold (2e7), batch divisible by 2
    // (16 input channels: not the shim's own kernel's, which the next test checks)
    const r = rng(29);
    const x = randomInput(r, [8, 16, 24, 16]);
    const dy = randomInput(r, [8, 16, 24, 32]);
    const grad = sameFilterGrad([3, 3, 16, 32]);
    const own0 = nativeCacheStats().ownWeightGradients;
    const worst = await compareBf16("split weight gradient", "Conv2DBackpropFilter", [x, dy], grad);
    assert(worst <= 1);
    const [a, b] = [await runBf16([x, dy], grad), await runBf16([x, dy], grad)];
    assert.deepStrictEqual(a.values, b.values, "two identical split weight gradients differ");
    assert.strictEqual(nativeCacheStats().ownWeightGradients, own0, "the split ran, not the own");
  },
});

Deno.test({
  name: "bf16: the shim's own 3x3 weight-gradient kernel (32/64 channels): bound, bias, repeatable",
  ignore,
  fn: async () => {
    await ensureNative();
    if (!ownKernelRuns("bf16")) return;
    const r = rng(31);
    // odd and even widths (a pixel pair across the last column), heights down to 1, batches
    // that do and do not divide among the threads, several 32-channel output blocks
    const cases = [
      { n: 1, h: 1, w: 6, c: 32, co: 32 },
      { n: 3, h: 5, w: 7, c: 64, co: 96 },
      { n: 2, h: 9, w: 13, c: 32, co: 64 },
      { n: 4, h: 8, w: 8, c: 64, co: 32 },
      { n: 1, h: 30, w: 11, c: 32, co: 128 },
    ];
    for (const { n, h, w, c, co } of cases) {
      const label = `${n}x${h}x${w}x${c} -> ${co}`;
      const [x, dy, y, filter] = layerInputs(r, n, h, w, c, co);
      const own0 = nativeCacheStats().ownWeightGradients;
      const grad = sameFilterGrad([3, 3, c, co]);
      assert(
        await compareBf16(`own weight gradient ${label}`, "Conv2DBackpropFilter", [x, dy], grad) <=
          1,
      );
      // the fused layer's kernel: ReLU-masked weight and bias gradients in one call
      const layerGrads = (i: 0 | 1) => maskedLayerGrad(i, [3, 3, c, co]);
      assert(
        await compareBf16(
          `own masked dw ${label}`,
          CONV_GRAD_KERNEL,
          [x, dy, y, filter],
          layerGrads(0),
        ) <= 1,
      );
      // the bias gradient: a sum of bf16-rounded gradients (relative error ~2^-9 each, random
      // signs), so as a whole within 4e-3 of float32's (L2, relative): a 1% error fails it
      const db = await runBf16([x, dy, y, filter], layerGrads(1));
      const want = await runOn("cpu", [x, dy, y, filter], layerGrads(1));
      let d2 = 0, n2 = 0;
      want.values.forEach((v, i) => {
        d2 += (db.values[i] - v) ** 2;
        n2 += v * v;
      });
      assert(Math.sqrt(d2 / n2) < 4e-3, `own db ${label}: ${Math.sqrt(d2 / n2)} (L2, relative)`);
      assert.strictEqual(
        nativeCacheStats().ownWeightGradients - own0,
        3,
        `${label}: own kernel ran`,
      );
      const [a, b] = [await runBf16([x, dy], grad), await runBf16([x, dy], grad)];
      assert.deepStrictEqual(a.values, b.values, `${label}: two identical runs differ`);
    }
  },
});

Deno.test({
  name: "bf16: weight gradients of small output images as one matrix product: bound, bias, " +
    "strides and padding, repeatable",
  ignore,
  fn: async () => {
    await ensureNative();
    if (Deno.env.get("CONVDECK_BF16_GEMM_WGRAD") === "0") {
      console.warn("SKIPPING: CONVDECK_BF16_GEMM_WGRAD=0");
      return;
    }
    const r = rng(33);
    // output images of 16 pixels or fewer: 'same' and 'valid', strides, a 1x3 filter, channel
    // counts that are not multiples of anything
    const cases = [
      { n: 4, h: 3, w: 3, c: 64, co: 32, f: [3, 3], s: 1, pad: "same" },
      { n: 3, h: 4, w: 4, c: 24, co: 40, f: [3, 3], s: 1, pad: "same" },
      { n: 2, h: 5, w: 6, c: 8, co: 16, f: [3, 3], s: 1, pad: "valid" },
      { n: 2, h: 7, w: 7, c: 12, co: 20, f: [3, 3], s: 2, pad: "same" },
      { n: 5, h: 2, w: 6, c: 5, co: 7, f: [1, 3], s: 1, pad: "same" },
    ] as const;
    for (const { n, h, w, c, co, f, s, pad } of cases) {
      const label = `${n}x${h}x${w}x${c} -> ${co}, ${f.join("x")}, stride ${s}, ${pad}`;
      const filterShape = [f[0], f[1], c, co] as [number, number, number, number];
      const attrs = { strides: [s, s], pad, dataFormat: "NHWC", filterShape };
      const x = randomInput(r, [n, h, w, c]);
      const oh = pad === "same" ? Math.ceil(h / s) : Math.ceil((h - f[0] + 1) / s);
      const ow = pad === "same" ? Math.ceil(w / s) : Math.ceil((w - f[1] + 1) / s);
      assert(oh * ow <= 16, label);
      const dy = randomInput(r, [n, oh, ow, co]);
      const grad = (xt: tf.Tensor, dyt: tf.Tensor) =>
        tf.engine().runKernel("Conv2DBackpropFilter", { x: xt, dy: dyt }, attrs) as tf.Tensor;
      const gemm0 = nativeCacheStats().gemmWeightGradients;
      assert(
        await compareBf16(`gemm weight gradient ${label}`, "Conv2DBackpropFilter", [
          x,
          dy,
        ], grad) <= 1,
      );
      assert.strictEqual(nativeCacheStats().gemmWeightGradients - gemm0, 1, `${label}: ran`);
      const [a, b] = [await runBf16([x, dy], grad), await runBf16([x, dy], grad)];
      assert.deepStrictEqual(a.values, b.values, `${label}: two identical runs differ`);
    }
    // the fused layer's kernel: ReLU-masked weight and bias gradients (3x3 'same', 4x4 images)
    const [x, dy, y, filter] = layerInputs(r, 6, 4, 4, 32, 64);
    const gemm0 = nativeCacheStats().gemmWeightGradients;
    const layerGrads = (i: 0 | 1) => maskedLayerGrad(i, filter.shape);
    assert(
      await compareBf16("gemm masked dw", CONV_GRAD_KERNEL, [x, dy, y, filter], layerGrads(0)) <=
        1,
    );
    const db = await runBf16([x, dy, y, filter], layerGrads(1));
    const want = await runOn("cpu", [x, dy, y, filter], layerGrads(1));
    let d2 = 0, n2 = 0;
    want.values.forEach((v, i) => {
      d2 += (db.values[i] - v) ** 2;
      n2 += v * v;
    });
    // a sum of bf16-rounded gradients (see the own kernel's test): a 1% error fails it
    assert(Math.sqrt(d2 / n2) < 4e-3, `gemm db: ${Math.sqrt(d2 / n2)} (L2, relative)`);
    assert.strictEqual(nativeCacheStats().gemmWeightGradients - gemm0, 2, "the layer's ran");
  },
});

Deno.test({
  name: "bf16: a recorded forward keeps its input in bf16 for the weight gradient, same results",
  ignore,
  fn: async () => {
    await ensureNative();
    await tf.setBackend("native");
    // 4x12x12x16 -> 16 (7 MFLOP: on one thread, unsplit) and 8x16x16x32 -> 32 (the shim's own kernel)
    for (const [n, hw, c] of [[4, 12, 16], [8, 16, 32]]) {
      const r = rng(n + c);
      const [x, f, b, dy] = [[n, hw, hw, c], [3, 3, c, c], [c], [n, hw, hw, c]].map((shape) => {
        const i = randomInput(r, shape);
        return tf.tensor(i.data, i.shape);
      });
      const attrs = {
        strides: [1, 1],
        pad: "same",
        dilations: [1, 1],
        activation: "relu",
        hasBias: true,
      };
      const e = tf.engine();
      const weightGrad = (input: tf.Tensor, recorded: boolean) => {
        const y = e.runKernel(CONV_KERNEL, { x: input, filter: f, bias: b }, {
          ...attrs,
          recorded,
        }) as tf.Tensor;
        const [dw, db] = e.runKernel(
          CONV_GRAD_KERNEL,
          { dy, y, x: input, filter: f },
          attrs,
        ) as tf.Tensor[];
        const out = [dw.dataSync().slice(), db.dataSync().slice()];
        tf.dispose([y, dw, db]);
        return out;
      };
      setNativePrecision("bf16");
      const same = tf.add(x, 0); // the same values in new data: no kept copy
      try {
        const hits = nativeCacheStats().keptInputHits;
        const kept = weightGrad(x, true);
        assert.strictEqual(
          nativeCacheStats().keptInputHits,
          hits + 1,
          "the kept copy was not used",
        );
        const fresh = weightGrad(same, false);
        assert.strictEqual(nativeCacheStats().keptInputHits, hits + 1, "a copy was used unkept");
        assert.deepStrictEqual(kept, fresh, "the kept copy gave other gradients");
        // another recorded forward in between keeps its own copy: x's is still x's
        const x2 = tf.add(x, 1);
        const y2 = e.runKernel(CONV_KERNEL, { x: x2, filter: f, bias: b }, {
          ...attrs,
          recorded: true,
        }) as tf.Tensor;
        const [dw2] = e.runKernel(
          CONV_GRAD_KERNEL,
          { dy, y: y2, x, filter: f },
          attrs,
        ) as tf.Tensor[];
        assert.strictEqual(nativeCacheStats().keptInputHits, hits + 2, "x's kept copy was lost");
        const [dw3] = e.runKernel(
          CONV_GRAD_KERNEL,
          { dy, y: y2, x: same, filter: f },
          attrs,
        ) as tf.Tensor[];
        assert.strictEqual(nativeCacheStats().keptInputHits, hits + 2, "a copy used for new data");
        assert.deepStrictEqual(dw2.dataSync(), dw3.dataSync(), "x's kept copy is not x");
        tf.dispose([x2, y2, dw2, dw3]);
      } finally {
        setNativePrecision("fp32");
        tf.dispose([x, same, f, b, dy]);
      }
    }
  },
});

Deno.test({
  name: "bf16: the losses of a bf16 training run repeat exactly (same threads)",
  ignore,
  fn: async () => {
    await ensureNative();
    await tf.setBackend("native");
    // the second layer (8x16x16x32 -> 32, valid: 29 MFLOP) takes the split weight gradient
    const SIZE = 16, BATCH = 8, CLASSES = 4;
    const losses = async () => {
      const m = seededConvnet(
        SIZE,
        [
          { filters: 32 },
          { filters: 32, padding: "valid", poolAfter: true },
        ],
        "flatten",
        CLASSES,
      );
      const { x, labels: y } = seededBatch(5, BATCH, SIZE, CLASSES);
      const opt = tf.train.adam(1e-2);
      const out: number[] = [];
      for (let i = 0; i < 6; i++) out.push((await trainStep(m, opt, x, y, CLASSES)).loss);
      tf.dispose([x, y]);
      opt.dispose();
      m.dispose();
      return out;
    };
    setNativePrecision("bf16");
    try {
      const a = await losses();
      const b = await losses();
      assert.deepStrictEqual(a, b, "two identical bf16 runs gave different losses");
      assert.strictEqual(nativeCacheStats().liveObjects, 0, "oneDNN memory objects leaked");
      assert(a[5] < a[0], `bf16 training did not lower the loss: ${a}`);
      setNativePrecision("fp32");
      const f = await losses();
      assert.notDeepStrictEqual(a, f, "bf16 losses equal fp32's: bf16 did not run");
    } finally {
      setNativePrecision("fp32");
    }
  },
});

Deno.test({
  name: "bf16: a first layer's weight gradient (1-4 input channels) runs in float32 arithmetic",
  ignore,
  fn: async () => {
    await ensureNative();
    // no input gradient follows a first layer's weight gradient: with 1-4 input channels the
    // shim takes it in float32 from the float32 tensors (its own kernel), so it matches float32
    if (!ownKernelRuns("fp32")) return;
    const r = rng(43);
    for (const c of [1, 3]) {
      const [x, dy, y, filter] = layerInputs(r, 2, 7, 9, c, 32);
      for (const i of [0, 1] as const) {
        const own0 = nativeCacheStats().ownWeightGradients;
        const fn = maskedLayerGrad(i, [3, 3, c, 32], true);
        const got = await runBf16([x, dy, y, filter], fn);
        assert.strictEqual(nativeCacheStats().ownWeightGradients - own0, 1, "not the own kernel");
        const want = await runOn("cpu", [x, dy, y, filter], fn);
        const err = relError(got.values, want.values);
        assert(err <= 1e-5, `${c} channels, output ${i}: relative error ${err}`);
      }
    }
  },
});

/** True when every value is a bf16 value (the low 16 bits of its float32 bits are zero). */
function allBf16(v: Float32Array): boolean {
  const u = new Uint32Array(v.buffer, v.byteOffset, v.length);
  return u.every((b) => (b & 0xffff) === 0);
}

/** A 3x3 'same' ReLU conv layer from `cin` to `cout` channels with seeded weights. */
function seededConv(cin: number, cout: number, seed: number): tfl.layers.Layer {
  const layer = tfl.layers.conv2d({
    filters: cout,
    kernelSize: 3,
    padding: "same",
    activation: "relu",
    kernelInitializer: tfl.initializers.glorotUniform({ seed }),
    biasInitializer: tfl.initializers.randomUniform({ minval: -0.1, maxval: 0.1, seed }),
  });
  layer.build([null, null, null, cin]);
  return layer;
}

Deno.test({
  name: "bf16: conv outputs stay bf16 (packed) between the fused layers; any other reader gets " +
    "their bf16 values",
  ignore,
  fn: async () => {
    await ensureNative();
    await tf.setBackend("native");
    const r = rng(41);
    const xi = randomInput(r, [2, 9, 11, 16]);
    const x = tf.tensor(xi.data, xi.shape);
    const conv1 = seededConv(16, 32, 1), conv2 = seededConv(32, 16, 2);
    const start = tf.memory().numTensors;
    setNativePrecision("bf16");
    try {
      if (!packingOn()) {
        console.warn("SKIPPING packed activations: CONVDECK_BF16_ACTIVATIONS=0");
        return;
      }
      // float32 activations (packing off) as the reference: the same bf16 convolutions
      setPacking(false);
      const ref1 = conv1.apply(x) as tf.Tensor;
      assert(!isPacked(ref1));
      const want1 = ref1.dataSync().slice();
      setPacking(true);
      const y1 = conv1.apply(x) as tf.Tensor;
      assert(isPacked(y1), "a fused conv layer's output is not packed");
      const flat = tf.reshape(y1, [-1]);
      assert(isPacked(flat), "a reshape shares the packed data");
      const y2 = conv2.apply(y1) as tf.Tensor; // reads y1 as it is
      assert(isPacked(y1) && isPacked(y2), "the next conv layer expanded its input");
      // wasm's Sigmoid reads float32: y1 is expanded first, in place, into its bf16 values
      const sig = tf.sigmoid(y1);
      assert(!isPacked(y1) && !isPacked(flat), "Sigmoid read y1 packed");
      const got1 = y1.dataSync() as Float32Array;
      assert(allBf16(got1), "the expanded values are not bf16 values");
      for (let i = 0; i < want1.length; i++) {
        // the float32 output rounded to bf16: within half a bf16 ulp (2^-8 relative)
        const d = Math.abs(got1[i] - want1[i]);
        assert(d <= 2 ** -8 * Math.abs(want1[i]) + 1e-30, `y1[${i}]: ${got1[i]} vs ${want1[i]}`);
      }
      assert.deepStrictEqual(flat.dataSync(), got1, "the reshape reads other values");
      const wantSig = tf.tidy(() => tf.sigmoid(tf.tensor(got1, y1.shape)).dataSync());
      assert.deepStrictEqual(sig.dataSync(), wantSig, "Sigmoid of the expanded values");
      // a native element-wise kernel (Add) and async reads expand too
      const y2vals = await y2.data();
      assert(allBf16(y2vals as Float32Array) && !isPacked(y2));
      const y1b = conv1.apply(x) as tf.Tensor;
      const y3 = conv2.apply(y1b) as tf.Tensor;
      assert(isPacked(y3));
      const plus = tf.add(y3, 1);
      assert(!isPacked(y3));
      assert.deepStrictEqual(y3.dataSync(), y2vals, "the same layers, other values");
      const wantPlus = Float32Array.from(y2vals as Float32Array, (v) => Math.fround(v + 1));
      assert.deepStrictEqual(plus.dataSync(), wantPlus, "Add of the expanded values");
      // the next layer's input was y1's bf16 values either way: a conv of the expanded y1
      // gives y2's values exactly
      const got1t = tf.tensor(got1, y1.shape);
      const again = conv2.apply(got1t) as tf.Tensor;
      assert.deepStrictEqual(again.dataSync(), y2vals, "a packed input read other values");
      // a packed tensor left over when the precision goes back to fp32 is expanded before use
      const y4 = conv1.apply(x) as tf.Tensor;
      setNativePrecision("fp32");
      assert(!packingOn() && isPacked(y4));
      const fp = conv2.apply(y4) as tf.Tensor;
      assert(!isPacked(y4) && !isPacked(fp));
      const y4t = tf.tensor(y4.dataSync(), y4.shape);
      const fpWant = conv2.apply(y4t) as tf.Tensor;
      assert.deepStrictEqual(fp.dataSync(), fpWant.dataSync());
      tf.dispose([ref1, y1, flat, y2, sig, y1b, y3, plus, got1t, again, y4, fp, y4t, fpWant]);
      assert.strictEqual(tf.memory().numTensors, start, "tensors left");
    } finally {
      setNativePrecision("fp32");
      x.dispose();
      for (const w of [...conv1.weights, ...conv2.weights]) w.dispose();
    }
  },
});

Deno.test({
  name: "bf16: a packed tensor expands in place at any size (the shim's cd_bf16_expand)",
  ignore,
  fn: async () => {
    await ensureNative();
    await tf.setBackend("native");
    setNativePrecision("bf16");
    try {
      const b = tf.backend() as unknown as PackedHost;
      for (const n of [1, 2, 3, 4095, 4096, 4097, 8195, 65537, 100003]) {
        const t = tf.zeros([n]);
        // bf16 values 1, 2, ... (exact up to 256, then rounded) in the first half of the buffer
        const off = b.dataIdMap.get(t.dataId)!.memoryOffset;
        const bits = new Uint16Array(b.wasm.HEAPU8.buffer, off, n);
        const want = new Float32Array(n);
        const u = new Uint32Array(want.buffer);
        for (let i = 0; i < n; i++) {
          bits[i] = (new Uint32Array(Float32Array.of(i + 1 - n / 2).buffer)[0] >>> 16) & 0xffff;
          u[i] = bits[i] << 16;
        }
        markPacked(t);
        assert.deepStrictEqual(t.dataSync(), want, `n = ${n}`);
        assert(!isPacked(t));
        t.dispose();
      }
    } finally {
      setNativePrecision("fp32");
    }
  },
});

Deno.test({
  name: "bf16: training with packed activations matches float32 activations within bf16 " +
    "rounding, no tensor or oneDNN object left",
  ignore,
  fn: async () => {
    await ensureNative();
    await tf.setBackend("native");
    const SIZE = 12, BATCH = 4, CLASSES = 5;
    const { x, labels } = seededBatch(9, BATCH, SIZE, CLASSES);
    // the book's blocks: conv-conv-pool, conv-conv, global average pool, dense, softmax
    const grads = (packed: boolean) => {
      setPacking(packed);
      const m = seededConvnet(
        SIZE,
        [
          { filters: 16 },
          { filters: 16, poolAfter: true },
          { filters: 32 },
          { filters: 32 },
        ],
        "gap",
        CLASSES,
        { seed: 3 },
      );
      const before = tf.memory().numTensors;
      const { value, grads } = tf.variableGrads(() =>
        tf.losses.softmaxCrossEntropy(tf.oneHot(labels, CLASSES), m.apply(x) as tf.Tensor)
      );
      const out = [value.dataSync()[0], ...m.trainableWeights.map((w) => grads[w.originalName])]
        .map((g) => typeof g === "number" ? Float32Array.of(g) : g.dataSync().slice());
      tf.dispose([value, ...Object.values(grads)]);
      assert.strictEqual(tf.memory().numTensors, before, "tensors left by a step");
      m.dispose();
      return out;
    };
    setNativePrecision("bf16");
    try {
      if (!packingOn()) return;
      const counts = () => kernelCounts["ConvdeckReluMaxPoolGrad"]?.native ?? 0;
      const pools = counts();
      const on = grads(true);
      assert(counts() > pools, "the ReLU max pool's gradient did not run");
      const off = grads(false);
      for (let i = 0; i < on.length; i++) {
        let d2 = 0, n2 = 0;
        for (let j = 0; j < on[i].length; j++) {
          d2 += (on[i][j] - off[i][j]) ** 2;
          n2 += off[i][j] ** 2;
        }
        // the same bf16 convolutions on the same bf16 inputs; what differs is the last conv's
        // output rounded to bf16 before the average pool, and the gradients rounded to bf16
        // one kernel earlier (their order of rounding against the masks and max pools)
        const rel = Math.sqrt(d2 / Math.max(n2, 1e-30));
        assert(rel < 1e-2, `gradient ${i}: packed vs float32 activations: ${rel} (L2, relative)`);
      }
      assert.strictEqual(nativeCacheStats().liveObjects, 0, "oneDNN memory objects leaked");
    } finally {
      setNativePrecision("fp32");
      tf.dispose([x, labels]);
    }
  },
});

Deno.test({
  name: "bf16 on a CPU without native bf16: a clear error naming the instruction set; auto: fp32",
  ignore: !NATIVE.ok,
  fn: async () => {
    // oneDNN honours DNNL_MAX_CPU_ISA: a child capped at AVX-512 (no BF16) stands for such a CPU.
    const code = `
      import { registerNativeBackend, setNativePrecision, nativeBf16Support } from
        "${new URL("../core/backend/native/register.ts", import.meta.url).href}";
      import { applyPrecision } from
        "${new URL("../core/backend/select.ts", import.meta.url).href}";
      await registerNativeBackend();
      console.log(JSON.stringify(nativeBf16Support()));
      console.log("auto -> " + JSON.stringify(applyPrecision("auto", "native")));
      try { setNativePrecision("bf16"); console.log("no error"); }
      catch (e) { console.log(e.message); }
    `;
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["eval", "--quiet", code],
      env: { DNNL_MAX_CPU_ISA: "AVX512_CORE" },
      stdout: "piped",
      stderr: "piped",
    }).output();
    const text = new TextDecoder().decode(out.stdout);
    assert(text.includes('"ok":false'), text + new TextDecoder().decode(out.stderr));
    assert(/AVX512-BF16.*AMX/.test(text), `no instruction set named: ${text}`);
    assert(!text.includes("no error"), text);
    assert.match(text, /auto -> \{"precision":"fp32","reason":"auto: no native bf16 on this CPU/);
  },
});
