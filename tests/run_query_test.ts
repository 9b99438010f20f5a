/**
 * The runs query language (`core/run/query.ts`): bare words are values, `not` binds looser
 * than comparisons, `in`, `~` globs and bounded regexes, `is null`, statuses, long chains,
 * metric-direction sorting and errors that say the fix.
 */
import assert from "node:assert/strict";
import { compileQuery, QueryError, queryTable } from "../core/run/query.ts";
import { summarizeRun } from "../core/run/summary.ts";

const known = new Set([
  "id",
  "status",
  "tags",
  "dropout",
  "learningRate",
  "best.val_acc",
  "best.val_loss",
  "last.val_acc",
  "note",
  "name",
]);
const q = (text: string, cells: Record<string, unknown>) =>
  compileQuery(text, known).test(cells as never);

Deno.test("query: a bare word that is also a column is a value; backquotes name a column", () => {
  assert.equal(q("tag = dropout", { tags: ["dropout"], dropout: 0.3 }), true);
  assert.equal(q('tag = "dropout"', { tags: ["dropout"], dropout: 0.3 }), true);
  assert.equal(q("tag = v1.2", { tags: ["v1.2"] }), true);
  assert.equal(q("val_acc > `last.val_acc`", { "best.val_acc": 0.9, "last.val_acc": 0.8 }), true);
  assert.equal(q("val_acc > last.val_acc", { "best.val_acc": 0.9, "last.val_acc": 0.8 }), true);
});

Deno.test("query: not binds looser than comparisons; in, is null, ~ glob and regex", () => {
  assert.equal(q("not val_acc > 0.3", { "best.val_acc": 0.2 }), true);
  assert.equal(q("not val_acc > 0.3 and tag = a", { "best.val_acc": 0.2, tags: ["a"] }), true);
  assert.equal(q("tag in (a, b)", { tags: ["b"] }), true);
  assert.equal(q("tag not in (a, b)", { tags: ["c"] }), true);
  assert.equal(q("lr in (0.1, 0.01)", { learningRate: 0.01 }), true);
  assert.equal(q("note is null", {}), true);
  assert.equal(q("note is not null", { note: "x" }), true);
  assert.equal(q("tags is null", { tags: [] }), true);
  assert.equal(q('name ~ "res*net"', { name: "ResNet" }), true);
  assert.equal(q('name ~ "res*net"', { name: "a resnet b" }), false, "a glob is anchored");
  assert.equal(q("name ~ /^wide-\\d+$/", { name: "wide-12" }), true);
  assert.equal(q("name ~ sma", { name: "a small run" }), true, "plain text: contains");
  assert.throws(() => compileQuery("name ~ /(a+)+$/", known), /nested quantifiers/);
  assert.throws(() => compileQuery(`name ~ "${"x".repeat(201)}"`, known), /longer than 200/);
  assert.throws(() => compileQuery("name ~ /[/", known), /bad regular expression/);
});

Deno.test("query: statuses are case-insensitive and must exist", () => {
  assert.equal(q("status = FAILED", { status: "failed" }), true);
  assert.equal(q("status in (Crashed, pruned)", { status: "pruned" }), true);
  assert.throws(() => compileQuery("status = runing", known), /unknown status "runing" \(running/);
});

Deno.test("query: a 20,000-term and chain neither overflows nor slows", () => {
  const text = Array.from({ length: 20_000 }, (_, i) => `dropout != ${i + 1}`).join(" and ");
  const t0 = performance.now();
  assert.equal(q(text, { dropout: 0.5 }), true);
  assert.ok(performance.now() - t0 < 5000);
  assert.throws(() => compileQuery("(".repeat(100) + "dropout" + ")".repeat(100), known), /nest/);
});

Deno.test("query: errors are one line and say the fix", () => {
  const cases: [string, RegExp][] = [
    ["lr < < 0.1", /expected a value, got "<" \(at character 6: "< 0\.1"\)/],
    ["lrr < 0.1", /unknown column "lrr"; columns: id/],
    [
      "baseline",
      /unknown column "baseline".*a value needs a column before it, e\.g\. tag = baseline/,
    ],
    ["lr < 0.1 val_acc > 0.5", /expected "and" or "or" between conditions/],
    ["tag in a", /expected "\(" after in/],
    ["note is nothing", /expected null after is/],
    ['name = "open', /unclosed "/],
    ["(lr < 1", /expected "\)"/],
    ["lr < 1)", /unmatched "\)"/],
  ];
  for (const [text, re] of cases) {
    let err: unknown;
    try {
      compileQuery(text, known);
    } catch (e) {
      err = e;
    }
    assert.ok(err instanceof QueryError, `${text}: ${err}`);
    assert.match(err.message, re, text);
    assert.ok(!err.message.includes("\n"), `${text}: one line`);
  }
});

Deno.test("queryTable: --sort on a metric puts the best first by its direction", () => {
  const run = (id: string, acc: number, loss: number) => {
    const s = summarizeRun(id, `/runs/${id}`, null, {});
    return {
      ...s,
      best: { val_acc: { value: acc, epoch: 0 }, val_loss: { value: loss, epoch: 0 } },
    };
  };
  const runs = [run("a", 0.5, 0.9), run("b", 0.9, 0.2), run("c", 0.7, 0.5)];
  const ids = (sort: string, desc?: boolean) =>
    queryTable(runs, { sort, desc }).rows.map((r) => r.summary.id);
  assert.deepEqual(ids("best.val_acc"), ["b", "c", "a"]);
  assert.deepEqual(ids("val_acc"), ["b", "c", "a"], "alias of best.val_acc");
  assert.deepEqual(ids("best.val_loss"), ["b", "c", "a"], "loss: lowest first");
  assert.deepEqual(ids("best.val_acc", false), ["a", "c", "b"], "--asc still ascends");
});
