/**
 * A seeded tiny training run (core/train/train_step.ts `trainStep`, Adam) gives the same losses on
 * `native` as on `cpu`, and as on `wasm` when wasm can train convolutions (it needs the
 * Conv2DBackpropFilter kernel that core/backend registers).
 */
import * as tf from "@tensorflow/tfjs-core";
import * as tfl from "@tensorflow/tfjs-layers";
import assert from "node:assert";
import { trainStep } from "../core/train/train_step.ts";
import { registerWasmTrainingKernels } from "../core/backend/wasm/register.ts";
import { kernelCounts } from "../core/backend/native/kernels.ts";
import { ensureNative, NATIVE, rng } from "./native_helpers.ts";

const SIZE = 16, BATCH = 8, CLASSES = 5, STEPS = 5;
/** Largest tolerated relative difference of a step's loss between backends. */
const LOSS_TOL = 1e-4;

function tinyModel(): tfl.Sequential {
  let seed = 1;
  const init = () => tfl.initializers.glorotUniform({ seed: seed++ });
  const m = tfl.sequential();
  m.add(tfl.layers.conv2d({
    filters: 16,
    kernelSize: 3,
    activation: "relu",
    padding: "same",
    inputShape: [SIZE, SIZE, 3],
    kernelInitializer: init(),
  }));
  m.add(
    tfl.layers.conv2d({
      filters: 16,
      kernelSize: 3,
      activation: "relu",
      kernelInitializer: init(),
    }),
  );
  m.add(tfl.layers.maxPooling2d({ poolSize: 2 }));
  m.add(
    tfl.layers.conv2d({ filters: 8, kernelSize: 3, activation: "relu", kernelInitializer: init() }),
  );
  m.add(tfl.layers.globalAveragePooling2d({}));
  m.add(tfl.layers.dense({ units: CLASSES, activation: "softmax", kernelInitializer: init() }));
  return m;
}

async function losses(backend: string): Promise<number[]> {
  await tf.setBackend(backend);
  const r = rng(3);
  const xs = Float32Array.from({ length: BATCH * SIZE * SIZE * 3 }, () => r());
  const ys = Int32Array.from({ length: BATCH }, (_, i) => i % CLASSES);
  const model = tinyModel();
  const opt = tf.train.adam(1e-2);
  const x = tf.tensor4d(xs, [BATCH, SIZE, SIZE, 3]);
  const y = tf.tensor1d(ys, "int32");
  const out: number[] = [];
  for (let i = 0; i < STEPS; i++) out.push((await trainStep(model, opt, x, y, CLASSES)).loss);
  x.dispose();
  y.dispose();
  opt.dispose();
  model.dispose();
  return out;
}

function assertClose(got: number[], want: number[], label: string): void {
  const worst = Math.max(...got.map((g, i) => Math.abs(g - want[i]) / Math.abs(want[i])));
  console.log(`${label}: worst relative loss difference ${worst.toExponential(2)}`);
  assert.ok(worst <= LOSS_TOL, `${label}: losses ${got} vs ${want} (relative ${worst})`);
}

Deno.test({
  name: "native training run matches cpu and wasm within 1e-4",
  ignore: !NATIVE.ok,
  fn: async () => {
    await ensureNative();
    // The conv layers' gradients run in one native kernel (core/backend/native/conv_layer.ts).
    const before = kernelCounts.ConvdeckConv2DGrad?.native ?? 0;
    const native = await losses("native");
    assert.ok((kernelCounts.ConvdeckConv2DGrad?.native ?? 0) > before, "oneDNN not used");
    assert.ok(native[STEPS - 1] < native[0], `loss did not decrease: ${native}`);
    assertClose(native, await losses("cpu"), "native vs cpu");
    registerWasmTrainingKernels(); // convdeck's wasm gradient kernels, as initBackend does
    assertClose(native, await losses("wasm"), "native vs wasm");
  },
});
