/**
 * Training-throughput measurement of the book's model on the current tfjs backend, through the
 * trainer's own `trainStep` (so the benchmark measures exactly the training hot path).
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs-core";
import { trainStep } from "../../core/train_step.ts";
import { bookConvnet, MIN_VALID_SIZE } from "./train_model.ts";

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
}

/** Result of one case. */
export interface TrainResult extends TrainCase {
  /** Median milliseconds per step. */
  msPerStep: number;
  /** Training images per second (batch / median step time). */
  imagesPerSec: number;
  /** Bytes of the wasm heap after the case (the heap never shrinks: peak so far), wasm only. */
  wasmHeapBytes?: number;
}

/** Padding used for the book's model at `size`: Keras's 'valid' when it fits, else 'same'. */
export function paddingFor(size: number): "valid" | "same" {
  return size >= MIN_VALID_SIZE ? "valid" : "same";
}

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
 * Trains the book's model (20 classes, Adam 1e-3) on random data for `warmup + steps` steps
 * with the current backend and returns the median throughput. Leaves no tensors behind.
 *
 * @example
 * ```ts
 * const r = await benchTrainCase({ size: 64, batch: 32, steps: 3, warmup: 1 });
 * console.log(r.imagesPerSec);
 * ```
 */
export async function benchTrainCase(c: TrainCase): Promise<TrainResult> {
  const numClasses = 20;
  const model = bookConvnet(c.size, numClasses, { seed: 1, padding: paddingFor(c.size) });
  const optimizer = tf.train.adam(1e-3);
  const x = tf.randomUniform([c.batch, c.size, c.size, 3], 0, 1, "float32", 7);
  const labels = tf.tensor1d(
    Array.from({ length: c.batch }, (_, i) => i % numClasses),
    "int32",
  );
  const times: number[] = [];
  try {
    for (let i = 0; i < c.warmup + c.steps; i++) {
      const t0 = performance.now();
      await trainStep(model, optimizer, x, labels, numClasses);
      if (i >= c.warmup) times.push(performance.now() - t0);
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
    wasmHeapBytes: wasmHeapBytes(),
  };
}
