/**
 * bf16 activations against float32 activations in bf16 training on the native backend, in one
 * process: `deno run -A tests/bench/bf16_activations.ts [size=64] [channels=3] [batch=32]
 * [rounds=8]`. The book's model trains with packing (core/backend/native/packed.ts) switched on
 * and off in blocks of four steps (one untimed after each switch), the order alternating from
 * round to round, so that both settings see the same minutes of a noisy machine; prints the
 * median and fastest step of each and their ratio.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs-core";
import "@tensorflow/tfjs-backend-wasm";
import { initBackend } from "../../core/backend/select.ts";
import { bookConvnet } from "../../core/models/book_convnet.ts";
import { trainStep } from "../../core/train/train_step.ts";
import { packingOn, setPacking } from "../../core/backend/native/packed.ts";
import { median } from "./train_bench.ts";

/** Step milliseconds with packing on and off, `rounds` blocks of three timed steps each. */
export async function compareActivations(
  size: number,
  channels: number,
  batch: number,
  rounds: number,
): Promise<{ on: number[]; off: number[] }> {
  const model = bookConvnet([size, size, channels], 20, { seed: 1 });
  const opt = tf.train.adam(1e-3);
  const x = tf.randomUniform([batch, size, size, channels], 0, 1, "float32", 7);
  const labels = tf.tensor1d(Array.from({ length: batch }, (_, i) => i % 20), "int32");
  const times = { on: [] as number[], off: [] as number[] };
  const was = packingOn();
  try {
    for (const on of [true, false, true, false]) {
      setPacking(on);
      await trainStep(model, opt, x, labels, 20);
    }
    for (let r = 0; r < rounds; r++) {
      for (const on of r % 2 ? [true, false] : [false, true]) {
        setPacking(on);
        await trainStep(model, opt, x, labels, 20);
        for (let i = 0; i < 3; i++) {
          const t = performance.now();
          await trainStep(model, opt, x, labels, 20);
          times[on ? "on" : "off"].push(performance.now() - t);
        }
      }
    }
  } finally {
    setPacking(was);
    tf.dispose([x, labels]);
    opt.dispose();
    model.dispose();
  }
  return times;
}

if (import.meta.main) {
  const [size = 64, channels = 3, batch = 32, rounds = 8] = Deno.args.map(Number);
  await initBackend("native", { precision: "bf16" });
  if (!packingOn()) throw new Error("bf16 activations are off (CONVDECK_BF16_ACTIVATIONS=0)");
  const { on, off } = await compareActivations(size, channels, batch, rounds);
  const row = (name: string, t: number[]) =>
    `${name}: median ${median(t).toFixed(1)} ms, fastest ${Math.min(...t).toFixed(1)} ms`;
  console.log(
    `${size}x${size}x${channels} batch ${batch}, bf16, ${on.length} steps each; ` +
      `${row("bf16 activations", on)}; ${row("float32 activations", off)}; ` +
      `float32 / bf16 ${(median(off) / median(on)).toFixed(3)}x`,
  );
}
