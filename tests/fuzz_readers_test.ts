/**
 * Fuzzing the run-directory readers with seeded random input: run.json (validateRunInfo,
 * readRunInfo, listRuns), metrics/events lines (parseLines, readJsonLines with offsets, growth
 * and resets), viz index, evaluation, heartbeat and checkpoint manifests. Most inputs go
 * through the pure parsers in memory, a smaller share through files. Every reader must return
 * or throw its documented error (never a TypeError and the like), keep its output well typed,
 * and a listing must never fail because of one run. The counts are printed.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import {
  isMetricsRecord,
  isRunEvent,
  listRuns,
  parseLines,
  READ_CHUNK_BYTES,
  readJsonLines,
  readRunInfo,
  RunFileError,
  validateRunInfo,
} from "../core/run/reader.ts";
import { hasVizIndex, readEvaluation, readVizIndex } from "../core/run/artifacts.ts";
import { heartbeatStale, parseHeartbeat } from "../core/run/lock.ts";
import { sha256Hex, verifyCheckpoint } from "../core/run/model_io.ts";
import { listResumePoints } from "../core/run/checkpoints.ts";
import { summarize } from "../dashboard/api/runs.ts";
import { summarizeRun } from "../core/run/summary.ts";
import type { RunInfo } from "../core/run/format.ts";
import { fakeEpochRecord, fakeRunInfo } from "./helpers/fake_run.ts";
import { type Bytes, Fuzz, isAccidental } from "./helpers/fuzz.ts";

const SEED = 20261201;
const enc = new TextEncoder();
const dec = new TextDecoder();
const counts: Record<string, number> = {};
const count = (k: string, n = 1) => void (counts[k] = (counts[k] ?? 0) + n);

/** Fails with the seed and input number when `fn` throws an accidental error. */
function expectDocumented(what: string, i: number, err: unknown, allowed: RegExp): void {
  if (isAccidental(err) || !allowed.test((err as Error).message)) {
    throw new Error(
      `${what} #${i} (seed ${SEED}) threw ${(err as Error)?.name}: ${(err as Error)?.message}`,
    );
  }
}

const RUN_INFO_ERRORS = /not a JSON object|lacks "id" or "status"|has status /;
const READ_INFO_ERRORS =
  /^cannot read |is not valid JSON|not a JSON object|lacks "id" or "status"|has status /;

const isTime = (v: unknown) => typeof v === "string" && Number.isFinite(Date.parse(v));
const isCount = (v: unknown) => typeof v === "number" && Number.isInteger(v) && v >= 0;
const isObj = (v: unknown): v is Record<string, unknown> =>
  typeof v === "object" && v !== null && !Array.isArray(v);

/** What a validated RunInfo promises its users (the list, the dashboard, resume). */
function checkInfo(info: RunInfo, problems: string[], where: string): void {
  assert.equal(typeof info.id, "string", where);
  assert.ok(["running", "completed", "stopped", "failed"].includes(info.status), where);
  assert.equal(typeof info.experiment, "string", where);
  assert.ok(isObj(info.config) && isObj(info.versions), where);
  assert.equal(typeof info.createdAt, "string", where);
  assert.ok(info.createdAt === "" || isTime(info.createdAt), where);
  assert.ok(info.updatedAt === "" || isTime(info.updatedAt), where);
  assert.ok(info.endedAt === undefined || isTime(info.endedAt), where);
  assert.ok(isCount(info.epochs) && isCount(info.steps), where);
  assert.ok(info.pid === undefined || isCount(info.pid), where);
  assert.ok(info.backend === undefined || typeof info.backend.name === "string", where);
  assert.ok(info.test === undefined || typeof info.test.accuracy === "number", where);
  for (const b of Object.values(info.best ?? {})) {
    assert.ok(typeof b.value === "number" && typeof b.epoch === "number", where);
  }
  for (const p of problems) assert.equal(typeof p, "string", where);
  // What the list does with it: a summary and a sort by creation time.
  JSON.stringify(summarize(summarizeRun(info.id, `/runs/${info.id}`, info, { problems }), "/runs"));
  info.createdAt.localeCompare("");
}

