/**
 * Users' own architectures train on wasm too: each layer type beyond the book's model trains
 * for a few steps through `trainStep`, with every gradient kernel present, and (where the model
 * is deterministic) the same losses as the `cpu` backend.
 */
import * as tf from "@tensorflow/tfjs-core";
import * as tfl from "@tensorflow/tfjs-layers";
import assert from "node:assert/strict";
import { initBackend } from "../core/backend/select.ts";
import { trainStep } from "../core/train/train_step.ts";
import { colourBatch } from "./backend_util.ts";

const SIZE = 12;
const CLASSES = 3;
const seed = (i: number) => tfl.initializers.glorotUniform({ seed: 200 + i });
const input = { inputShape: [SIZE, SIZE, 3] };

/** Model builders by name; `deterministic` ones are also compared with cpu. */
const models: { name: string; deterministic: boolean; build: () => tfl.Sequential }[] = [
  {
    name: "BatchNormalization",
    deterministic: true,
    build: () =>
      tfl.sequential({
        layers: [
          tfl.layers.conv2d({ ...input, filters: 6, kernelSize: 3, kernelInitializer: seed(0) }),
          tfl.layers.batchNormalization({}),
          tfl.layers.activation({ activation: "relu" }),
          tfl.layers.globalAveragePooling2d({}),
          tfl.layers.dense({ units: CLASSES, activation: "softmax", kernelInitializer: seed(1) }),
        ],
      }),
  },
  {
    name: "Dropout",
    deterministic: false,
    build: () =>
      tfl.sequential({
        layers: [
          tfl.layers.conv2d({ ...input, filters: 6, kernelSize: 3, activation: "relu" }),
          tfl.layers.dropout({ rate: 0.3 }),
          tfl.layers.flatten({}),
          tfl.layers.dropout({ rate: 0.3 }),
          tfl.layers.dense({ units: CLASSES, activation: "softmax" }),
        ],
      }),
  },
  {
    name: "AveragePooling2D",
    deterministic: true,
    build: () =>
      tfl.sequential({
        layers: [
          tfl.layers.conv2d({
            ...input,
            filters: 6,
            kernelSize: 3,
            activation: "relu",
            kernelInitializer: seed(2),
          }),
          tfl.layers.averagePooling2d({ poolSize: 2 }),
          tfl.layers.averagePooling2d({ poolSize: 3, strides: 2, padding: "same" }),
          tfl.layers.flatten({}),
          tfl.layers.dense({ units: CLASSES, activation: "softmax", kernelInitializer: seed(3) }),
        ],
      }),
  },
  {
    name: "strided convs",
    deterministic: true,
    build: () =>
      tfl.sequential({
        layers: [
          tfl.layers.conv2d({
            ...input,
            filters: 6,
            kernelSize: 3,
            strides: 2,
            padding: "same",
            activation: "relu",
            kernelInitializer: seed(4),
          }),
          tfl.layers.conv2d({
            filters: 8,
            kernelSize: 3,
            strides: 2,
            activation: "relu",
            kernelInitializer: seed(5),
          }),
          tfl.layers.globalMaxPooling2d({}),
          tfl.layers.dense({ units: CLASSES, activation: "softmax", kernelInitializer: seed(6) }),
        ],
      }),
  },
  {
    name: "depthwise and separable convs",
    deterministic: true,
    build: () =>
      tfl.sequential({
        layers: [
          tfl.layers.depthwiseConv2d({
            ...input,
            kernelSize: 3,
            depthMultiplier: 2,
            activation: "relu",
            depthwiseInitializer: seed(7),
          }),
          tfl.layers.separableConv2d({
            filters: 8,
            kernelSize: 3,
            strides: 2,
            padding: "same",
            activation: "relu",
            depthwiseInitializer: seed(8),
            pointwiseInitializer: seed(9),
          }),
          tfl.layers.globalAveragePooling2d({}),
          tfl.layers.dense({ units: CLASSES, activation: "softmax", kernelInitializer: seed(10) }),
        ],
      }),
  },
  {
    name: "Dense only",
    deterministic: true,
    build: () =>
      tfl.sequential({
        layers: [
          tfl.layers.flatten(input),
          tfl.layers.dense({ units: 16, activation: "relu", kernelInitializer: seed(11) }),
          tfl.layers.dense({ units: 16, activation: "tanh", kernelInitializer: seed(12) }),
          tfl.layers.dense({ units: CLASSES, activation: "softmax", kernelInitializer: seed(13) }),
        ],
      }),
  },
];

const STEPS = 5;

async function run(backend: "cpu" | "wasm", build: () => tfl.Sequential): Promise<number[]> {
  await initBackend(backend, { log: () => {} });
  const model = build();
  const optimizer = tf.train.adam(1e-2);
  const { x, y } = colourBatch(6, SIZE, CLASSES, 5);
  const losses: number[] = [];
  for (let i = 0; i < STEPS; i++) {
    losses.push((await trainStep(model, optimizer, x, y, CLASSES)).loss);
  }
  x.dispose();
  y.dispose();
  optimizer.dispose();
  model.dispose();
  return losses;
}

for (const m of models) {
  Deno.test(`${m.name} model trains on wasm`, async () => {
    const wasm = await run("wasm", m.build);
    console.log(`  wasm: ${wasm.map((l) => l.toFixed(5)).join(" ")}`);
    assert(wasm.every(Number.isFinite), `non-finite loss: ${wasm}`);
    assert(wasm[STEPS - 1] < wasm[0], `loss did not go down: ${wasm}`);
    if (m.deterministic) {
      const cpu = await run("cpu", m.build);
      const worst = Math.max(...wasm.map((l, i) => Math.abs(l - cpu[i]) / cpu[i]));
      console.log(
        `  cpu:  ${cpu.map((l) => l.toFixed(5)).join(" ")} (max rel diff ${
          worst.toExponential(1)
        })`,
      );
      assert(worst < 1e-4, `wasm and cpu losses differ by ${worst}`);
    }
  });
}
