/**
 * Keras-style layer names (`conv2d`, `conv2d_1`, ..., `max_pooling2d`, ...) for models built in
 * code, so summaries, checkpoints and the dashboard show the names Keras users know (tfjs would
 * otherwise number layers across the whole process: `conv2d_Conv2D7`).
 *
 * @module
 */

/** Options of {@link kerasLayerNames}. */
export interface KerasLayerNameOptions {
  /**
   * Number the first layer of each kind too (`conv2d_1`, `conv2d_2`, ...), as Keras 2 and the
   * book's printed summaries do. Default false (Keras 3: `conv2d`, `conv2d_1`, ...).
   */
  numberFirst?: boolean;
}

/**
 * Returns a namer: each call with a base name gives `base`, then `base_1`, `base_2`, ... (or
 * `base_1`, `base_2`, ... with `numberFirst`).
 *
 * @example
 * ```ts
 * import { kerasLayerNames } from "./layer_names.ts";
 * const name = kerasLayerNames();
 * console.log(name("conv2d"), name("conv2d"), name("dense")); // conv2d conv2d_1 dense
 * const book = kerasLayerNames({ numberFirst: true });
 * console.log(book("conv2d"), book("conv2d")); // conv2d_1 conv2d_2
 * ```
 */
export function kerasLayerNames(
  options: KerasLayerNameOptions = {},
): (base: string) => string {
  const counts = new Map<string, number>();
  const offset = options.numberFirst ? 1 : 0;
  return (base) => {
    const n = (counts.get(base) ?? 0) + offset;
    counts.set(base, n + 1 - offset);
    return n === 0 ? base : `${base}_${n}`;
  };
}