/** A run.json value: a valid one with wrong-typed, missing or extra fields, or any JSON. */
function runInfoValue(f: Fuzz, i: number): unknown {
  if (f.chance(0.05)) return f.json(3);
  const base = fakeRunInfo(
    { id: `r${i}`, status: f.pick(["running", "completed", "stopped", "failed"] as const) },
    f.int(30),
    f.int(3000),
  );
  return f.mutateFields(base, f.pick([0.05, 0.2, 0.5]));
}

/** run.json text: JSON of {@link runInfoValue}, sometimes damaged at the byte level. */
function runInfoBytes(f: Fuzz, i: number): Bytes {
  const b = enc.encode(JSON.stringify(runInfoValue(f, i), null, f.chance() ? 2 : undefined));
  return f.chance(0.3) ? f.mutateBytes(b) : b;
}

/** One line of a JSON-lines file (without its newline), and whether it is a valid record. */
function jsonlLine(f: Fuzz, kind: "metrics" | "events"): { text: string; valid: boolean } {
  const record = kind === "metrics"
    ? {
      ...fakeEpochRecord(f.int(100), f.int(10_000), f.next() * 1e6),
      ...(f.chance(0.3) ? { batch: f.int(50) } : {}),
    }
    : {
      type: f.pick(["train_begin", "lr_changed", "checkpoint_saved"]),
      epoch: f.int(100),
      time: 1,
    };
  switch (f.int(9)) {
    case 0:
    case 1:
    case 2:
      return { text: JSON.stringify(record), valid: true };
    case 3: // wrong-typed or missing fields
      return { text: JSON.stringify(f.mutateFields(record, 0.5)), valid: false };
    case 4: // any JSON
      return { text: JSON.stringify(f.json(2)) ?? "null", valid: false };
    case 5: { // torn: a prefix of a record
      const t = JSON.stringify(record);
      return { text: t.slice(0, f.int(t.length)), valid: false };
    }
    case 6: // random bytes
      return { text: dec.decode(f.bytes(f.int(80))).replaceAll("\n", " "), valid: false };
    case 7: // a torn fragment followed by a whole record (crash, then resume)
      return {
        text: JSON.stringify(record).slice(0, 1 + f.int(10)) + JSON.stringify(record),
        valid: false,
      };
    default: // a long line
      return {
        text: JSON.stringify({
          ...record,
          pad: "y".repeat(f.int(f.chance(0.005) ? 300_000 : 3000)),
        }),
        valid: false,
      };
  }
}

function jsonlText(f: Fuzz, kind: "metrics" | "events", lines: number) {
  const parts = Array.from({ length: lines }, () => jsonlLine(f, kind));
  const sep = f.chance(0.1) ? "\r\n" : "\n";
  return { text: parts.map((p) => p.text).join(sep) + (f.chance(0.8) ? sep : ""), parts };
}

Deno.test("fuzz: validateRunInfo on random and damaged run.json values keeps its promises", () => {
  const f = new Fuzz(SEED);
  for (let i = 0; i < 35_000; i++) {
    let raw: unknown = runInfoValue(f, i);
    if (f.chance(0.3)) {
      try {
        raw = JSON.parse(dec.decode(f.mutateBytes(enc.encode(JSON.stringify(raw)))));
      } catch {
        raw = f.json(2);
      }
    }
    count("validateRunInfo");
    try {
      const { info, problems } = validateRunInfo(raw);
      checkInfo(info, problems, `validateRunInfo #${i}`);
    } catch (err) {
      if (err instanceof assert.AssertionError) throw err;
      expectDocumented("validateRunInfo", i, err, RUN_INFO_ERRORS);
    }
  }
});

