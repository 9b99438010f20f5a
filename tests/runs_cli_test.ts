import assert from "node:assert/strict";
import { startLiveTrainer } from "./helpers/live_trainer.ts";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { main } from "../cli/runs.ts";
import { thisHost } from "../core/run/lock.ts";
import { FIXTURE_IDS as F, writeRunsFixture } from "./helpers/runs_fixture.ts";
import {
  RESUMED_ALIVE_MS,
  RESUMED_WALL_MS,
  writeFakeRun,
  writeResumedRun,
} from "./helpers/fake_run.ts";
import { createDashboardApp } from "../dashboard/mod.ts";
import { formatDuration } from "../core/format/duration.ts";

const CLI = fileURLToPath(new URL("../cli/runs.ts", import.meta.url));
const REPO = fileURLToPath(new URL("..", import.meta.url));

async function run(root: string, ...args: string[]) {
  const out: string[] = [], err: string[] = [];
  const code = await main(["--runs", root, ...args], (s) => out.push(s), (s) => err.push(s));
  return { code, out: out.join("\n"), err: err.join("\n") };
}

async function fixture() {
  return await writeRunsFixture(await Deno.makeTempDir());
}

const metaOf = async (root: string, id: string) =>
  JSON.parse(await Deno.readTextFile(join(root, id, "meta.json")));

Deno.test("runs list: newest first, archived hidden, the killed run crashed with its resume command", async () => {
  const root = await fixture();
  const r = await run(root, "list");
  assert.equal(r.code, 0, r.err);
  const lines = r.out.split("\n");
  // The hyperparameters that differ among the rows come after the learning rate.
  assert.match(
    lines[0],
    /^id\s+name\s+status\s+tags\s+learningRate\s+epochs\s+dropout\s+optimizer\s+width\s+best\.val_acc\s+test_acc/,
  );
  assert.ok(lines[1].startsWith(F.killed) && /\bcrashed\b/.test(lines[1]), lines[1]);
  assert.ok(!r.out.includes(F.archived), "archived hidden");
  assert.match(r.out, /5 of 5 matching runs \(6 in .*, 1 archived hidden: --archived\)/);
  assert.match(r.out, new RegExp(`${F.killed} crashed: deno task train --resume \\S+${F.killed}`));
  assert.ok(lines[2].startsWith(F.sgd));
  const all = await run(root, "list", "--archived");
  assert.ok(all.out.includes(F.archived));
});

Deno.test("runs list: the issue's query, sort, columns, group, paging, JSON", async () => {
  const root = await fixture();
  const q = await run(
    root,
    "list",
    "lr < 0.01 and val_acc > 0.9 and tag = baseline and status != crashed",
    "--json",
  );
  assert.equal(q.code, 0, q.err);
  const ids = JSON.parse(q.out).runs.map((c: { id: string }) => c.id);
  assert.deepEqual(ids.sort(), [F.lrSmall, F.lrMid].sort());
  const sorted = await run(root, "list", "--sort", "lr", "--asc", "--columns", "id,learningRate");
  assert.deepEqual(
    sorted.out.split("\n").slice(1, 6).map((l) => l.split(/\s+/)[0]),
    [F.lrSmall, F.killed, F.lrMid, F.sgd, F.lrBig],
  );
  const group = await run(root, "list", "--group", "optimizer", "--agg", "best.val_acc");
  assert.equal(group.code, 0, group.err);
  const adam = group.out.split("\n").find((l) => l.startsWith("adam"))!;
  // adam: lrSmall 0.945, lrMid 0.925, lrBig 0.7, killed (fixture curve value)
  assert.match(adam, /^adam\s+4\s+/);
  const sgd = group.out.split("\n").find((l) => l.startsWith("sgd"))!;
  assert.match(sgd, /^sgd\s+1\s+0\.9\s+0\.9\s+0\.9$/);
  const page = await run(root, "list", "--limit", "2", "--offset", "1", "--columns", "id");
  assert.deepEqual(page.out.split("\n").slice(1, 3), [F.sgd, F.lrBig]);
  assert.match(page.out, /2 of 5 matching runs/);
});

