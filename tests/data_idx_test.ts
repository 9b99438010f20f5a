import assert from "node:assert/strict";
import { gzipSync } from "node:zlib";
import { loadIdxFolder, parseIdx, readIdxFile } from "../core/data/idx.ts";
import { DataError } from "../core/data/data_error.ts";

/** Builds an IDX file: type code, dims, values (big-endian). */
function idx(code: number, dims: number[], values: ArrayLike<number>): Uint8Array {
  const size = { 8: 1, 9: 1, 0xb: 2, 0xc: 4, 0xd: 4, 0xe: 8 }[code]!;
  const out = new Uint8Array(4 + 4 * dims.length + values.length * size);
  const view = new DataView(out.buffer);
  out[2] = code;
  out[3] = dims.length;
  dims.forEach((d, i) => view.setUint32(4 + 4 * i, d, false));
  const at = 4 + 4 * dims.length;
  for (let i = 0; i < values.length; i++) {
    const o = at + i * size;
    if (code === 8) view.setUint8(o, values[i]);
    else if (code === 9) view.setInt8(o, values[i]);
    else if (code === 0xb) view.setInt16(o, values[i], false);
    else if (code === 0xc) view.setInt32(o, values[i], false);
    else if (code === 0xd) view.setFloat32(o, values[i], false);
    else view.setFloat64(o, values[i], false);
  }
  return out;
}

/** `n` images of `h` x `w` where image i is filled with value 10 * i + label. */
function images(n: number, h: number, w: number): Uint8Array {
  const v = new Uint8Array(n * h * w);
  for (let i = 0; i < n; i++) v.fill(i * 2, i * h * w, (i + 1) * h * w);
  return idx(8, [n, h, w], v);
}

async function withTempDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "convdeck-idx-test-" });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("idx: parses every element type, big-endian", () => {
  assert.deepEqual(parseIdx(idx(8, [2, 2], [1, 2, 3, 255])).data, new Uint8Array([1, 2, 3, 255]));
  assert.deepEqual(parseIdx(idx(8, [2, 2], [1, 2, 3, 4])).shape, [2, 2]);
  assert.deepEqual(parseIdx(idx(9, [2], [-3, 4])).data, new Int8Array([-3, 4]));
  assert.deepEqual(parseIdx(idx(0xb, [2], [-300, 700])).data, new Int16Array([-300, 700]));
  assert.deepEqual(parseIdx(idx(0xc, [1], [-70000])).data, new Int32Array([-70000]));
  assert.deepEqual(parseIdx(idx(0xd, [1], [1.5])).data, new Float32Array([1.5]));
  assert.deepEqual(parseIdx(idx(0xe, [1], [-2.25])).data, new Float64Array([-2.25]));
});