Deno.test("fuzz: parseLines on random metrics and events text: typed records, no throw", () => {
  const f = new Fuzz(SEED + 1);
  for (let i = 0; i < 40_000; i++) {
    const kind = f.chance() ? "metrics" : "events";
    const { text, parts } = jsonlText(f, kind, 1 + f.int(12));
    const damaged = f.chance(0.2);
    const input = damaged ? dec.decode(f.mutateBytes(enc.encode(text))) : text;
    const isRecord: (v: unknown) => v is unknown = kind === "metrics"
      ? isMetricsRecord
      : isRunEvent;
    count(`parseLines.${kind}`);
    const res = parseLines(input, isRecord);
    for (const r of res.records) assert.ok(isRecord(r), `parseLines #${i}: untyped record`);
    const lines = input.split("\n").filter((l) => l.trim() !== "").length;
    assert.ok(res.skipped <= lines && res.records.length <= lines, `parseLines #${i}`);
    if (!damaged) {
      // every intact record line is read; every other line is a skip or a salvaged record
      const valid = parts.filter((p) => p.valid).length;
      assert.ok(res.records.length >= valid, `parseLines #${i}: lost a valid record`);
      // each line is a record or a skip, a torn fragment may be both (a salvaged record)
      const both = res.records.length + res.skipped;
      assert.ok(both >= lines && both <= 2 * lines, `parseLines #${i}: counts`);
    }
  }
});

Deno.test("fuzz: parseHeartbeat on random and damaged heartbeats", () => {
  const f = new Fuzz(SEED + 2);
  for (let i = 0; i < 30_000; i++) {
    const base = { host: "h", pid: 1 + f.int(1e6), token: crypto.randomUUID(), since: 1, time: 2 };
    let text = JSON.stringify(f.chance(0.1) ? f.json(2) : f.mutateFields(base, 0.3));
    if (f.chance(0.3)) text = dec.decode(f.mutateBytes(enc.encode(text ?? "")));
    count("parseHeartbeat");
    const hb = parseHeartbeat(text ?? "");
    if (hb) {
      assert.ok(
        typeof hb.host === "string" && typeof hb.pid === "number" &&
          typeof hb.token === "string" && typeof hb.time === "number",
        `parseHeartbeat #${i}`,
      );
      heartbeatStale(hb, 1e13);
    }
  }
});

Deno.test("fuzz: run.json files through readRunInfo and listRuns; special files never hang a listing", async () => {
  const f = new Fuzz(SEED + 3);
  const root = await Deno.makeTempDir({ prefix: "convdeck-fuzz-runs-" });
  const secret = await Deno.makeTempFile({ prefix: "convdeck-secret-" });
  await Deno.writeTextFile(secret, JSON.stringify({ id: "SECRET-OUTSIDE", status: "completed" }));
  try {
    for (let batch = 0; batch < 6; batch++) {
      const runs = join(root, `b${batch}`);
      await Deno.mkdir(runs);
      const n = 250;
      for (let i = 0; i < n; i++) {
        const dir = join(runs, `run-${i}`);
        await Deno.mkdir(dir);
        await Deno.writeFile(join(dir, "run.json"), runInfoBytes(f, i));
      }
      // odd ones in every batch
      await Deno.mkdir(join(runs, "fifo"));
      await new Deno.Command("mkfifo", { args: [join(runs, "fifo", "run.json")] }).output();
      await Deno.mkdir(join(runs, "link"));
      await Deno.symlink(secret, join(runs, "link", "run.json"));
      await Deno.mkdir(join(runs, "zero"));
      await Deno.symlink("/dev/zero", join(runs, "zero", "run.json"));
      await Deno.mkdir(join(runs, "dir", "run.json"), { recursive: true });
      await Deno.mkdir(join(runs, "huge"));
      await Deno.writeTextFile(
        join(runs, "huge", "run.json"),
        JSON.stringify({ id: "huge", status: "completed", pad: "z".repeat(2 << 20) }),
      );
      const odd = ["fifo", "link", "zero", "dir", "huge"];
      const t0 = performance.now();
      const list = await Promise.race([
        listRuns(runs),
        new Promise<never>((_, rej) => setTimeout(() => rej(new Error("listRuns hung")), 20_000)),
      ]);
      count("listRuns.runJson", n + odd.length);
      assert.equal(list.length, n + odd.length, "every folder with a run.json is listed");
      for (const e of list) {
        assert.ok((e.info === null) === (e.error !== undefined), e.id);
        if (e.info) checkInfo(e.info, e.problems ?? [], e.id);
        assert.ok(!JSON.stringify(e).includes("SECRET-OUTSIDE"), e.id);
      }
      for (const name of odd) {
        assert.equal(list.find((e) => e.id === name)?.info, null, `${name} must not be read`);
      }
      assert.ok(performance.now() - t0 < 20_000);
      for (let i = 0; i < n; i += 5) {
        count("readRunInfo");
        try {
          checkInfo(await readRunInfo(join(runs, `run-${i}`)), [], `readRunInfo ${i}`);
        } catch (err) {
          if (err instanceof assert.AssertionError) throw err;
          expectDocumented("readRunInfo", i, err, READ_INFO_ERRORS);
        }
      }
    }
  } finally {
    await Deno.remove(root, { recursive: true });
    await Deno.remove(secret);
  }
});

