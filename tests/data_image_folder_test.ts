import assert from "node:assert/strict";
import { loadImageFolder, loadImageFolderFor } from "../core/data/image_folder.ts";
import type { ImageFolderOptions } from "../core/data/image_folder.ts";
import { DataError } from "../core/data/data_error.ts";
import { imageMakers as make, type Rgb, writeFileMkdir } from "./data_fixtures.ts";

const RED: Rgb = [255, 0, 0];
const GREEN: Rgb = [0, 255, 0];
const BLUE: Rgb = [0, 0, 255];
const SIZE = 8;

/** Options every test uses: small images, messages collected instead of printed. */
function quiet(messages: string[], extra: ImageFolderOptions = {}): ImageFolderOptions {
  return { imageSize: SIZE, log: (m) => messages.push(m), progress: false, ...extra };
}

async function withTempDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "convdeck-data-test-" });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/** Mean RGB (0..255) of image `k` of a batch. */
function meanRgb(x: Float32Array, k: number, size = SIZE): number[] {
  const n = size * size;
  const sum = [0, 0, 0];
  for (let p = 0; p < n; p++) for (let c = 0; c < 3; c++) sum[c] += x[(k * n + p) * 3 + c];
  return sum.map((s) => (s / n) * 255);
}

/** RGB (0..255) of pixel (row, col) of image `k`. */
function pixel(x: Float32Array, k: number, row: number, col: number, size = SIZE): number[] {
  const i = ((k * size + row) * size + col) * 3;
  return [x[i] * 255, x[i + 1] * 255, x[i + 2] * 255];
}

function assertNear(actual: number[], expected: number[], tol: number, what: string) {
  for (let c = 0; c < 3; c++) {
    assert.ok(
      Math.abs(actual[c] - expected[c]) <= tol,
      `${what}: got [${actual.map((v) => v.toFixed(1))}], expected [${expected}] within ${tol}`,
    );
  }
}

/** Writes one valid image of each format and mode under `dir/train/`, returns name -> class. */
async function writeAllFormats(dir: string): Promise<void> {
  const t = `${dir}/train`;
  await writeFileMkdir(`${t}/reds/solid.png`, await make.png(RED));
  await writeFileMkdir(`${t}/reds/photo.jpg`, await make.jpeg(RED));
  await writeFileMkdir(`${t}/reds/pic.webp`, await make.webp(RED));
  await writeFileMkdir(`${t}/reds/anim.gif`, await make.animatedGif(RED, BLUE));
  await writeFileMkdir(`${t}/reds/cmyk.jpg`, await make.cmykJpeg(RED));
  await writeFileMkdir(`${t}/reds/deep.png`, await make.png16(RED));
  await writeFileMkdir(`${t}/reds/my photo (1).png`, await make.png(RED));
  await writeFileMkdir(`${t}/reds/café ☕ 日本.png`, await make.png(RED));
  await writeFileMkdir(`${t}/grays/gray.png`, await make.grayPng(128));
  await writeFileMkdir(`${t}/grays/clear.png`, await make.rgbaPng(BLUE, 0));
  await writeFileMkdir(`${t}/grays/opaque-alpha.png`, await make.rgbaPng(GREEN, 255));
  await writeFileMkdir(`${t}/grays/rotated.jpg`, await make.exifRotatedJpeg(RED, BLUE));
}

