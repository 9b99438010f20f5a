/**
 * Convolution layers in three kernel calls per training step on the `native` backend: one for
 * the forward pass (convolution + bias + ReLU, one oneDNN primitive with a ReLU post-op), one
 * for the weight and bias gradients (ReLU mask, then one oneDNN primitive for both) and, when
 * the input's gradient is wanted (every layer but the first), one for it.
 *
 * tfjs-layers' Conv2D runs `tf.fused.conv2d`, which fuses only outside training: while
 * gradients are recorded it runs Conv2D, Add (bias) and Relu, and their gradients (about ten
 * kernels per layer). Here the layer's `call` runs the `ConvdeckConv2D` kernel instead whenever
 * the active backend is `native` and the layer is a 2-D, channels-last convolution with a ReLU
 * or linear activation whose geometry oneDNN takes; everything else (other backends, other
 * activations, channels-first) runs tfjs-layers' own code.
 *
 * In bf16 precision the three kernels read and write packed (bf16) activations and output
 * gradients (./packed.ts): the forward writes y in bf16 and reads a packed x as it is, the
 * input gradient writes dx in bf16.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs-core";
import * as tfl from "@tensorflow/tfjs-layers";
import type { NativeLib } from "./ffi.ts";
import { lastError } from "./ffi.ts";
import {
  type Args,
  convFits,
  convForward,
  convParams,
  countKernel,
  kernelConfig,
  offset,
  type WasmLikeBackend,
} from "./kernels.ts";
import { isMaskedFor, markReluOutput } from "./pool_layer.ts";
import { markPacked, packingOn, readPacked } from "./packed.ts";

/** Forward kernel: conv + bias + activation; its gradient is {@linkcode CONV_GRAD_KERNEL}. */
export const CONV_KERNEL = "ConvdeckConv2D";
/**
 * Backward kernel: `[dw, db]` of {@linkcode CONV_KERNEL} from `dy` and the saved tensors (the
 * ReLU mask, then one oneDNN primitive for both).
 */
export const CONV_GRAD_KERNEL = "ConvdeckConv2DGrad";
/**
 * Backward kernel: `dx` of {@linkcode CONV_KERNEL}, run only when the input's gradient is
 * wanted (never for a model's first layer), reusing the mask of the {@linkcode CONV_GRAD_KERNEL}
 * call just before it.
 */
export const CONV_INPUT_GRAD_KERNEL = "ConvdeckConv2DInputGrad";

/** Generation of the masked gradient the shim kept in the last CONV_GRAD_KERNEL call. */
let lastGeneration = 0;

/** The generation number of the last {@linkcode CONV_GRAD_KERNEL} call (for tests). */
export function lastConvGradGeneration(): number {
  return lastGeneration;
}

/** Attributes of both kernels. */
interface ConvAttrs {
  strides: [number, number];
  pad: "same" | "valid";
  dilations: [number, number];
  activation: "relu" | "linear";
  hasBias: boolean;
  /** Run under a gradient tape: the forward keeps x's bf16 copy for the weight gradient. */
  recorded?: boolean;
  /**
   * x was not computed under the tape (a model's first layer): its gradient is not expected, so
   * the weight gradient need not keep the masked output gradient for it (if it is asked for
   * after all, the input-gradient kernel recomputes that mask: a hint, never a wrong answer).
   */
  inputOffTape?: boolean;
}

/**
 * The shim's token of the bf16 copy of each recorded forward's input, by the input's data
 * (immutable while the tape holds it; a new tensor has new data, so a stale token is never
 * found). The shim checks offset and length too, and converts afresh when the copy is gone.
 */
const keptInputs = new WeakMap<object, number>();

function info(xShape: readonly number[], filterShape: readonly number[], a: ConvAttrs) {
  return tf.backend_util.computeConv2DInfo(
    xShape as [number, number, number, number],
    filterShape as [number, number, number, number],
    a.strides,
    a.dilations,
    a.pad,
    undefined,
    false,
    "channelsLast",
  );
}

