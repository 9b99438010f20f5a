/**
 * Adam in one kernel call per step. tfjs's `AdamOptimizer.applyGradients` issues about ten
 * kernels per variable (about 190 for the book's model), each a pass over the weights; on the
 * `native` and `wasm` backends this replaces them with one kernel, `ConvdeckAdam`, that updates
 * every variable, both moments and both beta powers in a single pass, with the same float32
 * operations in the same order (so the same numbers as tfjs, to the bit). Each backend supplies
 * the loop ({@linkcode AdamRunner}): native's shim (`cd_adam`), wasm's SIMD module (`adam`).
 *
 * The optimizer stays a plain `tf.AdamOptimizer`: the moments are its own
 * `accumulatedFirstMoment` / `accumulatedSecondMoment` variables and the beta powers its
 * `accBeta1` / `accBeta2`, assigned the kernel's outputs just as tfjs assigns its own, so
 * `getWeights` / `setWeights` (and convdeck's saveOptimizer / loadOptimizer) see what they
 * always saw. Any case the kernel does not cover (another backend, a first step that creates
 * the moments, a non-float32 variable) runs tfjs's own code.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs-core";
import { offsetOf } from "./wasm/heap.ts";

/** The parts of a wasm-heap backend (wasm, and native, which shares its heap) the kernel uses. */
export interface HeapBackend extends tf.KernelBackend {
  dataIdMap: { get(dataId: tf.DataId): { memoryOffset: number } };
  incRef(dataId: tf.DataId): void;
  refCount(dataId: tf.DataId): number;
  makeOutput(shape: number[], dtype: tf.DataType): tf.TensorInfo;
}

/**
 * Runs the update: `p` = [learning rate, beta1, beta2, epsilon, 1 - beta1, 1 - beta2, count],
 * `o` = [acc1, acc2, new acc1, new acc2, then per variable w, g, m, v, new w, new m, new v,
 * size] as heap byte offsets (see `cd_adam` in native/shim.c). Throws on failure.
 */
export type AdamRunner = (backend: HeapBackend, p: Float64Array, o: Float64Array) => void;

/** Kernel name of the fused Adam step. */
export const ADAM_KERNEL = "ConvdeckAdam";

type NamedTensor = { name: string; tensor: tf.Tensor };

type Slot = { originalName: string; variable: tf.Variable };

/** The parts of tfjs's `AdamOptimizer` the fused step reads and writes. */
interface AdamInternals {
  learningRate: number;
  beta1: number;
  beta2: number;
  epsilon: number;
  accBeta1: tf.Variable;
  accBeta2: tf.Variable;
  accumulatedFirstMoment: Slot[];
  accumulatedSecondMoment: Slot[];
  incrementIterations(): void;
}

type ApplyGradients = (
  this: tf.AdamOptimizer,
  variableGradients: tf.NamedTensorMap | NamedTensor[],
) => void;

type AdamArgs = {
  inputs: Record<string, tf.TensorInfo>;
  backend: HeapBackend;
  attrs: { learningRate: number; beta1: number; beta2: number; epsilon: number; count: number };
};

/**
 * The `ConvdeckAdam` kernel for `backendName`. Inputs: `acc1`, `acc2` (the beta powers) and,
 * for each variable i, `w{i}`, `g{i}`, `m{i}`, `v{i}`. Outputs: the new `acc1`, `acc2`, then
 * for each variable the new value, first moment and second moment. With `inPlace`, a variable
 * that alone holds its data is updated in place; leave it off where kernels cache something
 * derived from a tensor's data by its id (tfjs-backend-wasm's XNNPACK operators keep packed
 * weights keyed by the weight tensor, so an in-place update there would go unseen).
 */
export function adamKernelConfig(
  run: AdamRunner,
  backendName: string,
  inPlace: boolean,
): tf.KernelConfig {
  return {
    kernelName: ADAM_KERNEL,
    backendName,
    kernelFunc: ((args: AdamArgs) => {
      const { inputs, backend: b, attrs: a } = args;
      const off = (t: tf.TensorInfo) => offsetOf(b, t);
      const outs: tf.TensorInfo[] = [
        b.makeOutput([], "float32"),
        b.makeOutput([], "float32"),
      ];
      const o = new Float64Array(4 + 8 * a.count);
      o[0] = off(inputs.acc1);
      o[1] = off(inputs.acc2);
      o[2] = off(outs[0]);
      o[3] = off(outs[1]);
      for (let i = 0; i < a.count; i++) {
        const w = inputs[`w${i}`];
        const state = [w, inputs[`m${i}`], inputs[`v${i}`]];
        // Updated in place when the variable is the only holder of its data (no snapshot or
        // saved tensor shares it): the result shares the input's data, as Identity does, and
        // the update writes no second copy of every weight and moment.
        const news = state.map((t) => {
          if (!inPlace || b.refCount(t.dataId) !== 1) return b.makeOutput(w.shape, "float32");
          b.incRef(t.dataId);
          inPlaceUpdates++;
          return { dataId: t.dataId, shape: t.shape, dtype: t.dtype };
        });
        outs.push(...news);
        const k = 4 + 8 * i;
        o[k] = off(w);
        o[k + 1] = off(inputs[`g${i}`]);
        o[k + 2] = off(state[1]);
        o[k + 3] = off(state[2]);
        o[k + 4] = off(news[0]);
        o[k + 5] = off(news[1]);
        o[k + 6] = off(news[2]);
        o[k + 7] = tf.util.sizeFromShape(w.shape);
      }
      const p = new Float64Array([
        a.learningRate,
        a.beta1,
        a.beta2,
        a.epsilon,
        1 - a.beta1,
        1 - a.beta2,
        a.count,
      ]);
      run(b, p, o);
      return outs;
    }) as unknown as tf.KernelFunc,
  };
}

