/**
 * Registers convdeck's training kernels for tfjs-backend-wasm: the gradients the stock backend
 * lacks and faster replacements for slow ones. Idempotent, and safe to call before or after the
 * wasm backend is initialised.
 *
 * @module
 */
import {
  getKernel,
  type KernelConfig,
  type KernelFunc,
  registerKernel,
  unregisterKernel,
} from "@tensorflow/tfjs-core";
import { conv2DBackpropFilterConfig } from "./conv2d_backprop_filter.ts";
import { conv2DBackpropInputConfig } from "./conv2d_backprop_input.ts";
import { depthwiseBackpropFilterConfig, depthwiseBackpropInputConfig } from "./depthwise_grads.ts";
import { identityConfig } from "./identity.ts";
import { maxPoolGradConfig } from "./max_pool_grad.ts";
import { reluGradWasmConfig } from "../relu_grad.ts";
import { sumOverStock } from "./sum.ts";
import { conv2DOverStock } from "./conv2d.ts";
import { wasmAdamConfig } from "./adam.ts";
import { installFusedAdam } from "../fused_adam.ts";

/** Every kernel config this module registers for the `wasm` backend, in registration order. */
export const wasmTrainingKernels: readonly KernelConfig[] = [
  conv2DBackpropFilterConfig,
  conv2DBackpropInputConfig,
  depthwiseBackpropInputConfig,
  depthwiseBackpropFilterConfig,
  identityConfig,
  maxPoolGradConfig,
  reluGradWasmConfig,
  wasmAdamConfig,
];

const registered = new Set<KernelConfig>();

/**
 * Registers (over tfjs's own where one exists) every kernel of {@linkcode wasmTrainingKernels}
 * for the `wasm` backend, plus a `Sum` and a `Conv2D` with fast paths over tfjs's own (see
 * ./sum.ts and ./conv2d.ts). Calling
 * it again does nothing. The kernels use tfjs-backend-wasm's heap
 * and XNNPACK, so they only serve the `wasm` backend.
 *
 * @example
 * ```ts
 * import { registerWasmTrainingKernels } from "./register.ts";
 * registerWasmTrainingKernels();
 * ```
 */
export function registerWasmTrainingKernels(): void {
  for (const config of wasmTrainingKernels) {
    if (registered.has(config)) continue;
    if (getKernel(config.kernelName, config.backendName) !== undefined) {
      unregisterKernel(config.kernelName, config.backendName);
    }
    registerKernel(config);
    registered.add(config);
  }
  for (const [name, overStock] of stockWrappers) {
    if (wrapped.has(name)) continue;
    const stock = getKernel(name, "wasm"); // must be read before it is replaced
    if (stock === undefined) continue;
    unregisterKernel(name, "wasm");
    registerKernel({
      kernelName: name,
      backendName: "wasm",
      setupFunc: stock.setupFunc,
      kernelFunc: overStock(stock),
    });
    wrapped.add(name);
  }
  installFusedAdam("wasm");
}

/** Kernels that replace tfjs's own on a fast path and call it (`stock`) elsewhere. */
const stockWrappers: [string, (stock: KernelConfig) => KernelFunc][] = [
  ["Sum", sumOverStock],
  ["Conv2D", conv2DOverStock],
];
const wrapped = new Set<string>();
