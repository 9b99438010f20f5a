/**
 * The tensors a kernel's gradient needs later (its "saved" inputs and outputs), kept by sharing
 * their data instead of by an Identity kernel call, on the `native` backend.
 *
 * While recording gradients, tfjs's engine saves each kernel's inputs and outputs that its
 * gradient reads as `keep(clone(t))`, and `clone` runs the Identity kernel through the whole
 * kernel machinery and records a tape node of its own: 48 such calls in a training step of the
 * book's model, about a millisecond of bookkeeping a step on two cores. On `native` (as on
 * `wasm`), Identity shares the data and adds a reference, so the saved tensor is made here
 * directly the same way: a new tensor over the same data, one more reference to it, kept. The
 * tape nodes of those clones never reach the loss (the saved tensors feed only gradient
 * functions), so the gradients are the same to the bit. Other backends keep tfjs's own clone.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs-core";

/** The engine internals this module reads and replaces. */
interface EngineInternals {
  backendName: string;
  backend: { incRef(dataId: tf.DataId): void };
  saveTensorsForBackwardMode(tensors: tf.Tensor[]): tf.Tensor[];
  makeTensorFromTensorInfo(info: tf.TensorInfo): tf.Tensor;
  keep<T extends tf.Tensor>(t: T): T;
}

type Save = EngineInternals["saveTensorsForBackwardMode"];

let original: Save | undefined;
let shared = 0;

/**
 * How many saved tensors were made by sharing data since start (tests check the path ran).
 *
 * @example
 * ```ts
 * import { sharedSavedTensors } from "./saved_tensors.ts";
 * console.log(sharedSavedTensors()); // 0 before any recorded step on native
 * ```
 */
export function sharedSavedTensors(): number {
  return shared;
}

/**
 * Makes the engine save tensors for gradients by sharing their data while `backendName` is the
 * active backend (idempotent).
 *
 * @example
 * ```ts
 * import { installSharedSavedTensors } from "./saved_tensors.ts";
 * installSharedSavedTensors("native");
 * ```
 */
export function installSharedSavedTensors(backendName: string): void {
  if (original !== undefined) return;
  const proto = Object.getPrototypeOf(tf.engine()) as EngineInternals;
  const tfjs = proto.saveTensorsForBackwardMode;
  original = tfjs;
  proto.saveTensorsForBackwardMode = function (this: EngineInternals, tensors) {
    if (this.backendName !== backendName) return tfjs.call(this, tensors);
    const backend = this.backend;
    return tensors.map((t) => {
      backend.incRef(t.dataId);
      shared++;
      return this.keep(this.makeTensorFromTensorInfo(t));
    });
  };
}

/**
 * Restores tfjs's own saving (clones by Identity kernel calls), for tests comparing the two.
 *
 * @example
 * ```ts
 * import { uninstallSharedSavedTensors } from "./saved_tensors.ts";
 * uninstallSharedSavedTensors();
 * ```
 */
export function uninstallSharedSavedTensors(): void {
  if (original === undefined) return;
  (Object.getPrototypeOf(tf.engine()) as EngineInternals).saveTensorsForBackwardMode = original;
  original = undefined;
}
