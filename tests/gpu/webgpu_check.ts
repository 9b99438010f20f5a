/**
 * A GPU-machine check (run by hand where a real GPU is present; not part of `deno task test`):
 * does `auto` pick WebGPU on a real adapter, do WebGPU and cpu agree on a seeded tiny training
 * run, and how fast does the book's model train there.
 *
 * `deno run -A tests/gpu/webgpu_check.ts`
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs-core";
import { initBackend } from "../../core/backend/select.ts";
import { classifyAdapter, probeGpu } from "../../core/backend/probe.ts";
import { bookConvnet } from "../../core/models/book_convnet.ts";
import { smallConvnet } from "../../core/models/small_convnet.ts";
import { withSeededMathRandom } from "../../core/random.ts";
import { trainStep } from "../../core/train/train_step.ts";

const gpu = await probeGpu();
console.log(`probe: ${JSON.stringify(gpu)}`);
const adapter = await (navigator as unknown as { gpu?: { requestAdapter(): Promise<unknown> } })
  .gpu?.requestAdapter();
console.log(`adapter info: ${JSON.stringify((adapter as { info?: unknown })?.info ?? null)}`);
console.log(`classify: ${JSON.stringify(classifyAdapter((adapter as { info?: never })?.info))}`);
const choice = await initBackend("auto", { log: (l) => console.log(l) });
console.log(`auto chose: ${choice.name} (${choice.reason})`);

async function tinyLosses(backend: string): Promise<number[]> {
  await tf.setBackend(backend);
  const model = withSeededMathRandom(7, () => smallConvnet([16, 16, 3], 4, [4, 8, 8]));
  const opt = tf.train.adam(1e-2);
  const x = tf.tensor4d(Float32Array.from({ length: 8 * 16 * 16 * 3 }, (_, i) => Math.sin(i)), [
    8,
    16,
    16,
    3,
  ]);
  const y = tf.tensor1d([0, 1, 2, 3, 0, 1, 2, 3], "int32");
  const out: number[] = [];
  for (let i = 0; i < 5; i++) out.push((await trainStep(model, opt, x, y, 4)).loss);
  tf.dispose([x, y]);
  model.dispose();
  return out;
}
if (choice.name === "webgpu") {
  const g = await tinyLosses("webgpu");
  await initBackend("cpu");
  const c = await tinyLosses("cpu");
  const rel = Math.max(...g.map((v, i) => Math.abs(v - c[i]) / Math.abs(c[i])));
  console.log(
    `tiny run losses webgpu ${g.map((v) => v.toFixed(6))} cpu ${c.map((v) => v.toFixed(6))}`,
  );
  console.log(`max relative difference webgpu vs cpu: ${rel.toExponential(2)}`);
  await tf.setBackend("webgpu");
}
for (
  const [size, batch, steps] of choice.name === "webgpu"
    ? [[32, 32, 6], [64, 32, 6], [224, 16, 4], [224, 32, 4]]
    : []
) {
  const model = bookConvnet([size, size, 3], 20);
  const opt = tf.train.adam(1e-3);
  const x = tf.randomUniform([batch, size, size, 3]);
  const y = tf.tensor1d(Array.from({ length: batch }, (_, i) => i % 20), "int32");
  const times: number[] = [];
  for (let s = 0; s < steps; s++) {
    const t0 = performance.now();
    await trainStep(model, opt, x, y, 20);
    times.push(performance.now() - t0);
  }
  const warm = times.slice(2).sort((a, b) => a - b);
  const ms = warm[Math.floor(warm.length / 2)];
  console.log(
    `${tf.getBackend()} book convnet ${size}x${size} batch ${batch}: ${
      (batch / ms * 1000).toFixed(1)
    } img/s ` +
      `(median step ${ms.toFixed(0)} ms after 2 warm-up; all ${times.map((t) => t.toFixed(0))})`,
  );
  tf.dispose([x, y]);
  model.dispose();
}
