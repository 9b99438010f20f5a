/**
 * Every `deno task` entry launched the way users launch it (`deno task X ...` as a
 * subprocess, with the permissions its deno.json line gives; deno task runs it in the
 * folder of deno.json): `--help` prints help and exits
 * 0 without doing any work; an unknown flag and a bad value of each kind exit 2 with one
 * `error:` line naming the flag, never a stack trace.
 */
import assert from "node:assert/strict";
import { join, relative } from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const TASKS = Object.keys(
  JSON.parse(await Deno.readTextFile(join(ROOT, "deno.json"))).tasks as Record<string, string>,
);

interface Result {
  code: number;
  stdout: string;
  /** stderr without deno task's own `Task NAME ...` echo line. */
  stderr: string;
}

async function task(args: string[]): Promise<Result> {
  const env = { ...Deno.env.toObject(), NO_COLOR: "1" };
  delete (env as Record<string, string>).RUST_BACKTRACE;
  const child = new Deno.Command(Deno.execPath(), {
    args: ["task", "--quiet", "--config", join(ROOT, "deno.json"), ...args],
    cwd: ROOT,
    env,
    clearEnv: true,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const timer = setTimeout(() => child.kill("SIGKILL"), 120_000);
  try {
    const out = await child.output();
    const d = new TextDecoder();
    const stderr = d.decode(out.stderr).split("\n").filter((l) => !/^Task \S+ /.test(l))
      .join("\n").trim();
    return { code: out.code, stdout: d.decode(out.stdout), stderr };
  } finally {
    clearTimeout(timer);
  }
}

function noStackTrace(r: Result, what: string): void {
  const all = `${r.stdout}\n${r.stderr}`;
  assert.ok(!/^\s{4}at /m.test(all), `${what}: a stack trace\n${all}`);
  assert.ok(!/Stack backtrace|Uncaught/.test(all), `${what}: a crash\n${all}`);
}

Deno.test("every deno task answers --help with its help, exit 0, and does no work", async () => {
  for (const t of TASKS) {
    const before = await Deno.readTextFile(join(ROOT, "dashboard/ui/dist/bundle.ts"));
    const r = await task([t, "--help"]);
    assert.equal(r.code, 0, `${t} --help: exit ${r.code}\n${r.stdout}\n${r.stderr}`);
    assert.ok(r.stdout.startsWith(`Usage: deno task ${t}`), `${t} --help: ${r.stdout}`);
    assert.equal(r.stderr, "", `${t} --help wrote to stderr`);
    noStackTrace(r, `${t} --help`);
    if (t === "build-ui") {
      assert.equal(
        await Deno.readTextFile(join(ROOT, "dashboard/ui/dist/bundle.ts")),
        before,
        "build-ui --help rebuilt the bundle",
      );
    }
  }
  const sub = await task(["runs", "list", "--help"]);
  assert.equal(sub.code, 0);
  assert.match(sub.stdout, /^Usage: deno task runs \[--runs DIR\] list/);
});

Deno.test("every deno task: an unknown flag and bad values exit 2 with one error line", async () => {
  const tmp = await Deno.makeTempDir();
  const runs = join(tmp, "runs");
  await Deno.mkdir(runs);
  await Deno.writeTextFile(join(tmp, "bad.json"), "{ not json");
  /** Per task: argument lists that must exit 2, and what the error line must name. */
  const BAD: Record<string, [string[], RegExp][]> = {
    train: [
      [["--bogus"], /--bogus/],
      [["--epochs=-1", "--runs", runs], /--epochs must be an integer >= 1/],
      [["--epochs", "0", "--runs", runs], /--epochs must be an integer >= 1/],
      [["--set", "epochs=0", "--runs", runs], /epochs \(--epochs\) must be an integer >= 1/],
      [["--lr", "fast", "--runs", runs], /--lr must be a number/],
      [["--experiment", "nope", "--runs", runs], /Unknown experiment "nope"/],
      [["--set", "optimizer=adamax", "--runs", runs], /optimizer must be one of/],
      [
        ["--experiment", "snacks", "--image-size", "7", "--backend", "cpu", "--runs", runs],
        /--image-size/,
      ],
    ],
    evaluate: [
      [["--bogus"], /--bogus/],
      [["--run", "x", "--split", "train"], /--split must be one of test, val/],
      [["--run", "x", "--batch-size", "0"], /--batch-size must be an integer >= 1/],
    ],
    predict: [
      [["--bogus"], /--bogus/],
      [["--run", "x", "a.png", "--top-k", "0"], /--top-k must be an integer >= 1/],
    ],
    runs: [
      [["--bogus"], /--bogus/],
      [["--runs", runs, "list", "--limit", "ten"], /--limit must be an integer/],
      [["--runs", runs, "list", "lr < < 1"], /bad query: .*character 6/],
      [["--runs", runs, "frobnicate"], /unknown command "frobnicate"/],
    ],
    dashboard: [[["--bogus"], /--bogus/], [["--port", "70000"], /--port must be an integer/]],
    sweep: [
      [["--bogus"], /--bogus/],
      [["--workers", "0", join(tmp, "bad.json")], /--workers must be an integer >= 1/],
      [
        [relative(ROOT, join(tmp, "bad.json")), "--runs", runs, "--sweeps", tmp],
        /bad\.json is not valid JSON/,
      ],
    ],
    "sweep-worker": [
      [["--bogus"], /--bogus/],
      [["--queue", "redis://127.0.0.1:1", "--lock-ms", "5"], /--lock-ms must be an integer/],
    ],
    bench: [[["--bogus"], /--bogus/], [["--sizes", "x"], /--sizes takes positive integers/]],
    soak: [[["--bogus"], /--bogus/], [["--kills", "0"], /--kills must be an integer >= 1/]],
    "build-ui": [[["--bogus"], /--bogus/]],
    "build-simd": [[["--bogus"], /--bogus/]],
    check: [[["--bogus"], /--bogus/]],
    "baseline-ui": [[["--bogus"], /--bogus/]],
    "build-export-page": [[["--bogus"], /--bogus/]],
    "build-node": [[["--bogus"], /--bogus/]],
    patterns: [
      [["--bogus"], /--bogus/],
      [["--run", "x", "--steps", "0"], /--steps must be an integer >= 1/],
      [["--run", "x", "--filters", "9-3"], /--filters range 9-3 runs backwards/],
    ],
    export: [
      [["--bogus"], /--bogus/],
      [
        ["--run", "x", "--out", join(tmp, "out"), "--quantize", "int4"],
        /--quantize must be one of/,
      ],
    ],
    // `deno task test ARGS` hands ARGS to deno test (its flags, its exit codes).
    test: [],
  };
  assert.deepEqual(TASKS.filter((t) => !BAD[t]), [], "a new task: add its bad flags to BAD");
  for (const t of TASKS) {
    for (const [args, names] of BAD[t]) {
      const what = `deno task ${t} ${args.join(" ")}`;
      const r = await task([t, ...args]);
      assert.equal(r.code, 2, `${what}: exit ${r.code}\n${r.stdout}\n${r.stderr}`);
      noStackTrace(r, what);
      const lines = r.stderr.split("\n").filter((l) => l.startsWith("error:"));
      assert.equal(lines.length, 1, `${what}: one error line\n${r.stderr}`);
      assert.match(lines[0], names, what);
      assert.ok(
        !new RegExp(`(^|[\\s("':])${tmp}`).test(lines[0]),
        `${what}: an absolute path in ${lines[0]}`,
      );
    }
  }
  assert.deepEqual([...Deno.readDirSync(runs)], [], "no run was created by a bad value");
});