Deno.test("runs list: bad queries, columns and flags are errors pointing at the problem (exit 2)", async () => {
  const root = await fixture();
  const bad = await run(root, "list", "lr < < 0.1");
  assert.equal(bad.code, 2);
  assert.match(bad.err, /^error: bad query: .*at character 6: "< 0\.1"/);
  assert.equal(bad.err.trim().split("\n").length, 1, "one line");
  const unknown = await run(root, "list", "lrr < 0.1");
  assert.equal(unknown.code, 2);
  assert.match(unknown.err, /unknown column "lrr"; columns: id, name/);
  const missingAnd = await run(root, "list", "lr < 0.1 val_acc > 0.5");
  assert.match(missingAnd.err, /expected "and" or "or"/);
  assert.equal((await run(root, "list", "--sort", "nope")).code, 2);
  assert.equal((await run(root, "list", "--group", "nope")).code, 2);
  assert.equal((await run(root, "list", "--columns", "id,nope")).code, 2);
  assert.equal((await run(root, "list", "--limit", "ten")).code, 2);
  assert.equal((await run(root, "list", "--bogus")).code, 2);
  assert.equal((await run(root, "list", "lr", "<", "1")).code, 2, "unquoted query");
  assert.equal((await run(root, "frobnicate")).code, 2);
  assert.equal((await run(root)).code, 2);
  assert.equal((await run(root, "--help")).code, 0);
});

Deno.test("runs show: hyperparameters, metrics, crashed state with the resume command; unknown run is 1", async () => {
  const root = await fixture();
  const r = await run(root, "show", F.killed);
  assert.equal(r.code, 0, r.err);
  assert.match(r.out, /status\s+crashed \(dead-process\)/);
  assert.match(r.out, new RegExp(`resume with\\s+deno task train --resume \\S*${F.killed}`));
  assert.match(r.out, /dropout\s+0\.3/);
  const byPath = await run(root, "show", join(root, F.lrSmall), "--json");
  const j = JSON.parse(byPath.out);
  assert.equal(j.meta.name, "small lr");
  assert.equal(j.cells.learningRate, 0.001);
  const missing = await run(root, "show", "no-such-run");
  assert.equal(missing.code, 1);
  assert.match(missing.err, /no run no-such-run/);
  assert.equal((await run(root, "show")).code, 2);
  assert.equal((await run(root, "show", "../etc")).code, 1);
});

