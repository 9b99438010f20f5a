/**
 * Receptive fields of a Sequential-like convnet, computed from its layers: for each layer, how
 * many input pixels one output position sees (`size`), how many input pixels apart neighbouring
 * output positions are (`jump`, the product of the strides so far) and where the centre of the
 * first output position's field lies in input pixels (`start`, pixel centres at 0, 1, 2 ...;
 * negative when the field reaches into the padding). The chapter's numbers: 3x3 after the
 * first 3x3 conv, 5x5 after the second, and each 2x2 pooling doubles the jump.
 *
 * The rule (Dumoulin & Visin's convolution arithmetic, as in Araujo et al., "Computing
 * receptive fields of convolutional neural networks"): with kernel `k` (dilated:
 * `d * (k - 1) + 1`), stride `s` and left padding `p`, `size' = size + (k - 1) * jump`,
 * `jump' = jump * s`, `start' = start + ((k - 1) / 2 - p) * jump`.
 *
 * @module
 */
import type * as tfl from "@tensorflow/tfjs-layers";

/** The receptive field of one layer's output positions, in input pixels (per axis). */
export interface ReceptiveField {
  /** Side of the field in input pixels, `[height, width]`. */
  size: [number, number];
  /** Input pixels between neighbouring output positions, `[y, x]`. */
  jump: [number, number];
  /** Centre of output position 0's field in input pixel coordinates, `[y, x]`. */
  start: [number, number];
  /** True once a global pooling or flatten has mixed every position (the whole image). */
  global?: boolean;
}

/** A layer's name and its receptive field. */
export interface LayerReceptiveField {
  /** Layer name. */
  name: string;
  /** Layer class. */
  className: string;
  /** The field of the layer's output positions. */
  field: ReceptiveField;
}

type Pair = [number, number];

const pair = (v: unknown, fallback: number): Pair => {
  if (Array.isArray(v)) return [Number(v[0] ?? fallback), Number(v[1] ?? v[0] ?? fallback)];
  if (typeof v === "number") return [v, v];
  return [fallback, fallback];
};

/** Kernel, stride, dilation and padding of a spatial layer; `undefined` for other layers. */
function spatialOf(
  layer: tfl.layers.Layer,
): { kernel: Pair; strides: Pair; dilation: Pair; padding: string } | "global" | undefined {
  const cls = layer.getClassName();
  const cfg = layer.getConfig() as Record<string, unknown>;
  if (/^Global.*Pooling2D$/.test(cls) || cls === "Flatten") return "global";
  if (/^(Conv2D|SeparableConv2D|DepthwiseConv2D)$/.test(cls)) {
    return {
      kernel: pair(cfg.kernelSize, 1),
      strides: pair(cfg.strides, 1),
      dilation: pair(cfg.dilationRate, 1),
      padding: String(cfg.padding ?? "valid"),
    };
  }
  if (/^(MaxPooling2D|AveragePooling2D)$/.test(cls)) {
    const kernel = pair(cfg.poolSize, 2);
    return {
      kernel,
      strides: pair(cfg.strides ?? cfg.poolSize, 2),
      dilation: [1, 1],
      padding: String(cfg.padding ?? "valid"),
    };
  }
  return undefined;
}

/** Left/top padding tfjs (and TensorFlow) uses for `same` padding. */
function samePad(inSize: number, k: number, s: number): number {
  const out = Math.ceil(inSize / s);
  const total = Math.max((out - 1) * s + k - inSize, 0);
  return Math.floor(total / 2);
}

/**
 * The receptive field after each layer of a Sequential-like model (`undefined` when the layers
 * do not form a simple chain). Layers that do not change positions (activations, batch norm,
 * dropout) keep the field of the layer before; a global pooling or flatten marks the field
 * `global` (the whole image).
 *
 * @example
 * ```ts
 * import { receptiveFields } from "./receptive_field.ts";
 * import { bookConvnet } from "./book_convnet.ts";
 * const rf = receptiveFields(bookConvnet([224, 224, 3], 20))!;
 * console.log(rf[0].field.size, rf[1].field.size, rf[2].field.jump); // [3,3] [5,5] [2,2]
 * ```
 */
