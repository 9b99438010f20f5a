/**
 * The Keras-style model summary as text.
 *
 * @module
 */
import type * as tfl from "@tensorflow/tfjs-layers";

/**
 * Returns `model.summary()` (layer table with output shapes and parameter counts) as a string.
 *
 * @example
 * ```ts ignore
 * console.log(modelSummary(model));
 * ```
 */
export function modelSummary(model: tfl.LayersModel, lineLength = 98): string {
  const lines: string[] = [];
  model.summary(lineLength, [0.3, 0.52, 0.8, 1], (...msg: unknown[]) => lines.push(msg.join(" ")));
  return lines.join("\n") + "\n";
}
