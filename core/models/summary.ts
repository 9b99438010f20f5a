/**
 * The Keras-style model summary as text.
 *
 * @module
 */
import type * as tfl from "@tensorflow/tfjs-layers";
import { formatReceptiveField, type ReceptiveField, receptiveFields } from "./receptive_field.ts";

/** One row of a model summary. */
export interface SummaryRow {
  /** Layer name, e.g. `conv2d_1`. */
  name: string;
  /** Layer class, e.g. `Conv2D`. */
  className: string;
  /** Output shape with `null` for the batch dimension, e.g. `[null, 224, 224, 32]`. */
  outputShape: (number | null)[];
  /** Parameter count of the layer. */
  params: number;
  /** What one output position sees of the input (see `receptive_field.ts`). */
  receptiveField: ReceptiveField;
}

/** Formats a shape as Keras prints it: `(None, 224, 224, 32)`. */
export function kerasShape(shape: readonly (number | null)[]): string {
  const parts = shape.map((d) => (d === null ? "None" : String(d)));
  return `(${parts.join(", ")}${parts.length === 1 ? "," : ""})`;
}

/** True when every layer takes its input from the layer before it (a Sequential-like chain). */
function isChain(model: tfl.LayersModel): boolean {
  const layers = model.layers;
  return layers.every((l, i) => {
    if (l.inboundNodes.length > 1) return false;
    const inbound = l.inboundNodes[0]?.inboundLayers ?? [];
    if (i === 0) return inbound.length <= 1;
    return inbound.length === 1 && inbound[0] === layers[i - 1];
  });
}

/**
 * The layers of a Sequential-like model with output shape and parameter count, in order (an
 * `InputLayer`, when the model lists one, is left out as Keras does); `undefined` when the
 * layers do not form a simple chain.
 */
export function summaryRows(model: tfl.LayersModel): SummaryRow[] | undefined {
  if (!isChain(model)) return undefined;
  const rows: SummaryRow[] = [];
  const fields = new Map((receptiveFields(model) ?? []).map((f) => [f.name, f.field]));
  for (const l of model.layers) {
    if (l.getClassName() === "InputLayer") continue;
    const shape = l.outputShape;
    if (Array.isArray(shape[0])) return undefined; // several outputs: not a simple chain
    rows.push({
      name: l.name,
      className: l.getClassName(),
      outputShape: [...(shape as (number | null)[])],
      params: l.countParams(),
      receptiveField: fields.get(l.name)!,
    });
  }
  return rows;
}

const fmtInt = (n: number) => n.toLocaleString("en-US");

/**
 * Returns the model summary as a string. A Sequential-like model prints as Keras 2 (and the
 * book) print it: `Layer (type)`, `Output Shape` as `(None, 224, 224, 32)`, `Param #`, and
 * totals with thousands separators (`Total params: 1,177,396`); the first column widens to fit
 * long names instead of cutting them. A fourth column, `Receptive field`, gives what one output
 * position sees of the input (`5x5 /1`: 5x5 pixels, neighbours 1 pixel apart; `all` after
 * global pooling). Other models print tfjs's own `model.summary()`.
 *
 * @example
 * ```ts ignore
 * console.log(modelSummary(model));
 * ```
 */
export function modelSummary(model: tfl.LayersModel, lineLength = 65): string {
  const rows = summaryRows(model);
  if (!rows) {
    const lines: string[] = [];
    model.summary(
      Math.max(lineLength, 98),
      [0.3, 0.52, 0.8, 1],
      (...msg: unknown[]) => lines.push(msg.join(" ")),
    );
    return lines.join("\n") + "\n";
  }
  const cells = rows.map((r) => [
    `${r.name} (${r.className})`,
    kerasShape(r.outputShape),
    String(r.params),
    formatReceptiveField(r.receptiveField),
  ]);
  const w0 = Math.max(29, ...cells.map((c) => c[0].length + 1));
  const w1 = Math.max(26, ...cells.map((c) => c[1].length + 1));
  const w2 = Math.max(10, ...cells.map((c) => c[2].length + 1));
  const width = Math.max(lineLength, w0 + w1 + w2 + 16);
  const row = (c: string[]) =>
    (c[0].padEnd(w0) + c[1].padEnd(w1) + c[2].padEnd(w2) + c[3]).trimEnd();
  const trainable = model.trainableWeights.reduce(
    (n, w) => n + (w.shape as number[]).reduce((a, b) => a * b, 1),
    0,
  );
  const total = model.countParams();
  const out = [
    `Model: "${model.name}"`,
    "_".repeat(width),
    row(["Layer (type)", "Output Shape", "Param #", "Receptive field"]),
    "=".repeat(width),
  ];
  cells.forEach((c, i) => {
    out.push(row(c));
    out.push(i === cells.length - 1 ? "=".repeat(width) : "_".repeat(width));
  });
  out.push(
    `Total params: ${fmtInt(total)}`,
    `Trainable params: ${fmtInt(trainable)}`,
    `Non-trainable params: ${fmtInt(total - trainable)}`,
    "_".repeat(width),
  );
  return out.join("\n") + "\n";
}
