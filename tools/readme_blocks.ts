/**
 * The doc-test runner: every ```` ```ts ```` code block of README.md and docs/*.md runs as
 * written and must exit 0. Each block is written into a module in the repository root (so
 * `./mod.ts` and `@convdeck/convdeck/...` imports resolve as they do for a user of this repo)
 * and run with `deno run -A` in a temp working folder prepared with what the block names: a
 * `runs/` folder, a tiny trained run (one epoch of the default experiment by
 * `deno task train`) at every `runs/<experiment>-<yyyymmdd>-<hhmmss>` path, and an image at
 * every quoted `.jpg`/`.jpeg`/`.png` file name.
 *
 * A block that cannot run on its own (a fragment, a plugin file meant for `--callback`) is
 * marked ```` ```ts ignore REASON ```` (Deno's convention, with the reason after it): the
 * runner skips it and says why; `ignore` without a reason is an error.
 *
 *     deno run -A tools/readme_blocks.ts        # runs them all, one line per block
 *
 * `tests/readme_blocks_test.ts` runs it in `deno task test`.
 *
 * @module
 */
import { join, relative } from "node:path";
import { marked, type Tokens } from "marked";

/** The repository root. */
export const ROOT: string = new URL("../", import.meta.url).pathname;

/** One TypeScript code block of a Markdown file. */
export interface DocBlock {
  /** The Markdown file, relative to the repository root. */
  file: string;
  /** 1-based line of the opening fence. */
  line: number;
  /** The fence's info string (`ts`, `ts ignore a plugin file ...`). */
  info: string;
  /** The code, as written. */
  code: string;
  /** Why the runner skips it (`ignore` blocks); `""` for `ignore` without a reason. */
  skip?: string;
}

/** `README.md`, `docs/a.md` ...: the files whose blocks run, relative to `root`. */
export async function docFiles(root: string = ROOT): Promise<string[]> {
  const files = ["README.md"];
  const docs: string[] = [];
  for await (const e of Deno.readDir(join(root, "docs"))) {
    if (e.isFile && e.name.endsWith(".md")) docs.push(`docs/${e.name}`);
  }
  return [...files, ...docs.sort()];
}

/**
 * The `ts`/`typescript` code blocks of `markdown` (named `file` in the results), in order,
 * nested ones (in lists, quotes) included.
 *
 * @example
 * ```ts
 * import { docBlocks } from "./readme_blocks.ts";
 * const md = "# x\n\n```ts\nconsole.log(1);\n```\n\n```ts ignore a fragment\nfoo();\n```\n";
 * console.log(docBlocks(md, "README.md").map((b) => [b.line, b.skip]));
 * // [ [ 3, undefined ], [ 7, "a fragment" ] ]
 * ```
 */
export function docBlocks(markdown: string, file: string): DocBlock[] {
  const lines = markdown.split("\n");
  let from = 0; // the line after the previous block's opening fence
  const out: DocBlock[] = [];
  marked.walkTokens(marked.lexer(markdown), (t) => {
    if (t.type !== "code" || (t as Tokens.Code).codeBlockStyle === "indented") return;
    const info = ((t as Tokens.Code).lang ?? "").trim();
    const [lang, flag, ...why] = info.split(/\s+/);
    if (lang !== "ts" && lang !== "typescript") return;
    const opening = (t as Tokens.Code).raw.trimStart().split("\n")[0].trim();
    let at = from;
    while (at < lines.length && lines[at].trim() !== opening) at++;
    from = at + 1;
    const block: DocBlock = { file, line: at + 1, info, code: (t as Tokens.Code).text + "\n" };
    if (flag === "ignore") block.skip = why.join(" ");
    out.push(block);
  });
  return out;
}

/** What a block needs in its working folder: the run folders and images it names. */
export interface BlockNeeds {
  /** `runs/<id>` paths. */
  runs: string[];
  /** Image file names (quoted in the code). */
  images: string[];
}

