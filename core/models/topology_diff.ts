/**
 * What changed between two Keras/tfjs model topologies (the `modelTopology` of a saved
 * `model.json` and `model.toJSON(null, false)` of a model built now), in words a user can act
 * on. Two models whose weights have the same shapes can still compute different things (a
 * Conv2D's `padding` "valid" against "same", an activation, a pool size); resuming the weights
 * of one into the other trains a different model from the one in the run's history.
 *
 * Layer names, initializers and `trainable` flags are not compared: names depend on how many
 * models a process built before, initializers do not matter once weights are loaded.
 *
 * @module
 */

/** Config keys that do not change what a loaded model computes. */
const IGNORED_KEYS = new Set([
  "name",
  "trainable",
  "dtype",
  "kernel_initializer",
  "bias_initializer",
  "embeddings_initializer",
  "recurrent_initializer",
  "gamma_initializer",
  "beta_initializer",
  "moving_mean_initializer",
  "moving_variance_initializer",
]);

/** One layer of a topology, reduced to what it computes. */
interface LayerShape {
  className: string;
  config: Record<string, unknown>;
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** The layers of a Sequential or functional topology, or undefined when it has none. */
function layersOf(topology: unknown): LayerShape[] | undefined {
  if (!isRecord(topology)) return undefined;
  // tfjs saves `{ class_name, config: { name, layers } }`; Keras files may nest it under
  // `model_config`.
  const root = isRecord(topology.model_config) ? topology.model_config : topology;
  const config = root.config;
  const layers = isRecord(config) ? config.layers : Array.isArray(config) ? config : undefined;
  if (!Array.isArray(layers)) return undefined;
  return layers.filter(isRecord).map((l) => ({
    className: String(l.class_name ?? "?"),
    config: isRecord(l.config) ? l.config : {},
  }));
}

/** A config value in short text. */
function show(v: unknown): string {
  return v === undefined ? "unset" : JSON.stringify(v);
}

/** The keys of two layer configs whose values differ, as "key: a → b". */
function configChanges(before: Record<string, unknown>, after: Record<string, unknown>): string[] {
  const keys = [...new Set([...Object.keys(before), ...Object.keys(after)])]
    .filter((k) => !IGNORED_KEYS.has(k)).sort();
  return keys
    .filter((k) => JSON.stringify(before[k]) !== JSON.stringify(after[k]))
    .map((k) => `${k} ${show(before[k])} → ${show(after[k])}`);
}

/**
 * Lists what differs between the `saved` topology and the `current` one, at most `limit`
 * lines (default 5), each naming the layer by position and class and the changed settings
 * ("layer 1 (Conv2D): padding "valid" → "same""). An empty list means the same model. When
 * either side has no layer list (weights-only checkpoints, foreign formats) it returns an
 * empty list: there is nothing to compare, and the weight shapes are still checked on load.
 *
 * @example
 * ```ts
 * import { topologyChanges } from "./topology_diff.ts";
 * const conv = (padding: string) => ({
 *   class_name: "Sequential",
 *   config: { layers: [{ class_name: "Conv2D", config: { name: "c", filters: 8, padding } }] },
 * });
 * console.log(topologyChanges(conv("valid"), conv("same")));
 * // [ 'layer 1 (Conv2D): padding "valid" → "same"' ]
 * ```
 */
export function topologyChanges(saved: unknown, current: unknown, limit = 5): string[] {
  const a = layersOf(saved);
  const b = layersOf(current);
  if (!a || !b) return [];
  const out: string[] = [];
  if (a.length !== b.length) {
    out.push(`${a.length} layers → ${b.length} layers`);
  }
  for (let i = 0; i < Math.min(a.length, b.length) && out.length < limit; i++) {
    const where = `layer ${i + 1} (${a[i].className})`;
    if (a[i].className !== b[i].className) {
      out.push(`${where} → ${b[i].className}`);
      continue;
    }
    const changes = configChanges(a[i].config, b[i].config);
    if (changes.length) out.push(`${where}: ${changes.join(", ")}`);
  }
  return out.slice(0, limit);
}