/** Runs one fused step; false (having changed nothing) when the kernel does not apply. */
function fusedStep(
  opt: AdamInternals,
  variableGradients: tf.NamedTensorMap | NamedTensor[],
): boolean {
  const names = Array.isArray(variableGradients)
    ? variableGradients.map((v) => v.name)
    : Object.keys(variableGradients);
  const registered = tf.engine().registeredVariables;
  const inputs: tf.NamedTensorMap = { acc1: opt.accBeta1, acc2: opt.accBeta2 };
  const targets: { w: tf.Variable; m: tf.Variable; v: tf.Variable }[] = [];
  const f32 = (t: tf.Tensor | undefined) => t !== undefined && t.dtype === "float32";
  for (const [i, name] of names.entries()) {
    const m = opt.accumulatedFirstMoment[i]?.variable;
    const v = opt.accumulatedSecondMoment[i]?.variable;
    if (m === undefined || v === undefined) return false; // first step: tfjs creates them
    const g = Array.isArray(variableGradients)
      ? variableGradients[i].tensor
      : variableGradients[name];
    if (g == null) continue; // as tfjs: no gradient, no update
    const w = registered[name];
    if (!f32(w) || !f32(g) || !f32(m) || !f32(v) || w.size === 0) return false;
    if (![g, m, v].every((t) => tf.util.arraysEqual(t.shape, w.shape))) return false;
    const j = targets.length;
    inputs[`w${j}`] = w;
    inputs[`g${j}`] = g;
    inputs[`m${j}`] = m;
    inputs[`v${j}`] = v;
    targets.push({ w, m, v });
  }
  if (!f32(opt.accBeta1) || !f32(opt.accBeta2)) return false;
  tf.tidy(() => {
    const out = tf.engine().runKernel(ADAM_KERNEL, inputs, {
      learningRate: opt.learningRate,
      beta1: opt.beta1,
      beta2: opt.beta2,
      epsilon: opt.epsilon,
      count: targets.length,
    }) as tf.Tensor[];
    opt.accBeta1.assign(out[0]);
    opt.accBeta2.assign(out[1]);
    for (const [j, t] of targets.entries()) {
      t.w.assign(out[2 + 3 * j]);
      t.m.assign(out[3 + 3 * j]);
      t.v.assign(out[4 + 3 * j]);
    }
  });
  opt.incrementIterations();
  fusedSteps++;
  return true;
}

let fusedSteps = 0;
let inPlaceUpdates = 0;

/**
 * How many weights and moments the fused Adam kernel updated in place in this process (tests
 * check that an exclusively held variable is, and a shared one is not).
 */
export function inPlaceAdamUpdates(): number {
  return inPlaceUpdates;
}

/** How many Adam steps ran fused in this process (tests check the fused path ran). */
export function fusedAdamSteps(): number {
  return fusedSteps;
}

let original: ApplyGradients | undefined;
const fusedBackends = new Set<string>();

/**
 * Makes every `tf.AdamOptimizer` take the fused step while `backendName` (or another backend
 * installed here) is the active backend and has the kernel (idempotent). Other backends keep
 * tfjs's code.
 */
export function installFusedAdam(backendName: string): void {
  fusedBackends.add(backendName);
  if (original !== undefined) return;
  const proto = tf.AdamOptimizer.prototype as unknown as { applyGradients: ApplyGradients };
  const tfjs = proto.applyGradients;
  original = tfjs;
  proto.applyGradients = function (this: tf.AdamOptimizer, variableGradients) {
    const backend = tf.getBackend();
    if (
      fusedBackends.has(backend) && tf.getKernel(ADAM_KERNEL, backend) !== undefined &&
      fusedStep(this as unknown as AdamInternals, variableGradients)
    ) {
      return;
    }
    tfjs.call(this, variableGradients);
  };
}

/** Restores tfjs's own `AdamOptimizer.applyGradients` (for tests comparing the two). */
export function uninstallFusedAdam(): void {
  if (original === undefined) return;
  (tf.AdamOptimizer.prototype as unknown as { applyGradients: ApplyGradients }).applyGradients =
    original;
  original = undefined;
}