/**
 * The run folders (`runs/snacks-20261201-101010`) and quoted image files (`"muffin.jpg"`)
 * that `code` names.
 *
 * @example
 * ```ts
 * import { blockNeeds } from "./readme_blocks.ts";
 * console.log(blockNeeds('predict("runs/snacks-20261201-101010", ["muffin.jpg"])'));
 * // { runs: [ "runs/snacks-20261201-101010" ], images: [ "muffin.jpg" ] }
 * ```
 */
export function blockNeeds(code: string): BlockNeeds {
  const uniq = (xs: string[]) => [...new Set(xs)];
  return {
    runs: uniq([...code.matchAll(/\bruns\/[a-z][\w.]*-\d{8}-\d{6}\b/g)].map((m) => m[0])),
    images: uniq(
      [...code.matchAll(/["'`]([\w./-]+\.(?:jpe?g|png))["'`]/gi)].map((m) => m[1])
        .filter((p) => !p.startsWith("/") && !p.split("/").includes("..")),
    ),
  };
}

async function copyDir(from: string, to: string): Promise<void> {
  await Deno.mkdir(to, { recursive: true });
  for await (const e of Deno.readDir(from)) {
    if (e.isDirectory) await copyDir(join(from, e.name), join(to, e.name));
    else if (e.isFile) await Deno.copyFile(join(from, e.name), join(to, e.name));
  }
}

/**
 * Trains the default experiment for one small epoch with `deno task train` into
 * `runsDir`; returns the run folder. Throws with train's output when it fails.
 */
export async function trainFixtureRun(runsDir: string): Promise<string> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["task", "-q", "train", "--runs", runsDir, "--epochs", "1", "--set", "width=4"],
    cwd: ROOT,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  if (out.code !== 0) {
    throw new Error(
      `deno task train failed (${out.code}):\n${new TextDecoder().decode(out.stderr)}`,
    );
  }
  const ids: string[] = [];
  for await (const e of Deno.readDir(runsDir)) if (e.isDirectory) ids.push(e.name);
  const id = ids.sort().at(-1);
  if (!id) throw new Error(`deno task train wrote no run into ${runsDir}`);
  return join(runsDir, id);
}

/**
 * Prepares the working folder `cwd` for a block needing `needs`: `runs/`, a copy of
 * `trainedRun` at each run path, a 48x40 image at each image name (JPEG or PNG by its
 * extension).
 */
export async function prepareFolder(
  cwd: string,
  needs: BlockNeeds,
  trainedRun: string,
): Promise<void> {
  const { default: sharp } = await import("sharp"); // only here: docBlocks stays light
  await Deno.mkdir(join(cwd, "runs"), { recursive: true });
  for (const run of needs.runs) await copyDir(trainedRun, join(cwd, run));
  for (const [i, image] of needs.images.entries()) {
    const path = join(cwd, image);
    await Deno.mkdir(join(path, ".."), { recursive: true });
    const img = sharp({
      create: {
        width: 48,
        height: 40,
        channels: 3,
        background: { r: 40 + 60 * i, g: 180 - 50 * i, b: 90 },
      },
    });
    await (/\.png$/i.test(image) ? img.png() : img.jpeg()).toFile(path);
  }
}

/** What running one block did. */
export interface BlockResult {
  /** Exit code of `deno run -A`. */
  code: number;
  /** Its stdout and stderr. */
  output: string;
}

/**
 * Runs `block` as written: its code in a module in `root`, `deno run -A` in `cwd` (already
 * prepared), with the repository's deno.json; killed (a non-zero exit) after `timeoutMs`, so a
 * block whose program does not end by itself fails. The module is removed afterwards.
 */
export async function runBlock(
  block: DocBlock,
  cwd: string,
  root: string = ROOT,
  timeoutMs = 120_000,
): Promise<BlockResult> {
  const name = `_doc_block_${block.file.replace(/\W/g, "_")}_${block.line}_${
    crypto.randomUUID().slice(0, 8)
  }.ts`;
  const module = join(root, name);
  await Deno.writeTextFile(module, block.code);
  try {
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", "--config", join(root, "deno.json"), module],
      cwd,
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
      env: { NO_COLOR: "1" },
      signal: AbortSignal.timeout(timeoutMs), // a block that does not end by itself fails
    }).output();
    const dec = new TextDecoder();
    return { code: out.code, output: dec.decode(out.stdout) + dec.decode(out.stderr) };
  } finally {
    await Deno.remove(module).catch(() => {});
  }
}

