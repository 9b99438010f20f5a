/**
 * `Identity` for tfjs-backend-wasm that shares the input's memory (reference count) instead of
 * copying it, as the cpu backend does. tfjs clones every tensor it saves for backprop through
 * `Identity`, so the stock copying kernel doubles the activations a training step keeps (and
 * spends time copying them). Tensors are immutable (Variable.assign swaps the data id), so
 * sharing is safe.
 *
 * @module
 */
import type { KernelConfig, KernelFunc, TensorInfo } from "@tensorflow/tfjs-core";
import type { WasmBackend } from "./heap.ts";

function identity(args: { inputs: { x: TensorInfo }; backend: WasmBackend }): TensorInfo {
  const { inputs: { x }, backend } = args;
  backend.incRef(x.dataId);
  return { dataId: x.dataId, shape: x.shape, dtype: x.dtype };
}

/** Kernel config of the sharing `Identity` for the wasm backend. */
export const identityConfig: KernelConfig = {
  kernelName: "Identity",
  backendName: "wasm",
  kernelFunc: identity as unknown as KernelFunc,
};