Deno.test("runs tag/untag/note/rename/archive/unarchive edit the sidecar; bad input changes nothing", async () => {
  const root = await fixture();
  const runJson = await Deno.readTextFile(join(root, F.sgd, "run.json"));
  assert.equal((await run(root, "tag", F.sgd, "sweep-1", "fast")).code, 0);
  assert.deepEqual((await metaOf(root, F.sgd)).tags, ["sweep-1", "fast"]);
  assert.equal((await run(root, "untag", F.sgd, "fast")).code, 0);
  assert.deepEqual((await metaOf(root, F.sgd)).tags, ["sweep-1"]);
  assert.equal((await run(root, "note", F.sgd, "diverged after epoch 5")).code, 0);
  assert.equal((await run(root, "rename", F.sgd, "plain sgd")).code, 0);
  let m = await metaOf(root, F.sgd);
  assert.equal(m.note, "diverged after epoch 5");
  assert.equal(m.name, "plain sgd");
  assert.equal(
    await Deno.readTextFile(join(root, F.sgd, "run.json")),
    runJson,
    "run.json untouched",
  );
  const found = await run(root, "list", "name ~ sgd and tag = sweep-1", "--columns", "id");
  assert.deepEqual(found.out.split("\n")[1], F.sgd);
  assert.equal((await run(root, "note", F.sgd, "")).code, 0);
  assert.equal((await run(root, "rename", F.sgd, "")).code, 0);
  m = await metaOf(root, F.sgd);
  assert.equal(m.note, undefined);
  assert.equal(m.name, undefined);
  assert.equal((await run(root, "archive", F.sgd, F.lrBig)).code, 0);
  assert.match((await run(root, "list")).out, /3 of 3 matching runs \(6 in .*3 archived hidden/);
  assert.equal((await run(root, "unarchive", F.lrBig)).code, 0);
  assert.equal((await metaOf(root, F.lrBig)).archived, false);
  // Bad input: nothing changes.
  const before = await Deno.readTextFile(join(root, F.sgd, "meta.json"));
  const badTag = await run(root, "tag", F.sgd, "has space");
  assert.equal(badTag.code, 2);
  assert.match(badTag.err, /a tag is 1\.\.64 letters/);
  assert.equal((await run(root, "tag", F.sgd)).code, 2);
  assert.equal((await run(root, "note", F.sgd)).code, 2);
  assert.equal((await run(root, "rename", F.sgd, "a", "b")).code, 2);
  assert.equal((await run(root, "rename", F.sgd, "bad\u0007name")).code, 1);
  assert.equal(await Deno.readTextFile(join(root, F.sgd, "meta.json")), before);
  const ghost = await run(root, "tag", "no-such-run", "x");
  assert.equal(ghost.code, 1);
  assert.match(ghost.err, /no run no-such-run/);
  assert.equal((await run(root, "archive", F.sgd, "no-such-run")).code, 1);
  assert.equal((await metaOf(root, F.sgd)).archived, true, "nothing archived twice, nothing new");
});

Deno.test("runs: a corrupt sidecar still lists the run with the problem; edits are refused", async () => {
  const root = await fixture();
  await Deno.writeTextFile(join(root, F.lrMid, "meta.json"), "{not json");
  const r = await run(root, "list");
  assert.equal(r.code, 0);
  assert.ok(r.out.includes(F.lrMid));
  assert.match(r.out, new RegExp(`${F.lrMid}: meta\\.json is corrupt`));
  const edit = await run(root, "tag", F.lrMid, "x");
  assert.equal(edit.code, 1);
  assert.match(edit.err, /corrupt .*nothing was changed/);
  assert.equal(await Deno.readTextFile(join(root, F.lrMid, "meta.json")), "{not json");
});

Deno.test("runs: concurrent edits from several processes lose nothing", async () => {
  const root = await fixture();
  const procs = Array.from({ length: 4 }, (_, p) =>
    new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "-A",
        CLI,
        "--runs",
        root,
        "tag",
        F.lrBig,
        ...[0, 1, 2].map((i) => `p${p}-${i}`),
      ],
      stdout: "null",
      stderr: "piped",
    }).output());
  const inProcess = Array.from({ length: 8 }, (_, i) => run(root, "tag", F.lrBig, `t${i}`));
  const results = await Promise.all([...procs, ...inProcess]);
  for (const r of results) assert.equal("code" in r ? r.code : 1, 0);
  const m = await metaOf(root, F.lrBig);
  assert.equal(m.tags.length, 4 * 3 + 8, JSON.stringify(m.tags));
  assert.equal(m.revision, 12);
});

Deno.test("runs delete: to the trash (a crashed run may go), a live run is refused, gc empties", async () => {
  const root = await fixture();
  const live = await writeFakeRun(root, { id: "live-run", status: "running", epochs: 1 });
  const now = Date.now();
  await Deno.writeTextFile(
    join(live, "heartbeat"),
    JSON.stringify({ host: thisHost(), pid: Deno.pid, token: "t", since: now, time: now }),
  );
  const refused = await run(root, "delete", "live-run");
  assert.equal(refused.code, 1);
  assert.match(refused.err, /live-run is running \(pid \d+ on .*\): stop it first/);
  assert.ok((await Deno.stat(live)).isDirectory);
  const del = await run(root, "delete", F.killed, F.lrBig);
  assert.equal(del.code, 0, del.err);
  const trash = [...Deno.readDirSync(join(root, ".trash"))].map((e) => e.name);
  assert.equal(trash.length, 2);
  assert.ok(!(await run(root, "list", "--archived")).out.includes(F.killed));
  assert.equal((await run(root, "delete", "no-such-run")).code, 1);
  assert.equal((await run(root, "delete")).code, 2);
  // The trash lists what it holds; a run comes back by its id.
  assert.match((await run(root, "trash")).out, new RegExp(`${F.killed}~\\S+\\s+[\\d.]+ MB`));
  assert.equal((await run(root, "restore", F.lrBig)).code, 0);
  assert.ok((await run(root, "list")).out.includes(F.lrBig));
  assert.equal((await run(root, "restore", F.lrBig)).code, 1, "no longer in the trash");
  assert.equal((await run(root, "restore")).code, 2);
  assert.equal((await run(root, "delete", F.lrBig)).code, 0);
  const gc = await run(root, "gc");
  assert.match(gc.out, /deleted 2 runs from the trash/);
  assert.deepEqual([...Deno.readDirSync(join(root, ".trash"))], []);
  assert.match((await run(root, "gc")).out, /the trash is empty/);
  assert.equal((await run(root, "gc", "extra")).code, 2);
});

