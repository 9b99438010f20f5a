/**
 * `core/fs/`: the one confinement policy (names, symlinks, file types, caps, `FsError`) and the
 * one atomic write (files, folders, temporary names, cleanup).
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import {
  appendConfinedSync,
  confine,
  existsConfined,
  FsError,
  listConfined,
  openConfinedAppend,
  readConfined,
  readConfinedTextSync,
  resolveInside,
  safeSegments,
} from "../core/fs/confine.ts";
import {
  ensureDirUnder,
  isTempName,
  moveEntry,
  removeTemps,
  tempPath,
  writeDirAtomic,
  writeFileAtomic,
  writeFileAtomicSync,
  writeNewFile,
} from "../core/fs/atomic.ts";
import { errorCode } from "../core/fs/os_error.ts";
import { guardFifos, makeFifo } from "./helpers/fifo.ts";

const status = (e: unknown) => (e instanceof FsError ? e.status : `not an FsError: ${e}`);

Deno.test("confine: names: no empty, dot, dot-dot, backslash, NUL, percent or absolute segment", () => {
  assert.deepEqual(safeSegments(""), []);
  assert.deepEqual(safeSegments("a/b.json"), ["a", "b.json"]);
  for (const bad of ["/etc", "a//b", "./a", "a/..", "a\\b", "a\0", "%2e%2e", "C:x"]) {
    assert.throws(() => safeSegments(bad), (e) => status(e) === 400, bad);
  }
});

Deno.test("confine: symlinks anywhere below the root are refused, the root itself may be one", async () => {
  const base = await Deno.makeTempDir();
  const real = join(base, "real");
  await Deno.mkdir(join(real, "viz"), { recursive: true });
  await Deno.writeTextFile(join(real, "viz", "a.json"), "{}");
  await Deno.symlink(real, join(base, "link-root"));
  // The root through a symlink: fine.
  assert.equal(
    await readConfined(join(base, "link-root"), "viz/a.json", 10).then((b) => b.length),
    2,
  );
  // A symlinked folder or file below it: refused (400), even pointing inside.
  await Deno.symlink(join(real, "viz"), join(real, "viz2"));
  await Deno.symlink(join(real, "viz", "a.json"), join(real, "viz", "b.json"));
  for (const rel of ["viz2/a.json", "viz/b.json"]) {
    const err = await readConfined(real, rel, 10).catch((e) => e);
    assert.equal(status(err), 400, rel);
    assert.match(err.message, /a symlink inside a run is never followed/);
    assert.ok(!err.message.includes(base), "no absolute path");
  }
  assert.equal(status(await readConfined(real, "viz/none.json", 10).catch((e) => e)), 404);
  assert.equal(await existsConfined(real, "viz/none.json"), false);
  await assert.rejects(existsConfined(real, "viz/b.json"), FsError);
  const { entries, skipped } = await listConfined(real, "viz");
  assert.deepEqual(entries.map((e) => e.name), ["a.json"]);
  assert.deepEqual(skipped, ["b.json"]);
  await assert.rejects(resolveInside(real, "viz2"), (e) => status(e) === 400);
  assert.equal(
    await resolveInside(real, "viz", "a.json"),
    join(await Deno.realPath(real), "viz", "a.json"),
  );
});

Deno.test("confine: FIFOs are refused before open; whole-file reads are capped", async () => {
  const root = await Deno.makeTempDir();
  await makeFifo(join(root, "pipe"));
  const err = await confine(root, "pipe").catch((e) => e);
  assert.equal(status(err), 400);
  assert.match(err.message, /^pipe is refused: not a regular file \(a FIFO\)$/);
  await Deno.writeFile(join(root, "big.bin"), new Uint8Array(100));
  const big = await readConfined(root, "big.bin", 99).catch((e) => e);
  assert.match(big.message, /big\.bin is 100 bytes, more than the 99 bytes allowed/);
  assert.equal((await readConfined(root, "big.bin", 100)).length, 100);
});

Deno.test("atomic: write-then-rename with one temporary scheme; no folder below a missing root", async () => {
  const root = await Deno.makeTempDir();
  assert.ok(isTempName(tempPath(join(root, "run.json")).split("/").pop()!));
  await writeFileAtomic(join(root, "a", "b", "c.json"), "1", { root });
  assert.equal(await Deno.readTextFile(join(root, "a", "b", "c.json")), "1");
  await writeFileAtomic(join(root, "a", "b", "c.json"), "2", { root });
  assert.equal(await Deno.readTextFile(join(root, "a", "b", "c.json")), "2");
  assert.deepEqual((await Array.fromAsync(Deno.readDir(join(root, "a", "b")))).length, 1);
  // Without a root the parent must exist.
  await assert.rejects(writeFileAtomic(join(root, "x", "y.json"), "1"), (e) => status(e) === 404);
  // A symlinked folder on the way is refused, never written through.
  const outside = await Deno.makeTempDir();
  await Deno.symlink(outside, join(root, "out"));
  await assert.rejects(
    writeFileAtomic(join(root, "out", "z.json"), "1", { root }),
    (e) => status(e) === 400,
  );
  await assert.rejects(ensureDirUnder(root, "out/deeper"), (e) => status(e) === 400);
  assert.deepEqual(await Array.fromAsync(Deno.readDir(outside)), []);
  // A file that exists is never opened by writeNewFile.
  await assert.rejects(
    writeNewFile(join(root, "a", "b", "c.json"), "3"),
    (e) => errorCode(e) === "EEXIST",
  );
});

Deno.test("atomic: folders replace folders whole; moves refuse to overwrite; leftovers are cleaned", async () => {
  const root = await Deno.makeTempDir();
  const target = join(root, "checkpoints", "best");
  await writeDirAtomic(target, (tmp) => writeNewFile(join(tmp, "w.bin"), "old"), { root });
  await writeDirAtomic(target, (tmp) => writeNewFile(join(tmp, "w2.bin"), "new"), { root });
  assert.deepEqual((await Array.fromAsync(Deno.readDir(target))).map((e) => e.name), ["w2.bin"]);
  // A failing fill leaves the old folder and no temporary.
  await assert.rejects(
    writeDirAtomic(target, () => Promise.reject(new Error("disk full")), { root }),
    /disk full/,
  );
  assert.deepEqual(
    (await Array.fromAsync(Deno.readDir(join(root, "checkpoints")))).map((e) => e.name),
    ["best"],
  );
  await Deno.mkdir(join(root, "a"));
  await Deno.mkdir(join(root, "b"));
  await Deno.writeTextFile(join(root, "b", "keep"), "x");
  await assert.rejects(moveEntry(join(root, "a"), join(root, "b")), (e) => status(e) === 409);
  await assert.rejects(moveEntry(join(root, "none"), join(root, "c")), (e) => status(e) === 404);
  // This scheme's and older schemes' temporaries (files and folders) go; other files stay.
  const dir = join(root, "checkpoints");
  await Deno.writeTextFile(join(dir, "run.json.77.0123abcd.tmp"), "");
  await Deno.mkdir(join(dir, "e0001.tmp-lq2x3-ab12cd"));
  await Deno.mkdir(join(dir, "e0001.old-lq2x3-ab12cd"));
  await Deno.writeTextFile(join(dir, ".optimizer.bin.tmp-lq2x3-ab12cd"), "");
  assert.equal(await removeTemps(dir), 4);
  assert.deepEqual((await Array.fromAsync(Deno.readDir(dir))).map((e) => e.name), ["best"]);
});

Deno.test("confine: every open refuses a FIFO without waiting on it (async, sync, append)", async () => {
  const root = await Deno.makeTempDir();
  const pipe = await makeFifo(join(root, "metrics.jsonl"));
  const cancel = guardFifos([pipe], 5_000); // a regression fails instead of hanging
  try {
    const t0 = performance.now();
    for (
      const attempt of [
        () => openConfinedAppend(root, "metrics.jsonl"),
        () => Promise.resolve().then(() => appendConfinedSync(root, "metrics.jsonl", "{}\n")),
        () => Promise.resolve().then(() => readConfinedTextSync(root, "metrics.jsonl", 100)),
      ]
    ) {
      const err = await attempt().then(() => undefined, (e) => e);
      assert.equal(status(err), 400);
      assert.match(err.message, /not a regular file \(a FIFO\)/);
    }
    assert.ok(performance.now() - t0 < 2_000, "refused at once");
  } finally {
    cancel();
  }
});

Deno.test("atomic: the synchronous write (exit handlers) keeps the same rules", async () => {
  const root = await Deno.makeTempDir();
  writeFileAtomicSync(join(root, "viz", "run.json"), "{}", { root });
  assert.equal(await Deno.readTextFile(join(root, "viz", "run.json")), "{}");
  assert.deepEqual((await Array.fromAsync(Deno.readDir(join(root, "viz")))).length, 1);
  const outside = await Deno.makeTempDir();
  await Deno.symlink(outside, join(root, "out"));
  assert.throws(
    () => writeFileAtomicSync(join(root, "out", "x"), "1", { root }),
    (e) => status(e) === 400,
  );
  await Deno.remove(root, { recursive: true });
  assert.throws(
    () => writeFileAtomicSync(join(root, "run.json"), "1", { root }),
    (e) => status(e) === 404,
  );
  assert.equal(await Deno.lstat(root).then(() => true, () => false), false, "root not re-created");
  assert.deepEqual(await Array.fromAsync(Deno.readDir(outside)), []);
});