Deno.test("image folder: every format and mode decodes to upright RGB with the right labels", async () => {
  await withTempDir(async (dir) => {
    await writeAllFormats(dir);
    const messages: string[] = [];
    const data = await loadImageFolder(dir, quiet(messages, { valFraction: 0 }));
    try {
      assert.deepEqual(data.classNames, ["grays", "reds"]);
      assert.deepEqual(data.imageShape, [SIZE, SIZE, 3]);
      assert.equal(data.train.size, 12);
      assert.equal(data.val, undefined);
      assert.equal(data.info.skipped.count, 0, messages.join("\n"));
      const all = Array.from({ length: data.train.size }, (_, i) => i);
      const { x, y } = await data.train.batch(all);
      assert.equal(x.length, 12 * SIZE * SIZE * 3);
      // Examples are sorted by path: grays/{clear,gray,opaque-alpha,rotated}, then reds/...
      assert.deepEqual([...y], [0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1]);
      const names = [
        "clear",
        "gray",
        "opaque-alpha",
        "rotated",
        "anim",
        "café",
        "cmyk",
        "deep",
        "my photo",
        "photo",
        "pic",
        "solid",
      ];
      assertNear(meanRgb(x, 0), [255, 255, 255], 0.5, "transparent PNG is composited on white");
      assertNear(meanRgb(x, 1), [128, 128, 128], 0.5, "1-band gray PNG becomes RGB gray");
      assertNear(meanRgb(x, 2), [0, 255, 0], 0.5, "RGBA opaque green");
      // EXIF orientation 6: stored red-left/blue-right is shown red on top, blue at the bottom.
      assertNear(pixel(x, 3, 0, SIZE - 1), [255, 0, 0], 40, "rotated: top right is red");
      assertNear(pixel(x, 3, SIZE - 1, 0), [0, 0, 255], 40, "rotated: bottom left is blue");
      for (let k = 4; k < 12; k++) {
        const tol = names[k] === "cmyk" ? 60 : names[k] === "photo" ? 6 : 0.5;
        assertNear(meanRgb(x, k), [255, 0, 0], tol, `${names[k]} is red`);
      }
      // A lossless solid red PNG is exactly (1, 0, 0) after normalisation.
      assert.deepEqual(pixel(x, 11, 3, 4), [255, 0, 0]);
      assert.equal(x[11 * SIZE * SIZE * 3], 1);
      // denormalize gives back the exact bytes.
      const one = x.subarray(11 * SIZE * SIZE * 3, 12 * SIZE * SIZE * 3);
      assert.deepEqual([...data.denormalize(one).subarray(0, 6)], [255, 0, 0, 255, 0, 0]);
      assert.deepEqual([...(await data.train.labels())], [...y]);
    } finally {
      await data.close();
    }
  });
});

