import assert from "node:assert/strict";
import "@tensorflow/tfjs-backend-cpu";
import { bookConvnet } from "../core/models/book_convnet.ts";
import { topologyChanges } from "../core/models/topology_diff.ts";
import { currentTopology } from "../core/run/model_io.ts";

Deno.test("topologyChanges: the book's convnet with valid against same padding", () => {
  const valid = currentTopology(bookConvnet([96, 96, 3], 20, { padding: "valid" }));
  const same = currentTopology(bookConvnet([96, 96, 3], 20));
  const again = currentTopology(bookConvnet([96, 96, 3], 20));
  assert.deepEqual(topologyChanges(same, again), [], "layer names and initializers are ignored");
  const changes = topologyChanges(valid, same);
  assert.equal(changes.length, 5, "at most 5 lines by default");
  assert.equal(changes[0], 'layer 1 (Conv2D): padding "valid" → "same"');
  assert.equal(topologyChanges(valid, same, 100).length, 8, "the 8 convolutions");
});

Deno.test("topologyChanges: layer count, class, input shape; nothing to compare", () => {
  const a = currentTopology(bookConvnet([32, 32, 3], 10));
  const b = currentTopology(bookConvnet([64, 64, 3], 10));
  assert.match(topologyChanges(a, b)[0], /^layer 1 \(Conv2D\): batch_input_shape \[null,32,32,3\]/);
  const t = (classes: string[]) => ({
    class_name: "Sequential",
    config: { layers: classes.map((c) => ({ class_name: c, config: {} })) },
  });
  assert.deepEqual(topologyChanges(t(["Dense", "Dense"]), t(["Dense", "Dropout"])), [
    "layer 2 (Dense) → Dropout",
  ]);
  assert.deepEqual(topologyChanges(t(["Dense"]), t(["Dense", "Dense"])), ["1 layers → 2 layers"]);
  assert.deepEqual(topologyChanges(undefined, a), [], "a weights-only checkpoint");
  assert.deepEqual(topologyChanges({ foo: 1 }, a), [], "a foreign topology");
});