/** One block's outcome in {@link runDocBlocks}. */
export interface BlockOutcome {
  /** The block. */
  block: DocBlock;
  /** `ran` (see `result`), or `skipped` (see `block.skip`). */
  status: "ran" | "skipped";
  /** What running it did. */
  result?: BlockResult;
}

/**
 * Runs every `ts` block of the doc files of `root`, each in its own prepared temp folder;
 * trains the fixture run once, only when a block names a run. `log` gets one line per block.
 *
 * @example
 * ```ts ignore
 * import { runDocBlocks } from "./readme_blocks.ts";
 * const outcomes = await runDocBlocks();
 * console.log(outcomes.filter((o) => o.result && o.result.code !== 0).length); // 0
 * ```
 */
export async function runDocBlocks(
  options: { root?: string; log?: (line: string) => void } = {},
): Promise<BlockOutcome[]> {
  const root = options.root ?? ROOT;
  const log = options.log ?? (() => {});
  const blocks: DocBlock[] = [];
  for (const file of await docFiles(root)) {
    blocks.push(...docBlocks(await Deno.readTextFile(join(root, file)), file));
  }
  const tmp = await Deno.makeTempDir({ prefix: "convdeck-doc-blocks-" });
  let trained: Promise<string> | undefined;
  const outcomes: BlockOutcome[] = [];
  try {
    for (const block of blocks) {
      const where = `${block.file}:${block.line}`;
      if (block.skip !== undefined) {
        outcomes.push({ block, status: "skipped" });
        log(`skipped ${where}: ${block.skip || "(ignore without a reason)"}`);
        continue;
      }
      const needs = blockNeeds(block.code);
      const cwd = join(tmp, `block-${outcomes.length}`);
      await Deno.mkdir(cwd);
      const run = needs.runs.length
        ? await (trained ??= trainFixtureRun(join(tmp, "fixture-runs")))
        : "";
      await prepareFolder(cwd, needs, run);
      const t0 = performance.now();
      const result = await runBlock(block, cwd, root);
      outcomes.push({ block, status: "ran", result });
      const s = ((performance.now() - t0) / 1000).toFixed(1);
      log(`${result.code === 0 ? "ok" : `FAILED (exit ${result.code})`} ${where} (${s} s)`);
    }
  } finally {
    await Deno.remove(tmp, { recursive: true }).catch(() => {});
  }
  return outcomes;
}

if (import.meta.main) {
  const outcomes = await runDocBlocks({ log: (l) => console.log(l) });
  let failed = 0;
  for (const o of outcomes) {
    const where = `${o.block.file}:${o.block.line}`;
    if (o.status === "skipped" && !o.block.skip) {
      failed++;
      console.error(`error: ${where}: "ts ignore" needs a reason after it (why it cannot run)`);
    } else if (o.result && o.result.code !== 0) {
      failed++;
      console.error(`error: ${where} exited ${o.result.code}:\n${o.result.output}`);
    }
  }
  console.log(
    `${outcomes.length} ts block(s) in ${relative(Deno.cwd(), ROOT) || "."}: ${
      outcomes.filter((o) => o.status === "ran").length
    } ran, ${outcomes.filter((o) => o.status === "skipped").length} skipped, ${failed} failed`,
  );
  Deno.exit(failed ? 1 : 0);
}
