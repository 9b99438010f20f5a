/**
 * Filter patterns at scale (`deno task bench --only patterns`, or `deno run -A
 * tests/bench/patterns.ts [--sizes 64,224] [--backend native] [--filters 16] [--steps 40]`):
 * the time to compute the patterns of 16 filters of every conv layer of the book's model
 * (seeded weights), per layer and in all, at each input size. The goal: under a minute at
 * 64x64 on native. Not a timed test: figures depend on the machine and its load, which is
 * printed beside them.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs-core";
import { parseArgs } from "node:util";
import { cpuUsage } from "node:process";
import { type BackendName, initBackend } from "../../core/backend/select.ts";
import { bookConvnet } from "../../core/models/book_convnet.ts";
import { convLayers } from "../../core/viz/grad_cam.ts";
import { filterPatterns } from "../../core/viz/patterns.ts";

function loadAverage(): string {
  try {
    return Deno.readTextFileSync("/proc/loadavg").split(" ").slice(0, 3).join(" ");
  } catch {
    return "unknown";
  }
}

/** Times the patterns of `filters` filters of every conv layer of the book's model per size. */
export async function benchPatterns(
  options: { sizes?: number[]; backend?: BackendName; filters?: number; steps?: number } = {},
): Promise<void> {
  const choice = await initBackend(options.backend ?? "auto", { log: () => {} });
  const filters = Array.from({ length: options.filters ?? 16 }, (_, i) => i);
  const steps = options.steps ?? 40;
  for (const size of options.sizes ?? [64, 224]) {
    const model = bookConvnet([size, size, 3], 20, { seed: 1 });
    const before = tf.memory().numTensors;
    const load = loadAverage();
    const cpu0 = cpuUsage();
    const t0 = performance.now();
    console.log(`patterns: book convnet ${size}x${size}x3 on ${choice.name}, per layer:`);
    for (const layer of convLayers(model)) {
      const t = performance.now();
      const r = await filterPatterns(model, layer.name, { filters, steps });
      const gain = r.patterns.filter((p) => p.activation > p.start).length;
      console.log(
        `  ${layer.name.padEnd(9)} ${((performance.now() - t) / 1000).toFixed(1).padStart(6)} s` +
          `  (${gain}/${filters.length} filters raised above their noise start)`,
      );
    }
    const total = (performance.now() - t0) / 1000;
    const cpu = cpuUsage(cpu0);
    const cpuSeconds = (cpu.user + cpu.system) / 1e6;
    console.log(
      `patterns: book convnet ${size}x${size}x3, ${filters.length} filters x ${
        convLayers(model).length
      } conv layers, ${steps} steps, ${choice.name}: ${total.toFixed(1)} s in all, ` +
        `${cpuSeconds.toFixed(1)} s of CPU (load average before ${load}, after ${loadAverage()})`,
    );
    if (tf.memory().numTensors !== before) {
      console.log(`  LEAK: ${tf.memory().numTensors - before} tensors left`);
    }
    model.dispose();
  }
}

if (import.meta.main) {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      sizes: { type: "string" },
      backend: { type: "string" },
      filters: { type: "string" },
      steps: { type: "string" },
    },
  });
  await benchPatterns({
    sizes: values.sizes?.split(",").map(Number),
    backend: values.backend as BackendName | undefined,
    filters: values.filters === undefined ? undefined : Number(values.filters),
    steps: values.steps === undefined ? undefined : Number(values.steps),
  });
  Deno.exit(0);
}