/** The forward and backward kernel configs for `backendName`, bound to the loaded shim. */
export function convLayerKernelConfigs(lib: NativeLib, backendName: string): tf.KernelConfig[] {
  const forward = (args: Args) => {
    const a = args.attrs as unknown as ConvAttrs;
    const x: tf.TensorInfo = args.inputs.x;
    const keep = a.recorded ? (token: number) => keptInputs.set(x.dataId, token) : undefined;
    return convForward(
      lib,
      "FusedConv2D",
      {
        ...args,
        attrs: {
          strides: a.strides,
          pad: a.pad,
          dataFormat: "NHWC",
          dilations: a.dilations,
          activation: a.activation,
        } as unknown as tf.NamedAttrMap,
      },
      keep,
      true,
    );
  };
  /** Bit i set: the i-th tensor is packed and read as it is (./packed.ts). */
  const packedFlags = (b: WasmLikeBackend, ...ts: tf.TensorInfo[]) =>
    ts.reduce((f, t, i) => f | (readPacked(lib, b, t) ? 1 << i : 0), 0);
  const grads = (args: Args) => {
    const { dy, y, x, filter } = args.inputs;
    const a = args.attrs as unknown as ConvAttrs;
    const b: WasmLikeBackend = args.backend;
    const ci = info(x.shape, filter.shape, a);
    const dw = b.makeOutput(filter.shape, "float32");
    const db = b.makeOutput([ci.outChannels], "float32");
    const off = (t: tf.TensorInfo) => offset(b, t);
    // A ReLU's gradient already masked by the max pool after it needs no mask here.
    const p = convParams(ci, a.activation === "relu" && !isMaskedFor(dy, y) ? 1 : 0, 0, true);
    const o = new Float64Array([
      off(dy),
      off(y),
      off(x),
      off(dw),
      off(db),
      keptInputs.get(x.dataId) ?? 0,
      a.inputOffTape ? 1 : 0,
      packedFlags(b, dy, y, x),
    ]);
    const gen = lib.cd_conv_grad_w(b.wasm.HEAPU8, p, o);
    if (gen < 0) throw new Error(`native backend: ${CONV_GRAD_KERNEL} failed: ${lastError(lib)}`);
    lastGeneration = gen;
    countKernel(CONV_GRAD_KERNEL, true);
    return [dw, db];
  };
  const inputGrad = (args: Args) => {
    const { dy, y, filter } = args.inputs;
    const a = args.attrs as unknown as ConvAttrs & { xShape: number[]; generation: number };
    const b: WasmLikeBackend = args.backend;
    const ci = info(a.xShape, filter.shape, a);
    const dx = b.makeOutput(a.xShape, "float32");
    const off = (t: tf.TensorInfo) => offset(b, t);
    const p = convParams(ci, a.activation === "relu" && !isMaskedFor(dy, y) ? 1 : 0, 0, true);
    const dxPacked = packingOn();
    const flags = packedFlags(b, dy, y) | (dxPacked ? 4 : 0);
    const o = new Float64Array([off(dy), off(y), off(filter), off(dx), flags]);
    if (lib.cd_conv_grad_x(b.wasm.HEAPU8, p, a.generation, o) !== 0) {
      throw new Error(`native backend: ${CONV_INPUT_GRAD_KERNEL} failed: ${lastError(lib)}`);
    }
    if (dxPacked) markPacked(dx);
    countKernel(CONV_INPUT_GRAD_KERNEL, true);
    return dx;
  };
  return [
    kernelConfig(CONV_KERNEL, backendName, forward),
    kernelConfig(CONV_GRAD_KERNEL, backendName, grads),
    kernelConfig(CONV_INPUT_GRAD_KERNEL, backendName, inputGrad),
  ];
}

/**
 * The gradient of {@linkcode CONV_KERNEL}: one {@linkcode CONV_GRAD_KERNEL} call for the weight
 * and bias gradients, and one {@linkcode CONV_INPUT_GRAD_KERNEL} call when (and only when) the
 * engine asks for the input's gradient.
 */
export const convGradConfig: tf.GradConfig = {
  kernelName: CONV_KERNEL,
  inputsToSave: ["x", "filter"],
  outputsToSave: [true],
  gradFunc: (dy, saved, attrs) => {
    const [x, filter, y] = saved;
    const d = dy as tf.Tensor;
    const [dw, db] = tf.engine().runKernel(
      CONV_GRAD_KERNEL,
      { dy: d, y, x, filter },
      attrs as unknown as tf.NamedAttrMap,
    ) as tf.Tensor[];
    const generation = lastGeneration;
    const a = attrs as unknown as ConvAttrs;
    if (!a.hasBias) db.dispose();
    return {
      x: () =>
        tf.engine().runKernel(
          CONV_INPUT_GRAD_KERNEL,
          { dy: d, y, filter },
          { ...attrs, xShape: x.shape, generation } as unknown as tf.NamedAttrMap,
        ) as tf.Tensor,
      filter: () => dw,
      ...(a.hasBias ? { bias: () => db } : {}),
    };
  },
};

