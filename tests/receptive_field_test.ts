import assert from "node:assert/strict";
import "@tensorflow/tfjs-backend-cpu";
import * as tfl from "@tensorflow/tfjs-layers";
import { bookConvnet } from "../core/models/book_convnet.ts";
import {
  fieldWindow,
  formatReceptiveField,
  receptiveFields,
} from "../core/models/receptive_field.ts";
import { modelSummary, summaryRows } from "../core/models/summary.ts";

Deno.test("receptiveFields: the chapter's numbers for the book's convnet (3x3, 5x5, pooling doubles the jump)", () => {
  const model = bookConvnet([224, 224, 3], 20);
  const rf = receptiveFields(model)!;
  const table = rf.map((r) => [r.name, r.field.global ? "all" : r.field.size[0], r.field.jump[0]]);
  assert.deepEqual(table, [
    ["conv2d_1", 3, 1],
    ["conv2d_2", 5, 1],
    ["max_pooling2d_1", 6, 2],
    ["conv2d_3", 10, 2],
    ["conv2d_4", 14, 2],
    ["max_pooling2d_2", 16, 4],
    ["conv2d_5", 24, 4],
    ["conv2d_6", 32, 4],
    ["max_pooling2d_3", 36, 8],
    ["conv2d_7", 52, 8],
    ["conv2d_8", 68, 8],
    ["global_average_pooling2d_1", "all", 8],
    ["dense_1", "all", 8],
    ["activation_1", "all", 8],
  ]);
  // Same padding keeps position 0 centred on pixel 0; a 2x2 pool centres it between 0 and 1.
  assert.deepEqual(rf[1].field.start, [0, 0]);
  assert.deepEqual(rf[2].field.start, [0.5, 0.5]);
  assert.deepEqual(rf[5].field.start, [1.5, 1.5]);
  // In the summary (CLI --summary, model.txt in the run, the dashboard's run details).
  const text = modelSummary(model);
  assert.match(text, /Param # +Receptive field$/m);
  assert.match(text, /^conv2d_1 \(Conv2D\) .* 896 +3x3 \/1$/m);
  assert.match(text, /^conv2d_2 \(Conv2D\) .* 9248 +5x5 \/1$/m);
  assert.match(text, /^max_pooling2d_1 .* 6x6 \/2$/m);
  assert.match(text, /^global_average_pooling2d_1 .* all$/m);
  assert.deepEqual(summaryRows(model)![1].receptiveField.size, [5, 5]);
  model.dispose();
});

Deno.test("receptiveFields: valid padding, strides, dilation; non-chains give undefined", () => {
  const model = tfl.sequential({
    layers: [
      tfl.layers.conv2d({ inputShape: [32, 32, 3], filters: 2, kernelSize: 5, strides: 2 }),
      tfl.layers.conv2d({ filters: 2, kernelSize: 3, dilationRate: 2 }),
      tfl.layers.maxPooling2d({ poolSize: 3, strides: 1 }),
    ],
  });
  const rf = receptiveFields(model)!.map((r) => r.field);
  assert.deepEqual(rf[0], { size: [5, 5], jump: [2, 2], start: [2, 2] });
  assert.deepEqual(rf[1], { size: [13, 13], jump: [2, 2], start: [6, 6] }); // dilated 5x5
  assert.deepEqual(rf[2], { size: [17, 17], jump: [2, 2], start: [8, 8] });
  assert.equal(formatReceptiveField(rf[2]), "17x17 /2");
  model.dispose();
  const input = tfl.input({ shape: [4] });
  const a = tfl.layers.dense({ units: 3 }).apply(input) as tfl.SymbolicTensor;
  const b = tfl.layers.dense({ units: 3 }).apply(input) as tfl.SymbolicTensor;
  const branchy = tfl.model({
    inputs: input,
    outputs: tfl.layers.add().apply([a, b]) as tfl.SymbolicTensor,
  });
  assert.equal(receptiveFields(branchy), undefined);
  branchy.dispose();
});

Deno.test("fieldWindow: clipped at the border, or shifted inside with a constant size", () => {
  const f = { size: [5, 5], jump: [1, 1], start: [0, 0] } as {
    size: [number, number];
    jump: [number, number];
    start: [number, number];
  };
  assert.deepEqual(fieldWindow(f, 0, 0, 28, 28), [0, 0, 3, 3]);
  assert.deepEqual(fieldWindow(f, 10, 20, 28, 28), [8, 18, 5, 5]);
  assert.deepEqual(fieldWindow(f, 0, 27, 28, 28, false), [0, 23, 5, 5]);
  const big = { size: [68, 68], jump: [8, 8], start: [3.5, 3.5] } as typeof f;
  assert.deepEqual(fieldWindow(big, 1, 1, 28, 28, false), [0, 0, 28, 28]);
  assert.deepEqual(fieldWindow({ ...f, global: true }, 3, 3, 28, 28), [0, 0, 28, 28]);
});