Deno.test("image folder: bad files are skipped, listed once with the fix, and kept in info", async () => {
  await withTempDir(async (dir) => {
    await writeFileMkdir(`${dir}/train/cats/ok.png`, await make.png(RED));
    await writeFileMkdir(`${dir}/train/cats/notes.txt`, "this is not an image\n");
    await writeFileMkdir(`${dir}/train/cats/half.jpg`, await make.truncatedJpeg());
    await writeFileMkdir(`${dir}/train/cats/zero.jpg`, new Uint8Array(0));
    await writeFileMkdir(`${dir}/train/cats/locked.png`, await make.png(RED));
    await writeFileMkdir(`${dir}/train/cats/.DS_Store`, "junk"); // ignored silently
    await writeFileMkdir(`${dir}/train/dogs/ok.png`, await make.png(BLUE));
    await writeFileMkdir(`${dir}/train/stray.png`, await make.png(BLUE));
    await Deno.mkdir(`${dir}/train/birds`, { recursive: true }); // empty class folder
    await writeFileMkdir(`${dir}/val/cats/ok.png`, await make.png(RED));
    // Tests run as root, which reads any file whatever its mode, so an unreadable file is
    // simulated by a reader that fails the way Deno does for a mode-000 file.
    const readFile = (path: string) =>
      path.endsWith("locked.png")
        ? Promise.reject(new Deno.errors.PermissionDenied(`Permission denied: ${path}`))
        : Deno.readFile(path);
    const messages: string[] = [];
    const data = await loadImageFolder(dir, quiet(messages, { readFile }));
    try {
      assert.deepEqual(data.classNames, ["birds", "cats", "dogs"]);
      assert.equal(data.train.size, 2);
      assert.equal(data.val?.size, 1);
      const skipped = data.info.skipped;
      assert.equal(skipped.count, 4);
      assert.deepEqual(skipped.files.map((f) => f.file), [
        "train/cats/half.jpg",
        "train/cats/locked.png",
        "train/cats/notes.txt",
        "train/cats/zero.jpg",
      ]);
      const [half, locked, notes, zero] = skipped.files.map((f) => f.reason);
      assert.match(half, /corrupt or truncated jpeg/);
      assert.match(locked, /permission denied/);
      assert.match(notes, /not an image/);
      assert.match(zero, /empty file/);
      // The list is printed once, each file with its fix.
      const lists = messages.filter((m) => m.startsWith("skipped 4 bad files"));
      assert.equal(lists.length, 1, messages.join("\n"));
      assert.match(
        lists[0],
        /train\/cats\/notes\.txt: not an image.*remove it from the class folder/,
      );
      assert.match(lists[0], /train\/cats\/half\.jpg: corrupt.*re-download or re-export it/);
      assert.match(lists[0], /train\/cats\/locked\.png: .*permission denied.*chmod a\+r/);
      assert.match(lists[0], /--strict-data/);
      const text = messages.join("\n");
      assert.match(text, /train\/birds\/ is empty: add images to it or delete the folder/);
      assert.match(text, /train\/stray\.png is not inside a class folder/);
      assert.match(text, /class "birds" has no folder in val\//);
      assert.match(text, /class "dogs" has no folder in val\//);
      assert.doesNotMatch(text, /DS_Store/);
    } finally {
      await data.close();
    }
    // strict: the same folder is one error naming every problem, before any training.
    await assert.rejects(
      () => loadImageFolder(dir, quiet([], { readFile, strict: true })),
      (e: Error) => {
        assert.ok(e instanceof DataError);
        for (const name of ["notes.txt", "half.jpg", "zero.jpg", "locked.png", "train/birds/"]) {
          assert.ok(e.message.includes(name), `strict error names ${name}:\n${e.message}`);
        }
        assert.match(e.message, /run without --strict-data/);
        return true;
      },
    );
  });
});

Deno.test("image folder: missing and empty folders give clear errors", async () => {
  await withTempDir(async (dir) => {
    await assert.rejects(
      () => loadImageFolder(`${dir}/nope`, quiet([])),
      (e: Error) =>
        e instanceof DataError && e.message.includes(`${dir}/nope`) &&
        e.message.includes("--data") && e.message.includes("train/<class>"),
    );
    await writeFileMkdir(`${dir}/file.txt`, "x");
    await assert.rejects(
      () => loadImageFolder(`${dir}/file.txt`, quiet([])),
      /is a file, not a folder/,
    );
    // Class folders without train/: the error says to move them.
    await writeFileMkdir(`${dir}/flat/cats/a.png`, await make.png(RED));
    await assert.rejects(
      () => loadImageFolder(`${dir}/flat`, quiet([])),
      /has no train\/ folder \(found: cats\).*move them into .*flat\/train\//s,
    );
    // train/ with class folders but no images.
    await Deno.mkdir(`${dir}/empty/train/cats`, { recursive: true });
    await assert.rejects(
      () => loadImageFolder(`${dir}/empty`, quiet([])),
      /train\/ in ".*empty" has no usable images/,
    );
    // train/ whose only file is bad.
    await writeFileMkdir(`${dir}/allbad/train/cats/x.jpg`, "not a jpeg");
    await assert.rejects(
      () => loadImageFolder(`${dir}/allbad`, quiet([])),
      /no usable images \(1 bad files: train\/cats\/x\.jpg\)/,
    );
  });
});

Deno.test("image folder: no or empty val/ holds out a seeded, stratified part of train", async () => {
  await withTempDir(async (dir) => {
    for (let i = 0; i < 10; i++) {
      await writeFileMkdir(`${dir}/train/a/${i}.png`, await make.png([i * 20, 0, 0]));
      await writeFileMkdir(`${dir}/train/b/${i}.png`, await make.png([0, i * 20, 0]));
    }
    await Deno.mkdir(`${dir}/val`); // present but empty
    await writeFileMkdir(`${dir}/test/a/t.png`, await make.png(RED));
    const messages: string[] = [];
    const load = (seed: number) =>
      loadImageFolder(dir, quiet(messages, { valFraction: 0.3, seed, augment: false }));
    const d1 = await load(1);
    const d2 = await load(1);
    const d3 = await load(2);
    try {
      assert.equal(d1.train.size, 14);
      assert.equal(d1.val?.size, 6);
      assert.equal(d1.test?.size, 1);
      assert.deepEqual([...(await d1.val!.labels())].sort(), [0, 0, 0, 1, 1, 1]);
      assert.match(d1.info.valSource, /30% of train\/ per class \(seed 1\)/);
      assert.ok(messages.some((m) => /val\/ has no images/.test(m)), messages.join("\n"));
      const all = (n: number) => Array.from({ length: n }, (_, i) => i);
      const v1 = await d1.val!.batch(all(6));
      const v2 = await d2.val!.batch(all(6));
      const v3 = await d3.val!.batch(all(6));
      assert.deepEqual(v1.x, v2.x, "same seed, same split");
      assert.notDeepEqual(v1.x, v3.x, "another seed, another split");
      // Held-out images are not in train.
      const t1 = await d1.train.batch(all(14));
      const key = (x: Float32Array, k: number) => meanRgb(x, k).map(Math.round).join(",");
      const trainKeys = new Set(all(14).map((k) => key(t1.x, k)));
      for (let k = 0; k < 6; k++) assert.ok(!trainKeys.has(key(v1.x, k)));
    } finally {
      await Promise.all([d1.close(), d2.close(), d3.close()]);
    }
  });
});

Deno.test("image folder: the second load decodes nothing; a changed file is decoded again", async () => {
  await withTempDir(async (dir) => {
    await writeAllFormats(dir);
    await writeFileMkdir(`${dir}/train/reds/notes.txt`, "not an image");
    const opts = quiet([], { valFraction: 0 });
    const first = await loadImageFolder(dir, opts);
    const firstBatch = await first.train.batch([0, 5, 11]);
    await first.close();
    assert.equal(first.info.cache.decoded, 12);
    assert.equal(first.info.cache.hits, 0);
    assert.equal(first.info.cache.dir, `${await Deno.realPath(dir)}/.convdeck-cache`);

    const second = await loadImageFolder(dir, opts);
    try {
      assert.equal(second.info.cache.decoded, 0);
      assert.equal(second.info.cache.hits, 13, "the bad file is remembered too");
      assert.equal(second.info.skipped.count, 1);
      assert.deepEqual(await second.train.batch([0, 5, 11]), firstBatch);
    } finally {
      await second.close();
    }

    // Rewrite one file (new size and mtime): only it is decoded.
    await Deno.writeFile(`${dir}/train/reds/solid.png`, await make.png(GREEN, 14, 9));
    const third = await loadImageFolder(dir, opts);
    try {
      assert.equal(third.info.cache.decoded, 1);
      assert.equal(third.info.cache.hits, 12);
      const { x } = await third.train.batch([11]);
      assertNear(meanRgb(x, 0), [0, 255, 0], 0.5, "the changed file's new pixels");
    } finally {
      await third.close();
    }
    // Another image size is another cache entry.
    const big = await loadImageFolder(dir, { ...opts, imageSize: 12 });
    assert.equal(big.info.cache.decoded, 12);
    await big.close();
    const files = [...Deno.readDirSync(`${dir}/.convdeck-cache`)].map((e) => e.name).sort();
    // Two live pixel files, and the one the rewrite superseded, kept a day for other readers.
    assert.equal(files.filter((f) => f.endsWith(".u8")).length, 3, files.join(" "));
    assert.equal(files.filter((f) => f.endsWith(".lock")).length, 0, files.join(" "));
    assert.equal(files.filter((f) => f.endsWith(".json")).length, 2, files.join(" "));
  });
});

Deno.test("image folder: cache folder override, fallback, temporary, and streaming from disk", async () => {
  await withTempDir(async (dir) => {
    const data = `${dir}/data`;
    await writeAllFormats(data);
    const opts = quiet([], { valFraction: 0 });
    const inMemory = await loadImageFolder(data, { ...opts, cacheDir: `${dir}/cache` });
    const all = Array.from({ length: 12 }, (_, i) => i);
    const expected = await inMemory.train.batch(all, { augmentSeed: 3 });
    assert.ok(inMemory.info.cache.dir.startsWith(`${dir}/cache/data-`));
    assert.equal(inMemory.info.cache.inMemory, true);
    await inMemory.close();
    // Larger than the memory budget: batches are read from the cache file, same values.
    const streamed = await loadImageFolder(data, {
      ...opts,
      cacheDir: `${dir}/cache`,
      memoryBudgetBytes: 100,
    });
    try {
      assert.equal(streamed.info.cache.decoded, 0);
      assert.equal(streamed.info.cache.inMemory, false);
      assert.deepEqual(await streamed.train.batch(all, { augmentSeed: 3 }), expected);
      const [a, b] = await Promise.all([streamed.train.batch([1, 2]), streamed.train.batch([2])]);
      assert.deepEqual(a.x.subarray(SIZE * SIZE * 3), b.x);
    } finally {
      await streamed.close();
    }
    // No writable cache in the data folder (here: a file in the way): falls back to
    // $XDG_CACHE_HOME/convdeck.
    await Deno.writeTextFile(`${data}/.convdeck-cache`, "in the way");
    const oldXdg = Deno.env.get("XDG_CACHE_HOME");
    Deno.env.set("XDG_CACHE_HOME", `${dir}/xdg`);
    try {
      const fallback = await loadImageFolder(data, opts);
      assert.ok(fallback.info.cache.dir.startsWith(`${dir}/xdg/convdeck/data-`));
      await fallback.close();
    } finally {
      if (oldXdg === undefined) Deno.env.delete("XDG_CACHE_HOME");
      else Deno.env.set("XDG_CACHE_HOME", oldXdg);
    }
    // cacheDir false: a temporary cache, removed by close().
    const temp = await loadImageFolder(data, { ...opts, cacheDir: false });
    assert.equal(temp.info.cache.decoded, 12);
    await temp.close();
    await assert.rejects(() => Deno.stat(temp.info.cache.dir), Deno.errors.NotFound);
  });
});

Deno.test("image folder: augmentation is a pure function of (seed, index), train only", async () => {
  await withTempDir(async (dir) => {
    for (let i = 0; i < 4; i++) {
      await writeFileMkdir(
        `${dir}/train/a/${i}.png`,
        await make.exifRotatedJpeg(RED, BLUE, 16, 16),
      );
      await writeFileMkdir(`${dir}/val/a/${i}.png`, await make.exifRotatedJpeg(RED, BLUE, 16, 16));
    }
    const data = await loadImageFolder(dir, quiet([]));
    try {
      const plain = await data.train.batch([0, 1, 2, 3]);
      const a = await data.train.batch([0, 1, 2, 3], { augmentSeed: 11 });
      const b = await data.train.batch([3, 2, 1, 0], { augmentSeed: 11 });
      const c = await data.train.batch([0, 1, 2, 3], { augmentSeed: 12 });
      const one = SIZE * SIZE * 3;
      for (let k = 0; k < 4; k++) {
        // Example k gets the same augmentation wherever it sits in the batch.
        assert.deepEqual(
          a.x.subarray(k * one, (k + 1) * one),
          b.x.subarray((3 - k) * one, (4 - k) * one),
        );
      }
      assert.notDeepEqual(a.x, plain.x);
      assert.notDeepEqual(a.x, c.x);
      for (const v of a.x) assert.ok(v >= 0 && v <= 1);
      // Val is never augmented.
      const v1 = await data.val!.batch([0, 1]);
      const v2 = await data.val!.batch([0, 1], { augmentSeed: 11 });
      assert.deepEqual(v1, v2);
      await assert.rejects(() => data.train.batch([4]), RangeError);
    } finally {
      await data.close();
    }
  });
});

Deno.test("image folder: loadImageFolderFor takes --data, image size, seed and --strict-data", async () => {
  const train = { epochs: 1, batchSize: 2, learningRate: 1e-3, imageSize: 6, seed: 3 };
  await assert.rejects(() => loadImageFolderFor(train), /pass --data DIR/);
  await withTempDir(async (dir) => {
    await writeFileMkdir(`${dir}/train/a/1.png`, await make.png(RED));
    await writeFileMkdir(`${dir}/train/a/2.png`, await make.png(RED));
    await writeFileMkdir(`${dir}/train/a/bad.png`, "nope");
    const data = await loadImageFolderFor({ ...train, data: dir }, quiet([], { imageSize: 6 }));
    assert.deepEqual(data.imageShape, [6, 6, 3]);
    assert.match(data.info.valSource, /seed 3/);
    await data.close();
    await assert.rejects(
      () =>
        loadImageFolderFor({ ...train, data: dir, strictData: true }, quiet([], { imageSize: 6 })),
      /train\/a\/bad\.png: not an image/,
    );
  });
});
