import assert from "node:assert/strict";
import {
  applyAugment,
  augmentImage,
  type AugmentParams,
  isIdentityAugment,
  sampleAugmentParams,
} from "../core/data/augment.ts";
import { denormalizePixels, normalizePixels, toRgba } from "../core/data/normalize.ts";
import { resizeBilinear } from "../core/data/resize.ts";
import { stratifiedHoldout } from "../core/data/holdout.ts";
import { ProgressLine } from "../core/format/progress.ts";

const NONE: AugmentParams = {
  flip: false,
  angle: 0,
  scale: 1,
  tx: 0,
  ty: 0,
  brightness: 0,
  contrast: 1,
};

/** A 4x4 one-channel image with value (row * 4 + col) / 16. */
function ramp(): Float32Array {
  return Float32Array.from({ length: 16 }, (_, i) => i / 16);
}

Deno.test("augment: flip, shift and rotation move pixels where they should", () => {
  const src = ramp();
  assert.deepEqual(applyAugment(src, [4, 4, 1], NONE), src);
  const flipped = applyAugment(src, [4, 4, 1], { ...NONE, flip: true });
  assert.deepEqual([...flipped.subarray(0, 4)].map((v) => v * 16), [3, 2, 1, 0]);
  const shifted = applyAugment(src, [4, 4, 1], { ...NONE, tx: 1 });
  // Shift right by one: column c shows source column c - 1, reflected at the left edge.
  assert.deepEqual([...shifted.subarray(0, 4)].map((v) => Math.round(v * 16)), [0, 0, 1, 2]);
  // A 90-degree turn (counter-clockwise on screen): the top row becomes the left column.
  const turned = applyAugment(src, [4, 4, 1], { ...NONE, angle: Math.PI / 2 });
  const col0 = [0, 1, 2, 3].map((r) => Math.round(turned[r * 4] * 16));
  assert.deepEqual(col0, [3, 2, 1, 0]);
  // Brightness and contrast, clipped to [0, 1].
  const bright = applyAugment(new Float32Array(4).fill(0.95), [2, 2, 1], {
    ...NONE,
    brightness: 0.1,
  });
  assert.deepEqual([...bright], [1, 1, 1, 1]);
  const contrast = applyAugment(new Float32Array([0.4, 0.6]), [1, 2, 1], { ...NONE, contrast: 2 });
  assert.deepEqual([...contrast].map((v) => +v.toFixed(5)), [0.3, 0.7]);
});

Deno.test("augment: parameters are a pure function of (options, seed, index)", () => {
  const opts = {
    flip: true,
    translate: 0.1,
    rotate: 15,
    zoom: 0.2,
    brightness: 0.1,
    contrast: 0.2,
  };
  const a = sampleAugmentParams(opts, 7, 3, 32, 32);
  assert.deepEqual(sampleAugmentParams(opts, 7, 3, 32, 32), a);
  assert.notDeepEqual(sampleAugmentParams(opts, 8, 3, 32, 32), a);
  assert.notDeepEqual(sampleAugmentParams(opts, 7, 4, 32, 32), a);
  assert.ok(Math.abs(a.angle) <= (15 * Math.PI) / 180);
  assert.ok(a.scale >= 0.8 && a.scale <= 1.2);
  assert.ok(Math.abs(a.tx) <= 3.2 && Math.abs(a.ty) <= 3.2);
  // Flips happen about half the time over many examples; off when not asked for.
  let flips = 0;
  for (let i = 0; i < 1000; i++) flips += sampleAugmentParams(opts, 1, i, 8, 8).flip ? 1 : 0;
  assert.ok(flips > 400 && flips < 600, `${flips} flips of 1000`);
  assert.equal(sampleAugmentParams({ rotate: 5 }, 1, 0, 8, 8).flip, false);
  assert.ok(isIdentityAugment({}) && isIdentityAugment(false) && !isIdentityAugment({ zoom: 0.1 }));
  const img = Float32Array.from({ length: 8 * 8 * 3 }, (_, i) => (i % 17) / 17);
  assert.deepEqual(
    augmentImage(img, [8, 8, 3], opts, 9, 2),
    augmentImage(img, [8, 8, 3], opts, 9, 2),
  );
});

Deno.test("normalize: x / 255 and back is exact for every byte", () => {
  const bytes = Uint8Array.from({ length: 256 }, (_, i) => i);
  const x = normalizePixels(bytes);
  assert.equal(x[255], 1);
  assert.equal(x[0], 0);
  assert.deepEqual([...denormalizePixels(x)], [...bytes]);
  assert.deepEqual([...toRgba(new Uint8Array([7]), 1)], [7, 7, 7, 255]);
  assert.deepEqual([...toRgba(new Uint8Array([1, 2, 3]), 3)], [1, 2, 3, 255]);
});

Deno.test("resize: bilinear with half-pixel centres", () => {
  assert.deepEqual([...resizeBilinear(new Uint8Array([0, 100]), 1, 2, 1, 1, 4)], [0, 25, 75, 100]);
  assert.deepEqual([...resizeBilinear(new Uint8Array([10, 20, 30, 40]), 2, 2, 1, 1, 1)], [25]);
});

Deno.test("stratified holdout: per class, seeded, disjoint", () => {
  const labels = [0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 2];
  const a = stratifiedHoldout(labels, 0.4, 3);
  assert.deepEqual(stratifiedHoldout(labels, 0.4, 3), a);
  assert.deepEqual(a.heldOut.map((i) => labels[i]).sort(), [0, 0, 1, 1]);
  assert.equal(a.kept.length + a.heldOut.length, labels.length);
  assert.ok(a.kept.includes(10), "a class with one example stays in train");
  assert.throws(() => stratifiedHoldout(labels, 1, 1), /fraction must be in \[0, 1\)/);
});

Deno.test("progress line: one line per 10% when not a terminal, then the total", () => {
  const out: string[] = [];
  let t = 0;
  const bar = new ProgressLine("decoding", 100, {
    stream: { write: (s) => out.push(s) },
    isTTY: false,
    now: () => t,
  });
  for (let i = 1; i <= 100; i++) {
    t += 200;
    bar.update(i);
  }
  bar.finish();
  assert.equal(out.length, 10);
  assert.equal(out[0], "decoding  10/100 [10%]  eta 0:18\n");
  assert.equal(out[9], "decoding  100/100  0:20\n");
  assert.ok(out.every((s) => !s.includes("\r") && !s.includes("\x1b")), "no control characters");
});
