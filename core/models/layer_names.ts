/**
 * Keras-style layer names (`conv2d`, `conv2d_1`, ..., `max_pooling2d`, ...) for models built in
 * code, so summaries, checkpoints and the dashboard show the names Keras users know (tfjs would
 * otherwise number layers across the whole process: `conv2d_Conv2D7`).
 *
 * @module
 */

/**
 * Returns a namer: each call with a base name gives `base`, then `base_1`, `base_2`, ...
 *
 * @example
 * ```ts
 * import { kerasLayerNames } from "./layer_names.ts";
 * const name = kerasLayerNames();
 * console.log(name("conv2d"), name("conv2d"), name("dense")); // conv2d conv2d_1 dense
 * ```
 */
export function kerasLayerNames(): (base: string) => string {
  const counts = new Map<string, number>();
  return (base) => {
    const n = counts.get(base) ?? 0;
    counts.set(base, n + 1);
    return n === 0 ? base : `${base}_${n}`;
  };
}