export function receptiveFields(model: tfl.LayersModel): LayerReceptiveField[] | undefined {
  const layers = model.layers;
  const chain = layers.every((l, i) => {
    if (l.inboundNodes.length > 1) return false;
    const inbound = l.inboundNodes[0]?.inboundLayers ?? [];
    return i === 0 ? inbound.length <= 1 : inbound.length === 1 && inbound[0] === layers[i - 1];
  });
  if (!chain) return undefined;
  const input = model.inputs[0]?.shape ?? [];
  let inSize: Pair = [Number(input[1] ?? 0), Number(input[2] ?? 0)];
  let field: ReceptiveField = { size: [1, 1], jump: [1, 1], start: [0, 0] };
  const out: LayerReceptiveField[] = [];
  for (const layer of layers) {
    if (layer.getClassName() === "InputLayer") continue;
    const spatial = spatialOf(layer);
    if (spatial === "global" || field.global) {
      field = { ...field, global: true };
    } else if (spatial) {
      const next = { size: [0, 0], jump: [0, 0], start: [0, 0] } as ReceptiveField;
      for (const a of [0, 1] as const) {
        const k = spatial.dilation[a] * (spatial.kernel[a] - 1) + 1;
        const s = spatial.strides[a];
        const p = spatial.padding === "same" ? samePad(inSize[a], k, s) : 0;
        next.size[a] = field.size[a] + (k - 1) * field.jump[a];
        next.jump[a] = field.jump[a] * s;
        next.start[a] = field.start[a] + ((k - 1) / 2 - p) * field.jump[a];
      }
      field = next;
    }
    const shape = layer.outputShape as (number | null)[];
    if (!Array.isArray(shape[0]) && shape.length === 4) {
      inSize = [Number(shape[1]), Number(shape[2])];
    }
    out.push({ name: layer.name, className: layer.getClassName(), field });
  }
  return out;
}

/**
 * The receptive field as the summary prints it: `3x3 /1` (size, then the jump when it is not
 * 1 on both axes printed as `/2`), `all` once a global pooling mixed every position.
 *
 * @example
 * ```ts
 * import { formatReceptiveField } from "./receptive_field.ts";
 * console.log(formatReceptiveField({ size: [6, 6], jump: [2, 2], start: [0.5, 0.5] })); // 6x6 /2
 * ```
 */
export function formatReceptiveField(f: ReceptiveField): string {
  if (f.global) return "all";
  const jump = f.jump[0] === f.jump[1] ? `${f.jump[0]}` : `${f.jump[0]}x${f.jump[1]}`;
  return `${f.size[0]}x${f.size[1]} /${jump}`;
}

/**
 * The input window `[y0, x0, h, w]` seen by output position `(y, x)`, clipped to an image of
 * `height` x `width` pixels when `clip` (default) is true; else shifted inside it (same size
 * for every position, `min(size, image)`), as the top-patch grids need equal tiles.
 *
 * @example
 * ```ts
 * import { fieldWindow, type ReceptiveField } from "./receptive_field.ts";
 * const f: ReceptiveField = { size: [5, 5], jump: [1, 1], start: [0, 0] };
 * console.log(fieldWindow(f, 0, 0, 28, 28)); // [0, 0, 3, 3]: the rest lies in the padding
 * ```
 */
export function fieldWindow(
  f: ReceptiveField,
  y: number,
  x: number,
  height: number,
  width: number,
  clip = true,
): [number, number, number, number] {
  if (f.global) return [0, 0, height, width];
  const axis = (pos: number, a: 0 | 1, limit: number): [number, number] => {
    const centre = f.start[a] + pos * f.jump[a];
    let lo = Math.round(centre - (f.size[a] - 1) / 2);
    let hi = lo + f.size[a];
    if (clip) return [Math.max(0, lo), Math.min(limit, hi) - Math.max(0, lo)];
    const size = Math.min(f.size[a], limit);
    lo = Math.min(Math.max(0, lo + Math.floor((f.size[a] - size) / 2)), limit - size);
    hi = lo + size;
    return [lo, hi - lo];
  };
  const [y0, h] = axis(y, 0, height);
  const [x0, w] = axis(x, 1, width);
  return [y0, x0, h, w];
}
