import assert from "node:assert/strict";
import { join } from "node:path";
import {
  CACHE_LOCK_STALE_MS,
  cacheKey,
  ensureCached,
  readCacheIndex,
} from "../core/data/image_cache.ts";
import type { ImageFile } from "../core/data/scan.ts";

const BYTES = 4 * 4 * 3;
const KEY = cacheKey(4, "squash", 1);

function files(n: number): ImageFile[] {
  return Array.from({ length: n }, (_, i) => ({
    split: "train",
    className: "c",
    rel: `train/c/${i}.png`,
    path: `/nowhere/${i}.png`,
    mtimeMs: 1000 + i,
    size: 100 + i,
  }));
}

const pixelsOf = (rel: string) =>
  new Uint8Array(BYTES).fill(Number(rel.match(/(\d+)\.png/)![1]) + 1);

/** A decoder that takes a while (so writers overlap) and counts its calls. */
function slowDecoder(counter: { calls: number }) {
  return async (f: ImageFile) => {
    counter.calls++;
    await new Promise((r) => setTimeout(r, 15));
    return pixelsOf(f.rel);
  };
}

async function assertPixels(dir: string, list: ImageFile[]) {
  const index = await readCacheIndex(dir, KEY, BYTES);
  assert.ok(index);
  const bin = await Deno.readFile(join(dir, index.bin));
  for (const f of list) {
    const slot: number = index.entries[f.rel][2];
    assert.deepEqual(bin.subarray(slot * BYTES, (slot + 1) * BYTES), pixelsOf(f.rel), f.rel);
  }
}

Deno.test("image cache: several writers at once decode each image once and share one cache", async () => {
  const dir = await Deno.makeTempDir();
  const list = files(24);
  const counter = { calls: 0 };
  const results = await Promise.all(
    Array.from(
      { length: 4 },
      () =>
        ensureCached({
          dir,
          key: KEY,
          imageBytes: BYTES,
          files: list,
          decode: slowDecoder(counter),
        }),
    ),
  );
  assert.equal(counter.calls, list.length, "every image decoded exactly once");
  assert.equal(results.reduce((a, r) => a + r.decoded, 0), list.length);
  assert.equal(new Set(results.map((r) => r.binPath)).size, 1, "all use the one pixel file");
  await assertPixels(dir, list);
  const names = [...Deno.readDirSync(dir)].map((e) => e.name);
  assert.deepEqual(names.filter((n) => n.endsWith(".lock") || n.endsWith(".tmp")), []);
  await Deno.remove(dir, { recursive: true });
});

Deno.test("image cache: a dead writer's lock is taken over; a live one is waited for", async () => {
  const dir = await Deno.makeTempDir();
  const list = files(6);
  const lock = join(dir, `${KEY}.lock`);
  await Deno.writeTextFile(lock, "otherhost 1\n");
  const old = new Date(Date.now() - CACHE_LOCK_STALE_MS - 5000);
  await Deno.utime(lock, old, old);
  const counter = { calls: 0 };
  const r = await ensureCached({
    dir,
    key: KEY,
    imageBytes: BYTES,
    files: list,
    decode: slowDecoder(counter),
  });
  assert.equal(r.decoded, 6);
  await assertPixels(dir, list);
  // A fresh lock: the writer waits until it goes, then finds the work done by nobody and does it.
  const more = files(8);
  await Deno.writeTextFile(lock, "otherhost 2\n");
  let finished = false;
  const p = ensureCached({
    dir,
    key: KEY,
    imageBytes: BYTES,
    files: more,
    decode: slowDecoder(counter),
  })
    .then((x) => {
      finished = true;
      return x;
    });
  await new Promise((r) => setTimeout(r, 700));
  assert.equal(finished, false, "waited for the live lock");
  await Deno.remove(lock);
  const r2 = await p;
  assert.deepEqual([r2.hits, r2.decoded], [6, 2]);
  await assertPixels(dir, more);
  await Deno.remove(dir, { recursive: true });
});
