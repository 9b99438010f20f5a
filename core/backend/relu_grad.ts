/**
 * A leaner gradient for `Relu`. tfjs's own saves the Relu *input* and computes
 * `dy * cast(step(x))` with three kernels and three full-size temporaries. This one saves the
 * *output* instead (`y > 0` exactly where `x > 0`), which the next layer keeps anyway, so the
 * pre-activation tensor is freed after the forward pass: one activation-sized tensor less per
 * conv layer, about a third of a convnet's training memory. On wasm the gradient is a single
 * kernel (`ConvdeckReluGrad`); elsewhere it uses tfjs ops.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs-core";
import type { KernelConfig, KernelFunc, TensorInfo } from "@tensorflow/tfjs-core";
import { heapF32, offsetOf, type WasmBackend } from "./wasm/heap.ts";
import { simdPool } from "./wasm/simd_pool.ts";

/** Kernel name of the fused Relu gradient (`dy` where `y > 0`, else 0). */
export const RELU_GRAD = "ConvdeckReluGrad";

function reluGradWasm(args: { inputs: { dy: TensorInfo; y: TensorInfo }; backend: WasmBackend }) {
  const { inputs: { dy, y }, backend } = args;
  const out = backend.makeOutput(dy.shape, "float32");
  const n = dy.shape.reduce((a, b) => a * b, 1);
  const pool = simdPool(backend);
  if (pool !== undefined) {
    // Split across the pool's threads in ranges of whole cache lines.
    pool.run("relu_grad", {
      args: [offsetOf(backend, out), offsetOf(backend, dy), offsetOf(backend, y), 0, n],
      range: [3, 4],
      align: 16,
      pieces: 2 * pool.parts,
    });
    return out;
  }
  const heap = heapF32(backend);
  const d = offsetOf(backend, dy) / 4, v = offsetOf(backend, y) / 4, o = offsetOf(backend, out) / 4;
  for (let i = 0; i < n; i++) heap[o + i] = heap[v + i] > 0 ? heap[d + i] : 0;
  return out;
}

/** Kernel config of {@linkcode RELU_GRAD} for the wasm backend. */
export const reluGradWasmConfig: KernelConfig = {
  kernelName: RELU_GRAD,
  backendName: "wasm",
  kernelFunc: reluGradWasm as unknown as KernelFunc,
};

/** `dy` where `y > 0`, else 0, on the current backend. */
export function reluGrad(dy: tf.Tensor, y: tf.Tensor): tf.Tensor {
  if (
    tf.getBackend() === "wasm" && dy.dtype === "float32" && y.dtype === "float32" &&
    tf.getKernel(RELU_GRAD, "wasm") !== undefined
  ) {
    return tf.engine().runKernel(RELU_GRAD, { dy, y }) as tf.Tensor;
  }
  return tf.tidy(() => tf.mul(dy, tf.cast(tf.step(y), "float32")));
}

/** Gradient config replacing tfjs's for `Relu` (saves the output, not the input). */
export const reluGradConfig: tf.GradConfig = {
  kernelName: "Relu",
  outputsToSave: [true],
  gradFunc: (dy, saved) => {
    const [y] = saved;
    return { x: () => reluGrad(dy as tf.Tensor, y) };
  },
};

let registered = false;

/**
 * Replaces tfjs's Relu gradient (the wasm kernel is registered with the other wasm kernels).
 * Idempotent; call after tfjs-layers has registered its gradients (initBackend does).
 */
export function registerReluGradient(): void {
  const current = tf.getGradient("Relu");
  if (registered && current !== undefined && current.outputsToSave?.[0] === true) return;
  tf.registerGradient(reluGradConfig);
  registered = true;
}