/** The parts of tfjs-layers' `Conv` the patched `call` reads. */
interface ConvLayerInternals {
  rank: number;
  dataFormat: string;
  padding: string;
  strides: number[];
  dilationRate: number | number[];
  kernel: { read(): tf.Tensor };
  bias: { read(): tf.Tensor } | null;
  activation: { getClassName(): string };
}

type Call = (this: unknown, inputs: tf.Tensor | tf.Tensor[], kwargs: unknown) => tf.Tensor;

let original: Call | undefined;
let layerCalls = 0;

/** How many conv layer calls ran the native fused kernel (tests check the path ran). */
export function fusedConvLayerCalls(): number {
  return layerCalls;
}

/**
 * Whether `x` is the output of a kernel on the active gradient tape (by its data, so a reshape
 * of such an output counts too); true when there is no tape to look at.
 */
function computedOnTape(x: tf.Tensor): boolean {
  const tape = (tf.engine() as unknown as {
    state: { activeTape: { outputs: tf.Tensor[] }[] | null };
  }).state.activeTape;
  if (!tape) return true;
  for (let i = tape.length - 1; i >= 0; i--) {
    for (const t of tape[i].outputs) if (t && t.dataId === x.dataId) return true;
  }
  return false;
}

function pair(v: number | number[]): [number, number] {
  return Array.isArray(v) ? [v[0], v[v.length > 1 ? 1 : 0]] : [v, v];
}

/**
 * Makes tfjs-layers' Conv2D layers run {@linkcode CONV_KERNEL} while `backendName` is the
 * active backend (idempotent).
 */
export function installFusedConvLayers(backendName: string): void {
  if (original !== undefined) return;
  const proto = Object.getPrototypeOf(tfl.layers.conv2d({ filters: 1, kernelSize: 1 })) as {
    call: Call;
  };
  const tfjs = proto.call;
  original = tfjs;
  proto.call = function (this: unknown, inputs, kwargs) {
    const l = this as ConvLayerInternals;
    const x = Array.isArray(inputs) ? (inputs.length === 1 ? inputs[0] : undefined) : inputs;
    const act = l.activation?.getClassName();
    if (
      x === undefined || tf.getBackend() !== backendName || l.rank !== 2 ||
      l.dataFormat !== "channelsLast" || (act !== "relu" && act !== "linear") ||
      (l.padding !== "same" && l.padding !== "valid") || x.rank !== 4 || x.dtype !== "float32"
    ) {
      return tfjs.call(this, inputs, kwargs);
    }
    const filter = l.kernel.read();
    const recorded = (tf.engine() as unknown as { isTapeOn(): boolean }).isTapeOn();
    const attrs: ConvAttrs = {
      strides: pair(l.strides),
      pad: l.padding,
      dilations: pair(l.dilationRate),
      activation: act,
      hasBias: l.bias !== null,
      recorded,
      inputOffTape: recorded && !computedOnTape(x),
    };
    if (filter.dtype !== "float32" || !convFits(info(x.shape, filter.shape, attrs))) {
      return tfjs.call(this, inputs, kwargs);
    }
    layerCalls++;
    const ins: tf.NamedTensorMap = { x, filter };
    if (l.bias !== null) ins.bias = l.bias.read();
    const y = tf.engine().runKernel(
      CONV_KERNEL,
      ins,
      attrs as unknown as tf.NamedAttrMap,
    ) as tf.Tensor;
    if (act === "relu") markReluOutput(y);
    return y;
  };
}

/** Restores tfjs-layers' own Conv2D `call` (for tests comparing the two). */
export function uninstallFusedConvLayers(): void {
  if (original === undefined) return;
  const proto = Object.getPrototypeOf(tfl.layers.conv2d({ filters: 1, kernelSize: 1 })) as {
    call: Call;
  };
  proto.call = original;
  original = undefined;
}