Deno.test("runs export: every column of the matching runs as CSV or JSON", async () => {
  const root = await fixture();
  const out = join(await Deno.makeTempDir(), "runs.csv");
  const r = await run(root, "export", "optimizer = adam and status = completed", "--out", out);
  assert.equal(r.code, 0, r.err);
  const lines = (await Deno.readTextFile(out)).trim().split("\n");
  const header = lines[0].split(",");
  assert.ok(header.includes("learningRate") && header.includes("best.val_acc"));
  assert.ok(header.includes("width") && header.includes("test_acc"));
  assert.equal(lines.length, 1 + 3);
  const j = await run(root, "export", "tag = wide", "--format", "json");
  assert.deepEqual(JSON.parse(j.out).map((c: { id: string }) => c.id), [F.lrMid]);
  assert.equal((await run(root, "export", "--format", "xml")).code, 2);
  assert.equal((await run(root, "list", "--format", "csv")).code, 2);
});

Deno.test("runs: a training process killed with SIGKILL is running while alive, then crashed with its resume command (even before it is reaped)", async () => {
  const root = await Deno.makeTempDir();
  const { child, reader, dir } = await startLiveTrainer(root, 50, 100);
  const id = dir.split("/").pop()!;
  try {
    assert.match((await run(root, "show", id)).out, /status\s+running\n/);
    assert.equal((await run(root, "delete", id)).code, 1, "a live run is not deleted");
    child.kill("SIGKILL");
    // Not awaited yet: the killed child is a zombie until reaped, and already counts as gone.
    await new Promise((r) => setTimeout(r, 300));
    const shown = await run(root, "show", id);
    assert.match(shown.out, /status\s+crashed \(dead-process\)/);
    assert.match(shown.out, new RegExp(`resume with\\s+deno task train --resume \\S*${id}`));
    const listed = await run(root, "list");
    assert.match(listed.out, new RegExp(`${id}\\s.*crashed`));
  } finally {
    await reader.cancel().catch(() => {});
    await child.status;
  }
});

Deno.test("runs export defuses spreadsheet formulas; show and list escape control characters", async () => {
  const root = await fixture();
  const evil = '=HYPERLINK("http://x","click")';
  assert.equal((await run(root, "rename", F.sgd, evil)).code, 0);
  const csv = await run(root, "export", `id = ${F.sgd}`);
  assert.equal(csv.code, 0, csv.err);
  assert.ok(csv.out.includes(`"'=HYPERLINK(""http://x"",""click"")"`), csv.out);
  assert.ok(!/(^|,)=HYPERLINK/m.test(csv.out), "no live formula");
  // A note holding ESC/OSC/CSI sequences (retitle the terminal, clear the screen).
  const meta = await metaOf(root, F.sgd);
  meta.note = "hi\x1b]0;pwned\x07 \x9b2J\u202e";
  // Written beside and renamed, as a sync tool would (the folder's mtime tells the index).
  await Deno.writeTextFile(join(root, F.sgd, "meta.json.new"), JSON.stringify(meta));
  await Deno.rename(join(root, F.sgd, "meta.json.new"), join(root, F.sgd, "meta.json"));
  for (
    const args of [["show", F.sgd], ["show", F.sgd, "--json"], ["list", "--columns", "id,note"]]
  ) {
    const r = await run(root, ...args);
    assert.equal(r.code, 0, r.err);
    // deno-lint-ignore no-control-regex
    assert.ok(!/[\x1b\x07\x9b\u202e]/.test(r.out), `${args.join(" ")} printed raw controls`);
    assert.match(r.out, /hi\\(x1b|u001b)\]0;pwned/);
  }
});

