/**
 * Grad-CAM class activation maps (keras.io `grad_cam.py`): the gradient of the class score
 * (the logit: the final softmax removed) with respect to the last conv layer's output, averaged
 * over height and width to weight the channels; heatmap = ReLU(sum of weighted channels),
 * divided by its maximum.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs-core";
import * as tfl from "@tensorflow/tfjs-layers";

/** Class names of layers treated as convolutions. */
export const CONV_CLASSES = new Set(["Conv2D", "SeparableConv2D", "DepthwiseConv2D"]);

/** The model's conv layers, in order. */
export function convLayers(model: tfl.LayersModel): tfl.layers.Layer[] {
  return model.layers.filter((l) => CONV_CLASSES.has(l.getClassName()));
}

/**
 * How `layer` (a model's last layer) applies the final softmax: `"dense"` for a Dense layer with
 * softmax activation, `"layer"` for a separate softmax `Activation` (or `Softmax` over the last
 * axis) layer, `undefined` when it applies none.
 */
export function finalSoftmax(layer: tfl.layers.Layer | undefined): "dense" | "layer" | undefined {
  if (!layer) return undefined;
  const cfg = layer.getConfig() as { activation?: string; axis?: number | number[] };
  switch (layer.getClassName()) {
    case "Dense":
      return cfg.activation === "softmax" ? "dense" : undefined;
    case "Activation":
      return cfg.activation === "softmax" ? "layer" : undefined;
    case "Softmax": {
      const axis = Array.isArray(cfg.axis) ? cfg.axis : [cfg.axis ?? -1];
      return axis.length === 1 && (axis[0] === -1 || axis[0] === 1) ? "layer" : undefined;
    }
    default:
      return undefined;
  }
}

/** Grad-CAM of a batch of images. */
export interface GradCamResult {
  /** The conv layer used. */
  layer: string;
  /** `[h, w]` of each heatmap. */
  shape: [number, number];
  /** One heatmap per image, values in 0..1, row-major. */
  heatmaps: Float32Array[];
  /** Predicted class per image. */
  predicted: number[];
  /** Probability of the predicted class per image. */
  probs: number[];
}

/**
 * Computes Grad-CAM for `x` (`[n, h, w, c]`) with respect to the predicted class of each image
 * (or `classes` when given), using the last conv layer (or `layerName`). The layers after the
 * conv layer must form a simple chain (Sequential-like); a final softmax (a Dense layer with
 * softmax activation, or a separate softmax `Activation`/`Softmax` layer as in the book's model)
 * is removed so that the class score is the logit. Leaves no tensors behind.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs-core";
 * import * as tfl from "@tensorflow/tfjs-layers";
 * import { gradCam } from "./grad_cam.ts";
 * const model = tfl.sequential({ layers: [
 *   tfl.layers.conv2d({ inputShape: [8, 8, 3], filters: 4, kernelSize: 3, activation: "relu" }),
 *   tfl.layers.globalAveragePooling2d({}),
 *   tfl.layers.dense({ units: 2, activation: "softmax" }),
 * ] });
 * const x = tf.randomUniform([1, 8, 8, 3]);
 * const cam = await gradCam(model, x);
 * console.log(cam.shape, cam.predicted);
 * x.dispose();
 * ```
 */
export async function gradCam(
  model: tfl.LayersModel,
  x: tf.Tensor,
  options: { layerName?: string; classes?: number[] } = {},
): Promise<GradCamResult> {
  const layers = model.layers;
  const convs = convLayers(model);
  const conv = options.layerName ? model.getLayer(options.layerName) : convs[convs.length - 1];
  if (!conv) throw new Error("gradCam: the model has no Conv2D layer");
  const start = layers.indexOf(conv);
  const head = layers.slice(start + 1);
  for (let i = 0; i < head.length; i++) {
    const prev = i === 0 ? conv : head[i - 1];
    const inbound = head[i].inboundNodes[0]?.inboundLayers ?? [];
    if (inbound.length !== 1 || inbound[0] !== prev) {
      throw new Error(
        `gradCam: layer ${head[i].name} does not simply follow ${prev.name}; ` +
          "Grad-CAM here supports Sequential-like heads only",
      );
    }
  }
  const last = head[head.length - 1];
  const softmax = finalSoftmax(last);
  const feature = tfl.model({ inputs: model.inputs, outputs: conv.output as tfl.SymbolicTensor });
  const { camT, predT, probT, shape } = tf.tidy(() => {
    const a = feature.predict(x) as tf.Tensor4D;
    const logitsOf = (t: tf.Tensor): tf.Tensor2D => {
      const body = softmax ? head.slice(0, -1) : head;
      for (const l of body) t = l.apply(t) as tf.Tensor;
      if (softmax === "dense") {
        const [kernel, bias] = last.getWeights();
        t = bias
          ? tf.add(tf.matMul(t as tf.Tensor2D, kernel as tf.Tensor2D), bias)
          : tf.matMul(t as tf.Tensor2D, kernel as tf.Tensor2D);
      }
      return t as tf.Tensor2D;
    };
    const logits = logitsOf(a);
    const probs = softmax ? tf.softmax(logits) : logits;
    const numClasses = logits.shape[1];
    const pred = tf.argMax(probs, -1) as tf.Tensor1D;
    const target = options.classes ? tf.tensor1d(options.classes, "int32") : pred;
    const mask = tf.cast(tf.oneHot(target, numClasses), "float32");
    const grads = tf.grad((t: tf.Tensor) => tf.sum(tf.mul(logitsOf(t), mask)))(a);
    const weights = tf.mean(grads, [1, 2], true); // [n, 1, 1, c]
    let cam = tf.relu(tf.sum(tf.mul(a, weights), -1)); // [n, h, w]
    const max = tf.max(cam, [1, 2], true);
    cam = tf.div(cam, tf.maximum(max, 1e-12));
    const probOfPred = tf.sum(tf.mul(probs, tf.cast(tf.oneHot(pred, numClasses), "float32")), -1);
    return {
      camT: cam,
      predT: pred,
      probT: probOfPred,
      shape: [a.shape[1], a.shape[2]] as [number, number],
    };
  });
  const [camData, predData, probData] = await Promise.all([
    camT.data(),
    predT.data(),
    probT.data(),
  ]);
  tf.dispose([camT, predT, probT]);
  const n = x.shape[0];
  const size = shape[0] * shape[1];
  return {
    layer: conv.name,
    shape,
    heatmaps: Array.from(
      { length: n },
      (_, i) => Float32Array.from(camData.subarray(i * size, (i + 1) * size) as Float32Array),
    ),
    predicted: Array.from(predData as Int32Array),
    probs: Array.from(probData as Float32Array),
  };
}
