/**
 * A leaner gradient for `Add`. tfjs's own saves both inputs only to read their shapes, which
 * keeps every convolution's pre-bias output alive until the end of backprop (one
 * activation-sized tensor per conv layer). This one saves nothing: the input shapes are handed
 * over by {@linkcode recordTapeShapes} when the tape node runs its gradient.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs-core";

let currentShapes: { a: number[]; b: number[] } | undefined;

/** Runs `gradient` with the shapes of an Add node's inputs available to its gradient function. */
export function withAddShapes<T>(shapes: { a: number[]; b: number[] }, gradient: () => T): T {
  currentShapes = shapes;
  try {
    return gradient();
  } finally {
    currentShapes = undefined;
  }
}

function reduceTo(dy: tf.Tensor, shape: number[], outShape: number[]): tf.Tensor {
  const axes = tf.backend_util.getReductionAxes(shape, outShape);
  return tf.reshape(axes.length > 0 ? tf.sum(dy, axes) : dy, shape);
}

/** Gradient config replacing tfjs's for `Add` (saves no inputs). */
export const addGradConfig: tf.GradConfig = {
  kernelName: "Add",
  inputsToSave: [],
  gradFunc: (dy) => {
    const shapes = currentShapes;
    if (shapes === undefined) {
      throw new Error("Add gradient called without input shapes (engine patch missing)");
    }
    const d = dy as tf.Tensor;
    const outShape = tf.backend_util.assertAndGetBroadcastShape(shapes.a, shapes.b);
    return { a: () => reduceTo(d, shapes.a, outShape), b: () => reduceTo(d, shapes.b, outShape) };
  },
};