Deno.test("idx: wrong magic, truncated and over-long files are clear errors", () => {
  const good = idx(8, [3, 2, 2], new Uint8Array(12));
  assert.throws(
    () => parseIdx(new Uint8Array([1, 2, 3, 4, 5]), "x.idx"),
    (e: Error) =>
      e instanceof DataError && /x\.idx: not an IDX file \(magic bytes 01 02 03 04/.test(e.message),
  );
  assert.throws(() => parseIdx(new Uint8Array([0, 0, 7, 1, 0, 0, 0, 1, 9])), /not an IDX file/);
  assert.throws(() => parseIdx(new Uint8Array([0, 0])), /truncated IDX file \(2 bytes/);
  assert.throws(() => parseIdx(good.subarray(0, 10)), /truncated IDX header \(10 of 16 bytes\)/);
  assert.throws(
    () => parseIdx(good.subarray(0, good.length - 1), "t.idx"),
    /t\.idx: truncated IDX file: the header promises 3x2x2 uint8 values \(12 bytes\) but only 11/,
  );
  const long = new Uint8Array(good.length + 3);
  long.set(good);
  assert.throws(() => parseIdx(long), /3 unexpected bytes after the 3x2x2 uint8 values/);
});

Deno.test("idx: reads gzipped and raw files; damaged gzip names the file", async () => {
  await withTempDir(async (dir) => {
    const bytes = idx(8, [2, 2], [5, 6, 7, 8]);
    await Deno.writeFile(`${dir}/a-ubyte`, bytes);
    await Deno.writeFile(`${dir}/a-ubyte.gz`, gzipSync(bytes));
    assert.deepEqual((await readIdxFile(`${dir}/a-ubyte`)).data, new Uint8Array([5, 6, 7, 8]));
    assert.deepEqual((await readIdxFile(`${dir}/a-ubyte.gz`)).data, new Uint8Array([5, 6, 7, 8]));
    const gz = gzipSync(idx(8, [1000], new Uint8Array(1000).map((_, i) => i * 7)));
    await Deno.writeFile(`${dir}/cut.gz`, gz.subarray(0, gz.length - 20));
    await assert.rejects(
      () => readIdxFile(`${dir}/cut.gz`),
      (e: Error) =>
        e instanceof DataError && e.message.includes(`${dir}/cut.gz`) &&
        /damaged gzip/.test(e.message),
    );
    await assert.rejects(() => readIdxFile(`${dir}/missing`), /"[^"]*missing" does not exist/);
  });
});

Deno.test("idx folder: MNIST names, seeded val from train, test from t10k, resize and RGB", async () => {
  await withTempDir(async (dir) => {
    const n = 20;
    const trainLabels = Array.from({ length: n }, (_, i) => i % 4);
    await Deno.writeFile(`${dir}/train-images-idx3-ubyte.gz`, gzipSync(images(n, 4, 4)));
    await Deno.writeFile(`${dir}/train-labels-idx1-ubyte.gz`, gzipSync(idx(8, [n], trainLabels)));
    await Deno.writeFile(`${dir}/t10k-images-idx3-ubyte`, images(3, 4, 4));
    await Deno.writeFile(`${dir}/t10k-labels-idx1-ubyte`, idx(8, [3], [3, 2, 1]));
    const data = await loadIdxFolder(dir, { valFraction: 0.2, seed: 5 });
    assert.deepEqual(data.imageShape, [4, 4, 1]);
    assert.deepEqual(data.classNames, ["0", "1", "2", "3"]);
    assert.equal(data.train.size, 16);
    assert.equal(data.val?.size, 4);
    assert.equal(data.test?.size, 3);
    assert.deepEqual([...(await data.val!.labels())].sort(), [0, 1, 2, 3]);
    const t = await data.test!.batch([0, 2]);
    assert.deepEqual([...t.y], [3, 1]);
    assert.equal(t.x.length, 2 * 16);
    assert.equal(t.x[16], Math.fround(4 / 255)); // image 2 is filled with 2 * 2
    assert.deepEqual([...data.denormalize!(t.x).subarray(16, 18)], [4, 4]);
    // Train examples keep their own label: image i has value 2i and label i % 4.
    const tr = await data.train.batch(Array.from({ length: 16 }, (_, i) => i));
    for (let k = 0; k < 16; k++) assert.equal((Math.round(tr.x[k * 16] * 255) / 2) % 4, tr.y[k]);
    // Same seed, same split; resized and replicated to RGB for an RGB model.
    const rgb = await loadIdxFolder(dir, {
      valFraction: 0.2,
      seed: 5,
      imageSize: 8,
      channels: 3,
      classNames: ["a", "b", "c", "d"],
    });
    assert.deepEqual(rgb.imageShape, [8, 8, 3]);
    assert.deepEqual(rgb.classNames, ["a", "b", "c", "d"]);
    assert.deepEqual(await rgb.val!.labels(), await data.val!.labels());
    const big = await rgb.test!.batch([2]);
    assert.equal(big.x.length, 8 * 8 * 3);
    assert.ok(big.x.every((v) => v === Math.fround(4 / 255)));
  });
});

Deno.test("idx folder: missing folder or files, count mismatch and bad labels are clear errors", async () => {
  await withTempDir(async (dir) => {
    await assert.rejects(() => loadIdxFolder(`${dir}/none`), /"[^"]*none" does not exist.*--data/);
    await Deno.writeFile(`${dir}/train-images-idx3-ubyte`, images(5, 2, 2));
    await assert.rejects(
      () => loadIdxFolder(dir),
      /has no train-labels-idx1-ubyte\[\.gz\] \(found: train-images-idx3-ubyte\)/,
    );
    await Deno.writeFile(`${dir}/train-labels-idx1-ubyte`, idx(8, [4], [0, 1, 0, 1]));
    await assert.rejects(
      () => loadIdxFolder(dir),
      /has 5 images but "[^"]*train-labels-idx1-ubyte" has 4 labels/,
    );
    await Deno.writeFile(`${dir}/train-labels-idx1-ubyte`, idx(8, [5], [0, 1, 0, 1, 7]));
    await assert.rejects(
      () => loadIdxFolder(dir, { classNames: ["a", "b"] }),
      /label 7 of example 4 is outside 0\.\.1 \(2 class names given\)/,
    );
    // Images and labels swapped: the image file is not 3-dimensional.
    await Deno.writeFile(`${dir}/train-images-idx3-ubyte`, idx(8, [5], [0, 1, 0, 1, 1]));
    await assert.rejects(() => loadIdxFolder(dir), /expected uint8 images .*is it the right file/);
    // A truncated image file names the file.
    const whole = images(5, 2, 2);
    await Deno.writeFile(`${dir}/train-images-idx3-ubyte`, whole.subarray(0, whole.length - 2));
    await assert.rejects(() => loadIdxFolder(dir), /train-images-idx3-ubyte": truncated IDX file/);
    // Without t10k files: a warning, no test split.
    await Deno.writeFile(`${dir}/train-images-idx3-ubyte`, whole);
    const messages: string[] = [];
    const data = await loadIdxFolder(dir, { log: (m) => messages.push(m) });
    assert.equal(data.test, undefined);
    assert.match(messages.join("\n"), /no t10k-images\/t10k-labels IDX files/);
  });
});
