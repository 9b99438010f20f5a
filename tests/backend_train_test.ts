/**
 * The book's model trains on wasm through the trainer's own `trainStep` (forward, every
 * gradient kernel, Adam's update ops) and its loss goes down on a learnable fixture.
 */
import * as tf from "@tensorflow/tfjs-core";
import assert from "node:assert/strict";
import { initBackend } from "../core/backend/select.ts";
import { trainStep } from "../core/train/train_step.ts";
import { bookConvnet } from "../core/models/book_convnet.ts";
import { colourBatch } from "./backend_util.ts";

Deno.test("book convnet trains on wasm through trainStep", async () => {
  const choice = await initBackend("wasm", { log: () => {} });
  assert.equal(choice.name, "wasm");
  assert.equal(tf.getBackend(), "wasm");
  const model = bookConvnet([32, 32, 3], 3, { seed: 1 });
  const optimizer = tf.train.adam(1e-3);
  const { x, y } = colourBatch(12, 32, 3, 7);
  const before = tf.memory().numTensors;
  const losses: number[] = [];
  for (let i = 0; i < 8; i++) {
    const { loss, acc } = await trainStep(model, optimizer, x, y, 3);
    assert(Number.isFinite(loss), `step ${i}: loss ${loss}`);
    assert(acc >= 0 && acc <= 1);
    losses.push(loss);
  }
  console.log(`  losses: ${losses.map((l) => l.toFixed(4)).join(" ")}`);
  assert(losses[7] < losses[0] - 0.05, `loss did not go down: ${losses.join(", ")}`);
  // Adam creates its slots on the first step; after that no tensor leaks.
  const after = tf.memory().numTensors;
  await trainStep(model, optimizer, x, y, 3);
  assert.equal(tf.memory().numTensors, after, "trainStep leaked tensors");
  assert(after >= before);
  x.dispose();
  y.dispose();
  optimizer.dispose();
  model.dispose();
});