Deno.test("runs list: aliases in --columns, --agg, --sort; each command has its own --help", async () => {
  const root = await fixture();
  const cols = await run(root, "list", "--columns", "id,lr,val_acc");
  assert.equal(cols.code, 0, cols.err);
  assert.match(cols.out.split("\n")[0], /^id\s+learningRate\s+best\.val_acc$/);
  const agg = await run(root, "list", "--group", "optimizer", "--agg", "val_acc");
  assert.equal(agg.code, 0, agg.err);
  assert.match(agg.out, /mean best\.val_acc/);
  const best = await run(root, "list", "--sort", "best.val_acc", "--columns", "id,val_acc");
  const accs = best.out.split("\n").slice(1).filter((l) => /\d\.\d/.test(l)).map((l) =>
    Number(l.trim().split(/\s+/)[1])
  );
  assert.ok(accs.length > 1 && accs.every((a, i) => i === 0 || accs[i - 1] >= a), `${accs}`);
  const listHelp = await run(root, "list", "--help");
  assert.equal(listHelp.code, 0);
  assert.match(listHelp.out, /^Usage: deno task runs \[--runs DIR\] list \[QUERY\]/);
  assert.doesNotMatch(listHelp.out, /Commands:/, "the list command's help, not the global one");
  const tagged = await run(root, "list", "tag = dropout or tag = wide", "--columns", "id");
  assert.equal(tagged.code, 0, tagged.err);
});

Deno.test("runs list and show: a resumed run's duration leaves out its dead time, as its run page does", async () => {
  const root = await Deno.makeTempDir();
  await writeResumedRun(root, "resumed");
  await writeFakeRun(root, { id: "plain", epochs: 2 });
  // As users launch it: `deno task runs`, with deno.json's permissions.
  const task = async (...args: string[]) => {
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["task", "runs", "--runs", root, ...args],
      cwd: REPO,
      stdout: "piped",
      stderr: "piped",
    }).output();
    const err = new TextDecoder().decode(out.stderr);
    assert.equal(out.code, 0, err);
    return new TextDecoder().decode(out.stdout);
  };
  // The run page's figure.
  const app = createDashboardApp({ runsDir: root });
  const page = (await (await app.request("/api/runs/resumed")).json()).summary.durationMs;
  assert.equal(page, RESUMED_ALIVE_MS, `alive, not the wall time ${RESUMED_WALL_MS}`);
  // The dashboard's runs table.
  const table = (await (await app.request("/api/runs")).json()).runs
    .find((r: { id: string }) => r.id === "resumed");
  assert.equal(table.durationMs, page);
  assert.equal(table.cells.duration * 1000, page);
  // runs list (JSON and the table), a query and a sort on duration, runs show.
  const listed = JSON.parse(await task("list", "--json")).runs
    .find((c: { id: string }) => c.id === "resumed");
  assert.equal(listed.duration * 1000, page);
  const text = await task("list", "duration < 100", "--columns", "id,duration");
  assert.match(text.split("\n")[1], new RegExp(`^resumed\\s+${formatDuration(page)}\\s*$`));
  assert.match(text, /1 of 1 matching runs/);
  const sorted = await task("list", "--sort", "duration", "--asc", "--columns", "id");
  assert.deepEqual(sorted.split("\n").slice(1, 3).map((l) => l.trim()), ["resumed", "plain"]);
  const shown = await task("show", "resumed");
  assert.match(shown, new RegExp(`\\n  duration\\s+${formatDuration(page)}\\n`));
});
