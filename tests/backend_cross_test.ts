/**
 * Correctness across backends: the same seeded tiny training run (trainStep, Adam) on cpu, wasm
 * and webgpu gives the same losses within a stated tolerance. WebGPU uses whatever adapter the
 * runtime offers (a software one in CI); the test says so and skips it when there is none.
 */
import * as tf from "@tensorflow/tfjs-core";
import * as tfl from "@tensorflow/tfjs-layers";
import assert from "node:assert/strict";
import { type BackendName, initBackend } from "../core/backend/select.ts";
import { trainStep } from "../core/train/train_step.ts";
import { probeGpu } from "../core/backend/probe.ts";
import { colourBatch } from "./backend_util.ts";

/** Max relative difference of each step's loss from cpu's. */
const LOSS_REL_TOL = 1e-4;

function tinyConvnet(): tfl.Sequential {
  const seed = (i: number) => tfl.initializers.glorotUniform({ seed: 100 + i });
  return tfl.sequential({
    layers: [
      tfl.layers.conv2d({
        inputShape: [8, 8, 3],
        filters: 4,
        kernelSize: 3,
        activation: "relu",
        kernelInitializer: seed(0),
      }),
      tfl.layers.maxPooling2d({ poolSize: 2 }),
      tfl.layers.conv2d({
        filters: 6,
        kernelSize: 2,
        strides: 1,
        padding: "same",
        activation: "relu",
        kernelInitializer: seed(1),
      }),
      tfl.layers.globalAveragePooling2d({}),
      tfl.layers.dense({ units: 3, activation: "softmax", kernelInitializer: seed(2) }),
    ],
  });
}

async function losses(backend: BackendName): Promise<number[]> {
  const choice = await initBackend(backend, { log: () => {} });
  assert.equal(choice.name, backend, `could not initialise ${backend}: ${choice.reason}`);
  const model = tinyConvnet();
  const optimizer = tf.train.adam(1e-2);
  const { x, y } = colourBatch(6, 8, 3, 3);
  const out: number[] = [];
  for (let i = 0; i < 4; i++) out.push((await trainStep(model, optimizer, x, y, 3)).loss);
  x.dispose();
  y.dispose();
  optimizer.dispose();
  model.dispose();
  return out;
}

function assertClose(name: string, got: number[], ref: number[]): void {
  const worst = Math.max(...got.map((l, i) => Math.abs(l - ref[i]) / Math.abs(ref[i])));
  console.log(
    `  ${name}: ${got.map((l) => l.toFixed(6)).join(" ")} (max rel diff ${worst.toExponential(1)})`,
  );
  assert(worst <= LOSS_REL_TOL, `${name} losses differ from cpu by ${worst} > ${LOSS_REL_TOL}`);
}

Deno.test("seeded tiny training gives the same losses on cpu, wasm and webgpu", async (t) => {
  const ref = await losses("cpu");
  console.log(`  cpu: ${ref.map((l) => l.toFixed(6)).join(" ")}`);
  assert(ref[3] < ref[0], "the fixture should be learnable");
  await t.step("wasm", async () => assertClose("wasm", await losses("wasm"), ref));
  const gpu = await probeGpu();
  const hasAdapter = gpu.description !== "";
  await t.step({
    name: `webgpu (${hasAdapter ? gpu.description : "no adapter: skipped"})`,
    ignore: !hasAdapter,
    fn: async () => assertClose("webgpu", await losses("webgpu"), ref),
  });
  await initBackend("wasm", { log: () => {} });
});