/** Reads `rel` to the end in steps of about `maxBytes`, following the offsets. */
async function readInSteps(dir: string, rel: string, maxBytes: number, since = 0) {
  const records: unknown[] = [];
  let offset = since;
  for (let guard = 0; guard < 1e6; guard++) {
    const res = await readJsonLines(dir, rel, isMetricsRecord, { sinceOffset: offset, maxBytes });
    records.push(...res.records);
    assert.ok(res.offset >= offset || res.reset, "offsets never go back");
    offset = res.offset;
    if (!res.more) break;
  }
  return { records, offset };
}

Deno.test("fuzz: readJsonLines on random files: offsets, steps, growth and resets agree with one read", async () => {
  const f = new Fuzz(SEED + 4);
  const dir = await Deno.makeTempDir({ prefix: "convdeck-fuzz-jsonl-" });
  const file = join(dir, "metrics.jsonl");
  try {
    for (let i = 0; i < 400; i++) {
      const big = i % 200 === 0; // a few files over several read chunks
      const { text } = jsonlText(f, "metrics", big ? 20_000 : 1 + f.int(40));
      let bytes: Bytes = enc.encode(text);
      if (f.chance(0.2)) bytes = f.mutateBytes(bytes);
      await Deno.writeFile(file, bytes);
      const one = await readJsonLines(dir, "metrics.jsonl", isMetricsRecord);
      count("readJsonLines.file");
      assert.ok(one.offset <= bytes.length && (one.offset === 0 || bytes[one.offset - 1] === 10));
      assert.ok(bytes.subarray(one.offset).indexOf(10) < 0, `#${i}: a complete line left unread`);
      for (const r of one.records) assert.ok(isMetricsRecord(r));
      const expected = JSON.stringify(one.records);
      // in steps of a few bytes (or a chunk), following offsets
      const steps = await readInSteps(
        dir,
        "metrics.jsonl",
        big ? READ_CHUNK_BYTES / 3 : 1 + f.int(2000),
      );
      count("readJsonLines.steps");
      assert.equal(JSON.stringify(steps.records), expected, `#${i}: steps differ from one read`);
      assert.equal(steps.offset, one.offset);
      // growing: the same bytes appended in random pieces, read after each append
      if (!big) {
        await Deno.writeFile(file, new Uint8Array(0));
        const grown: unknown[] = [];
        let offset = 0;
        for (let at = 0; at < bytes.length;) {
          const next = Math.min(bytes.length, at + 1 + f.int(Math.max(1, bytes.length / 4)));
          await Deno.writeFile(file, bytes.subarray(at, next), { append: true });
          at = next;
          const res = await readJsonLines(dir, "metrics.jsonl", isMetricsRecord, {
            sinceOffset: offset,
          });
          count("readJsonLines.growth");
          assert.ok(!res.reset);
          grown.push(...res.records);
          offset = res.offset;
        }
        assert.equal(JSON.stringify(grown), expected, `#${i}: growth differs from one read`);
      }
      // a random offset (mid-line), and one past the end (the file was replaced): a reset
      const since = f.int(bytes.length + 1);
      const mid = await readJsonLines(dir, "metrics.jsonl", isMetricsRecord, {
        sinceOffset: since,
      });
      // the lines that start at the offset or after it; the tail of a line cut is not a line
      const start = since === 0 || bytes[since - 1] === 10
        ? since
        : Math.min(bytes.length, bytes.indexOf(10, since) + 1 || bytes.length);
      const after = start < one.offset
        ? parseLines(dec.decode(bytes.subarray(start, one.offset)), isMetricsRecord).records
        : [];
      assert.equal(JSON.stringify(mid.records), JSON.stringify(after), `#${i}: from ${since}`);
      assert.equal(mid.offset, Math.max(start, one.offset));
      const past = await readJsonLines(dir, "metrics.jsonl", isMetricsRecord, {
        sinceOffset: bytes.length + 1 + f.int(1000),
      });
      count("readJsonLines.offsets", 2);
      assert.ok(past.reset);
      assert.equal(JSON.stringify(past.records), expected);
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("fuzz: a line over the 16 MB limit is skipped whole, its tail is never read as a record; memory bounded", async () => {
  const dir = await Deno.makeTempDir({ prefix: "convdeck-fuzz-huge-" });
  try {
    const rec = (e: number) => JSON.stringify(fakeEpochRecord(e, e, e));
    // A malformed 20 MB line whose tail would parse as a record on its own.
    const huge = "[" + " ".repeat(20 << 20) + rec(99);
    const text = `${rec(0)}\n${huge}\n${rec(1)}\n${rec(2)}\n`;
    await Deno.writeTextFile(join(dir, "metrics.jsonl"), text);
    const before = Deno.memoryUsage().rss;
    const res = await readJsonLines(dir, "metrics.jsonl", isMetricsRecord);
    count("readJsonLines.hugeLine");
    const grew = Deno.memoryUsage().rss - before;
    assert.deepEqual(res.records.map((r) => r.epoch), [0, 1, 2]);
    assert.equal(res.skipped, 1);
    assert.equal(res.offset, enc.encode(text).length);
    assert.ok(grew < 256 << 20, `reading a 20 MB line grew the process by ${grew >> 20} MB`);
    // the same, read in steps and while it grows (the huge line torn across appends)
    const steps = await readInSteps(dir, "metrics.jsonl", 4096);
    assert.deepEqual(steps.records.map((r) => (r as { epoch: number }).epoch), [0, 1, 2]);
    // an offset inside a malformed line: its tail is not read as a line of its own
    await Deno.writeTextFile(
      join(dir, "metrics.jsonl"),
      `[${" ".repeat(100)}${rec(98)}\n${rec(3)}\n`,
    );
    const inside = await readJsonLines(dir, "metrics.jsonl", isMetricsRecord, { sinceOffset: 5 });
    assert.deepEqual(inside.records.map((r) => r.epoch), [3]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("fuzz: viz index and evaluation files: a valid shape or a RunFileError", async () => {
  const f = new Fuzz(SEED + 5);
  const dir = await Deno.makeTempDir({ prefix: "convdeck-fuzz-reports-" });
  await Deno.mkdir(join(dir, "viz"));
  const viz = {
    format: 1,
    classNames: ["a", "b"],
    images: [{ file: "viz/images/0.png", label: 0, width: 8, height: 8 }],
    epochs: [{ epoch: 0, step: 1, filters: [], activations: [], gradcam: [] }],
  };
  const evaluation = {
    format: 1,
    split: "test",
    createdAt: "2026-01-01T00:00:00.000Z",
    examples: 3,
    accuracy: 0.5,
    loss: 1,
    classNames: ["a", "b"],
    perClass: [],
    confusion: [[1, 0], [1, 1]],
    wrong: [],
  };
  try {
    for (let i = 0; i < 2000; i++) {
      const which = i % 2 === 0 ? "viz" : "evaluation";
      const rel = which === "viz" ? "viz/index.json" : "evaluation.json";
      const value = f.chance(0.1) ? f.json(3) : f.mutateFields(which === "viz" ? viz : evaluation);
      let bytes: Bytes = enc.encode(JSON.stringify(value) ?? "");
      if (f.chance(0.3)) bytes = f.mutateBytes(bytes);
      await Deno.writeFile(join(dir, rel), bytes);
      count(`read.${which}`);
      try {
        if (which === "viz") {
          const v = await readVizIndex(dir);
          assert.ok(Array.isArray(v.images) && Array.isArray(v.epochs));
          await hasVizIndex(dir);
        } else {
          const e = await readEvaluation(dir);
          assert.ok(e && typeof e.accuracy === "number");
        }
      } catch (err) {
        if (err instanceof assert.AssertionError) throw err;
        assert.ok(err instanceof RunFileError, `${which} #${i}: ${err}`);
        assert.equal(err.rel, rel);
      }
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("fuzz: checkpoint manifests: verified, or an error naming the problem; never a file outside", async () => {
  const f = new Fuzz(SEED + 6);
  const runDir = await Deno.makeTempDir({ prefix: "convdeck-fuzz-ckpt-" });
  const dir = join(runDir, "checkpoints", "resume", "e0001");
  await Deno.mkdir(dir, { recursive: true });
  const outside = await Deno.makeTempFile();
  await Deno.writeTextFile(outside, "outside");
  const files: Record<string, Uint8Array> = {
    "weights.bin": f.bytes(512),
    "state.json": enc.encode('{"epoch":1}'),
  };
  const manifest = {
    format: 1,
    savedAt: "2026-01-01T00:00:00.000Z",
    files: {} as Record<string, unknown>,
  };
  for (const [name, b] of Object.entries(files)) {
    await Deno.writeFile(join(dir, name), b);
    manifest.files[name] = { sha256: await sha256Hex(b), bytes: b.length };
  }
  const names = ["weights.bin", "state.json", "../../../" + outside, outside, "..", "", "x/y"];
  try {
    for (let i = 0; i < 600; i++) {
      let value = f.mutateFields(manifest, 0.2) as Record<string, unknown>;
      if (f.chance(0.2) && isObj(value) && isObj(value.files)) {
        value.files[f.pick(names)] = { sha256: await sha256Hex(enc.encode("outside")), bytes: 7 };
      }
      if (f.chance(0.05)) value = f.json(3) as Record<string, unknown>;
      let bytes: Bytes = enc.encode(JSON.stringify(value) ?? "");
      if (f.chance(0.3)) bytes = f.mutateBytes(bytes);
      await Deno.writeFile(join(dir, "manifest.json"), bytes);
      count("verifyCheckpoint");
      try {
        const m = await verifyCheckpoint(dir);
        if (m) {
          for (const name of Object.keys(m.files)) assert.ok(name in files, `#${i}: ${name}`);
        }
      } catch (err) {
        if (err instanceof assert.AssertionError) throw err;
        assert.ok(!isAccidental(err), `verifyCheckpoint #${i}: ${(err as Error).stack}`);
      }
      count("listResumePoints");
      assert.equal((await listResumePoints(runDir)).length, 1);
    }
    // special manifests: a FIFO and a symlink to an endless device must not hang or fill memory
    for (const make of ["fifo", "zero"]) {
      await Deno.remove(join(dir, "manifest.json"));
      if (make === "fifo") {
        await new Deno.Command("mkfifo", { args: [join(dir, "manifest.json")] }).output();
      } else {
        await Deno.symlink("/dev/zero", join(dir, "manifest.json"));
      }
      count("verifyCheckpoint.special");
      const timeout = new Promise<never>((_, rej) =>
        setTimeout(() => rej(new Error(`${make} manifest hung`)), 10_000)
      );
      const err = await Promise.race([
        verifyCheckpoint(dir).then(() => undefined, (e) => e),
        timeout,
      ]);
      assert.ok(err instanceof Error && !isAccidental(err), `${make}: ${err}`);
      assert.match(err.message, /manifest\.json/);
      const points = await Promise.race([listResumePoints(runDir), timeout]);
      assert.equal(points.length, 1);
    }
  } finally {
    await Deno.remove(runDir, { recursive: true });
    await Deno.remove(outside);
  }
});

Deno.test({
  name: "fuzz: reader input counts (at least 100,000 in all)",
  sanitizeOps: false,
  fn() {
    const total = Object.values(counts).reduce((a, b) => a + b, 0);
    console.log(`reader fuzz (seed ${SEED}): ${total} inputs: ${JSON.stringify(counts)}`);
    assert.ok(total >= 100_000, `only ${total} reader inputs`);
  },
});
