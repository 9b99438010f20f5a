/**
 * Frees backpropagation memory early. tfjs keeps the gradient of every intermediate tensor
 * alive until the whole gradient computation ends, which doubles a training step's peak memory
 * (the book's model at 224x224, batch 32, would not fit the wasm backend's 4 GiB heap).
 *
 * This wraps every registered gradient function: when the next gradient function runs (the tape
 * is walked in reverse order, one node at a time), the output gradients (`dy`) of the previous
 * node are no longer needed and are disposed, unless that node returned one of them unchanged as
 * an input gradient. Gradients of the variables themselves are never touched: they are input
 * gradients, not output gradients.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs-core";
import { addGradConfig, withAddShapes } from "./add_grad.ts";

type GradConfig = tf.GradConfig;
type GradFunc = NonNullable<GradConfig["gradFunc"]>;

let pending: { dys: tf.Tensor[]; returned: tf.Tensor[] } | undefined;
const wrapped = new WeakSet<GradFunc>();

function flush(): void {
  if (pending === undefined) return;
  const { dys, returned } = pending;
  pending = undefined;
  for (const dy of dys) {
    if (!dy.isDisposed && !returned.includes(dy)) dy.dispose();
  }
}

function wrap(gradFunc: GradFunc): GradFunc {
  const f: GradFunc = (dy, saved, attrs) => {
    flush();
    const grads = gradFunc(dy, saved, attrs);
    const dys = Array.isArray(dy) ? dy : [dy];
    const returned: tf.Tensor[] = [];
    pending = { dys, returned };
    const out: Record<string, () => tf.Tensor> = {};
    for (const [name, fn] of Object.entries(grads)) {
      out[name] = () => {
        const g = fn();
        returned.push(g);
        return g;
      };
    }
    return out;
  };
  wrapped.add(f);
  return f;
}

/**
 * Wraps a custom gradient (`tf.customGrad`, e.g. fused conv2d in training): those compute their
 * input gradients eagerly, outside any tidy, so their temporaries would live until the end of
 * the whole gradient computation. Here they run inside a tidy that returns only the gradients.
 */
function wrapEager(gradFunc: GradFunc): GradFunc {
  const f: GradFunc = (dy, saved, attrs) => {
    flush();
    let names: string[] = [];
    const values = tf.tidy(() => {
      const grads = gradFunc(dy, saved, attrs);
      names = Object.keys(grads);
      return names.map((n) => grads[n]());
    });
    const dys = Array.isArray(dy) ? dy : [dy];
    pending = { dys, returned: values };
    return Object.fromEntries(names.map((n, i) => [n, () => values[i]]));
  };
  wrapped.add(f);
  return f;
}

function registry(): Map<string, GradConfig> {
  const globals = (globalThis as { _tfGlobals?: Map<string, unknown> })._tfGlobals;
  const reg = globals?.get("gradRegistry");
  if (!(reg instanceof Map)) {
    throw new Error("tfjs gradient registry not found (tfjs-core changed?)");
  }
  return reg as Map<string, GradConfig>;
}

type AddTapeNode = (
  kernelName: string,
  inputs: unknown,
  outputs: unknown,
  gradientsFunc: GradFunc | undefined,
  saved: unknown,
  attrs: unknown,
) => void;

let enginePatched = false;

/** Wraps the gradient functions of `tf.customGrad` (e.g. fused conv2d), which bypass the registry. */
function patchEngine(): void {
  if (enginePatched) return;
  const engine = tf.engine() as unknown as {
    addTapeNode: AddTapeNode;
    state: { activeTape: { gradient?: (dys: tf.Tensor[]) => unknown }[] };
  };
  const original = engine.addTapeNode.bind(engine);
  engine.addTapeNode = (kernelName, inputs, outputs, gradientsFunc, saved, attrs) => {
    original(
      kernelName,
      inputs,
      outputs,
      gradientsFunc === undefined || wrapped.has(gradientsFunc) ||
        tf.getGradient(kernelName) !== undefined
        ? gradientsFunc // registered gradients take precedence and are wrapped in the registry
        : wrapEager(gradientsFunc),
      saved,
      attrs,
    );
    if (kernelName === "Add" && tf.getGradient("Add")?.inputsToSave?.length === 0) {
      // Hand the input shapes to the Add gradient, which saves no tensors.
      const node = engine.state.activeTape[engine.state.activeTape.length - 1];
      const { a, b } = inputs as { a: tf.Tensor; b: tf.Tensor };
      const shapes = { a: a.shape, b: b.shape };
      const gradient = node?.gradient;
      if (gradient !== undefined) {
        node.gradient = (dys) => withAddShapes(shapes, () => gradient(dys));
      }
    }
  };
  enginePatched = true;
}

/**
 * Wraps every gradient registered so far (call after importing tfjs-layers, which registers
 * them) and every custom gradient recorded from now on. Idempotent. Returns how many registered
 * gradients were wrapped by this call.
 */
export function enableGradientMemorySaver(): number {
  patchEngine();
  const add = tf.getGradient("Add");
  if (add === undefined || add.inputsToSave?.length !== 0) tf.registerGradient(addGradConfig);
  let count = 0;
  for (const [name, config] of registry()) {
    if (config.gradFunc === undefined || wrapped.has(config.gradFunc)) continue;
    registry().set(name, { ...config, gradFunc: wrap(config.gradFunc) });
    count++;
  }
  return count;
}
