/**
 * One optimizer step and one evaluation pass: the hot path of training. Shared by the trainer
 * and the benchmarks so that both measure the same work.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs-core";
import type * as tfl from "@tensorflow/tfjs-layers";

const EPSILON = 1e-7; // Keras's backend epsilon, used to clip probabilities before log.

/**
 * Mean categorical cross-entropy of softmax `probs` against integer `labels`, as Keras computes
 * it for a softmax output (probabilities clipped to [1e-7, 1 - 1e-7]).
 */
export function crossEntropy(probs: tf.Tensor, labels: tf.Tensor1D, numClasses: number): tf.Scalar {
  return tf.tidy(() => {
    const oneHot = tf.cast(tf.oneHot(labels, numClasses), "float32");
    const logp = tf.log(tf.clipByValue(probs, EPSILON, 1 - EPSILON));
    return tf.neg(tf.mean(tf.sum(tf.mul(oneHot, logp), -1)));
  });
}

/** Number of rows of `probs` whose arg-max equals the label. */
function correctCount(probs: tf.Tensor, labels: tf.Tensor1D): tf.Scalar {
  return tf.tidy(() => tf.sum(tf.cast(tf.equal(tf.argMax(probs, -1), labels), "float32")));
}

/** Loss and accuracy of one batch. */
export interface StepResult {
  /** Mean loss over the batch. */
  loss: number;
  /** Fraction of the batch classified correctly. */
  acc: number;
}

/**
 * Runs one training step: forward in training mode, cross-entropy, gradients of every
 * trainable weight, and `optimizer.applyGradients`. Returns the batch's loss and accuracy
 * (computed from the same forward pass). Leaves no tensors behind.
 */
export async function trainStep(
  model: tfl.LayersModel,
  optimizer: tf.Optimizer,
  x: tf.Tensor,
  labels: tf.Tensor1D,
  numClasses: number,
): Promise<StepResult> {
  const n = x.shape[0];
  const [lossT, correctT] = tf.tidy(() => {
    let probs: tf.Tensor | undefined;
    const vars = model.trainableWeights.map((w) => w.read() as tf.Variable);
    const { value, grads } = tf.variableGrads(() => {
      probs = tf.keep(model.apply(x, { training: true }) as tf.Tensor);
      return crossEntropy(probs, labels, numClasses);
    }, vars);
    optimizer.applyGradients(grads);
    const correct = correctCount(probs!, labels);
    probs!.dispose();
    return [value, correct];
  });
  const [loss, correct] = await Promise.all([lossT.data(), correctT.data()]);
  lossT.dispose();
  correctT.dispose();
  return { loss: loss[0], acc: correct[0] / n };
}

/** Summed (not averaged) loss and correct count of one evaluation batch. */
export async function evalStep(
  model: tfl.LayersModel,
  x: tf.Tensor,
  labels: tf.Tensor1D,
  numClasses: number,
): Promise<{ lossSum: number; correct: number }> {
  const n = x.shape[0];
  const [lossT, correctT] = tf.tidy(() => {
    const probs = model.predict(x) as tf.Tensor;
    return [crossEntropy(probs, labels, numClasses), correctCount(probs, labels)];
  });
  const [loss, correct] = await Promise.all([lossT.data(), correctT.data()]);
  lossT.dispose();
  correctT.dispose();
  return { lossSum: loss[0] * n, correct: correct[0] };
}
