/**
 * The doc-test runner (`tools/readme_blocks.ts`): every ```` ```ts ```` block of README.md and
 * docs/*.md runs as written in a prepared folder and exits 0; blocks marked `ts ignore` say
 * why. The one ignored block, the callback plugin, is launched the way the README shows it.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { blockNeeds, docBlocks, ROOT, runDocBlocks } from "../tools/readme_blocks.ts";

Deno.test("doc blocks: every ts block of README.md and docs/*.md runs as written (exit 0); skipped ones say why", async () => {
  const outcomes = await runDocBlocks({ log: (l) => console.log(`  ${l}`) });
  const where = (o: (typeof outcomes)[number]) => `${o.block.file}:${o.block.line}`;
  const failed = outcomes.filter((o) => o.result && o.result.code !== 0)
    .map((o) => `${where(o)} exited ${o.result!.code}:\n${o.result!.output}`);
  assert.deepEqual(failed, [], failed.join("\n\n"));
  const unexplained = outcomes.filter((o) => o.status === "skipped" && !o.block.skip);
  assert.deepEqual(unexplained.map(where), [], '"ts ignore" needs a reason after it');
  const ran = outcomes.filter((o) => o.status === "ran");
  // The README's library example and tracking example are among them, and did their work.
  const lib = ran.find((o) =>
    /from "\.\/mod\.ts"/.test(o.block.code) && /predict\(/.test(o.block.code)
  );
  assert.ok(lib, "the README's predict() example was found and run");
  assert.match(lib.result!.output, /^muffin\.jpg .*\n^upload\.png /m);
  const track = ran.find((o) => /convdeck\/track"/.test(o.block.code));
  assert.ok(track, "the README's tracking example was found and run");
  assert.match(track.result!.output, /deno task runs show mlp-\d{8}-\d{6}/);
});

Deno.test("doc blocks: fences found with their lines (nested too), ignore reasons, what a block names", () => {
  const md = [
    "# Title", //  1
    "", //         2
    "```ts", //    3
    'await predict("runs/snacks-20261201-101010", ["muffin.jpg", { name: "a/up.PNG" }]);',
    "```", //      5
    "", //         6
    "- a list item", // 7
    "", //         8
    "  ```ts ignore a fragment", // 9
    "  x;", //     10
    "  ```", //    11
    "", //         12
    "```js", //    13
    "js();", //    14
    "```", //      15
    "~~~typescript", // 16
    'read("../secret.png", "/etc/x.jpg");',
    "~~~", //      18
    "```ts ignore", // 19
    "y;", //       20
    "```", //      21
  ].join("\n");
  const blocks = docBlocks(md, "X.md");
  assert.deepEqual(blocks.map((b) => [b.line, b.skip]), [
    [3, undefined],
    [9, "a fragment"],
    [16, undefined],
    [19, ""],
  ]);
  assert.equal(blocks[1].code, "x;\n");
  assert.deepEqual(blockNeeds(blocks[0].code), {
    runs: ["runs/snacks-20261201-101010"],
    images: ["muffin.jpg", "a/up.PNG"],
  });
  assert.deepEqual(blockNeeds(blocks[2].code), { runs: [], images: [] }, "nothing outside");
});

Deno.test("doc blocks: the README's callback plugin loads with the train --callback command shown after it", async () => {
  const readme = await Deno.readTextFile(join(ROOT, "README.md"));
  const plugin = docBlocks(readme, "README.md").find((b) => /^\/\/ my_plugin\.ts\n/.test(b.code));
  assert.ok(plugin?.skip, "the plugin block is marked ignore");
  const after = readme.split("\n").slice(plugin.line).join("\n");
  const command = /^ {4}deno task train (--callback '(\.\/my_plugin\.ts [^']*)')$/m.exec(after);
  assert.ok(command, "the README shows the command that loads it");
  const cwd = await Deno.makeTempDir({ prefix: "convdeck-doc-plugin-" });
  try {
    await Deno.writeTextFile(join(cwd, "my_plugin.ts"), plugin.code);
    // `deno task train` is `deno run -A cli/train.ts`: the same, from the plugin's folder.
    const out = await new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "-A",
        "--config",
        join(ROOT, "deno.json"),
        join(ROOT, "cli", "train.ts"),
        "--callback",
        command[2],
        "--epochs",
        "2",
        "--set",
        "width=4",
        "--runs",
        "runs",
      ],
      cwd,
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).output();
    const err = new TextDecoder().decode(out.stderr);
    assert.equal(out.code, 0, err);
    const [run] = await Array.fromAsync(Deno.readDir(join(cwd, "runs")));
    const events = (await Deno.readTextFile(join(cwd, "runs", run.name, "events.jsonl")))
      .trim().split("\n").map((l) => JSON.parse(l));
    const notes = events.filter((e) => e.type === "note");
    assert.deepEqual(notes.map((e) => e.epoch), [0], '{"every": 2}: a note at epoch 0 only');
    assert.match(notes[0].text, /^val_acc \d/);
  } finally {
    await Deno.remove(cwd, { recursive: true });
  }
});
