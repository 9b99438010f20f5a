/**
 * Training-throughput measurement of the book's model on the current tfjs backend, through the
 * trainer's own `trainStep` (so the benchmark measures exactly the training hot path).
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs-core";
import process from "node:process";
import { trainStep } from "../../core/train/train_step.ts";
import { bookConvnet } from "../../core/models/book_convnet.ts";
import { profileKernels } from "./train_profile.ts";

/** One benchmark case. */
export interface TrainCase {
  /** Input height and width in pixels. */
  size: number;
  /** Images per step. */
  batch: number;
  /** Timed steps (after `warmup` untimed ones). */
  steps: number;
  /** Untimed warm-up steps: V8 runs the first calls of each wasm kernel 2-3x slower. */
  warmup: number;
  /** Input channels (default 3; 1 for the Fashion-MNIST case). */
  channels?: number;
}

/** Result of one case. */
export interface TrainResult extends TrainCase {
  /** Median milliseconds per step. */
  msPerStep: number;
  /** Training images per second (batch / median step time). */
  imagesPerSec: number;
  /**
   * CPU time (user + system, all threads of this process) per timed step, in milliseconds. With
   * one thread it is the step's work, less sensitive to other processes' load than wall time.
   */
  cpuMsPerStep: number;
  /** Bytes of the wasm heap after the case (the heap never shrinks: peak so far), wasm only. */
  wasmHeapBytes?: number;
  /**
   * tfjs kernel calls of one training step (counted on one extra, untimed step by wrapping
   * every kernel registered for the backend), or undefined when not counted.
   */
  kernelCalls?: number;
}

/**
 * Padding of the benchmarked model at every size: 'same', as the book's chapter builds it (and
 * as the PyTorch peer runs it).
 */
export const BENCH_PADDING = "same";

/** Median of a non-empty list. */
export function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/** Current size of the wasm backend's heap in bytes, or undefined on other backends. */
export function wasmHeapBytes(): number | undefined {
  if (tf.getBackend() !== "wasm") return undefined;
  const backend = tf.backend() as unknown as { wasm: { HEAPU8: Uint8Array } };
  return backend.wasm.HEAPU8.buffer.byteLength;
}

/**
 * Trains the book's model ('same' padding, separate softmax layer, 20 classes, Adam 1e-3) on
 * random data for `warmup + steps` steps with the current backend and returns the median
 * throughput; with `countKernels`, also the kernel calls of one more step. Leaves no tensors
 * behind.
 *
 * @example
 * ```ts
 * const r = await benchTrainCase({ size: 64, batch: 32, steps: 3, warmup: 1 });
 * console.log(r.imagesPerSec);
 * ```
 */
export async function benchTrainCase(
  c: TrainCase,
  options: { countKernels?: boolean } = {},
): Promise<TrainResult> {
  const numClasses = 20;
  const channels = c.channels ?? 3;
  const model = bookConvnet([c.size, c.size, channels], numClasses, {
    seed: 1,
    padding: BENCH_PADDING,
  });
  const optimizer = tf.train.adam(1e-3);
  const x = tf.randomUniform([c.batch, c.size, c.size, channels], 0, 1, "float32", 7);
  const labels = tf.tensor1d(
    Array.from({ length: c.batch }, (_, i) => i % numClasses),
    "int32",
  );
  const times: number[] = [];
  let kernelCalls: number | undefined;
  let cpuMs = 0;
  try {
    for (let i = 0; i < c.warmup + c.steps; i++) {
      const cpu0 = process.cpuUsage();
      const t0 = performance.now();
      await trainStep(model, optimizer, x, labels, numClasses);
      if (i >= c.warmup) {
        times.push(performance.now() - t0);
        const cpu = process.cpuUsage(cpu0);
        cpuMs += (cpu.user + cpu.system) / 1000;
      }
    }
    if (options.countKernels) {
      const prof = profileKernels(tf.getBackend());
      try {
        await trainStep(model, optimizer, x, labels, numClasses);
      } finally {
        prof.stop();
      }
      kernelCalls = [...prof.profile.values()].reduce((s, v) => s + v.calls, 0);
    }
  } finally {
    x.dispose();
    labels.dispose();
    optimizer.dispose();
    model.dispose();
  }
  const msPerStep = median(times);
  return {
    ...c,
    msPerStep,
    imagesPerSec: (c.batch * 1000) / msPerStep,
    cpuMsPerStep: cpuMs / c.steps,
    wasmHeapBytes: wasmHeapBytes(),
    kernelCalls,
  };
}
