/**
 * `deno task check` and `deno task test`: the steps of each, run in order (the first failure
 * stops the task with its exit code), and their `--help`. A deno.json task passes its extra
 * arguments to the last command of its line only, so a task that is a chain of commands
 * cannot answer `--help` itself; this script can.
 *
 * @module
 */
import { parseFlagsOrExit } from "../core/flags.ts";

/** The folders whose modules (and JSDoc examples) are type-checked. */
const SOURCES = [
  "mod.ts",
  "cli/",
  "core/",
  "callbacks/",
  "dashboard/",
  "experiments/",
  "sweep/",
  "track/",
];

/** The `.ts` files of folder `dir` (relative to the repository root, where tasks run). */
function typeScriptIn(dir: string): string[] {
  return [...Deno.readDirSync(dir)].filter((e) => e.isFile && e.name.endsWith(".ts"))
    .map((e) => `${dir}/${e.name}`).sort();
}

interface Task {
  help: string;
  /** Environment variables the steps get besides the task's own. */
  env?: Record<string, string>;
  /** The commands (`deno` arguments), given the task's extra arguments. */
  steps: (args: string[]) => string[][];
}

const TASKS: Record<string, Task> = {
  check: {
    help: `Usage: deno task check

Formatting, lint, type checks (every module, and every JSDoc example of the package's
modules: deno check --doc), documentation lint (tools/doc_lint.ts), the stylesheet's parse (tools/css_check.ts) and a
publish dry run.
Exit status: 0 when all pass, else the failing step's.`,
    steps: () => [
      ["fmt", "--check"],
      ["lint"],
      ["check", "--doc", ...SOURCES],
      // examples/*.mjs import the Node bundle that `deno task build-node` writes: not here.
      ["check", "tests/", "tools/", ...typeScriptIn("examples")],
      ["run", "--allow-run", "--allow-read", "--allow-env", "tools/doc_lint.ts"],
      ["run", "--allow-read", "tools/css_check.ts"],
      ["publish", "--dry-run", "--allow-dirty"],
    ],
  },
  "baseline-ui": {
    help: `Usage: deno task baseline-ui

Re-takes the dashboard's screenshot baselines (tests/baselines/*.png) by running
tests/acceptance_dashboard_test.ts with CONVDECK_UPDATE_BASELINES=1; review the images in the
diff before committing them.`,
    env: { CONVDECK_UPDATE_BASELINES: "1" },
    steps: () => [["test", "-A", "tests/acceptance_dashboard_test.ts"]],
  },
  test: {
    help: `Usage: deno task test [FILE... | deno test flags]

With no arguments: every test in tests/ in parallel, then tests/native_bf16_test.ts alone (the
native shim's precision is process-wide) and tests/native_leak_test.ts alone (it measures
process memory). With arguments: deno test -A with them, e.g.
  deno task test tests/runs_cli_test.ts --filter export
Exit status: 0 when all pass, else deno test's.`,
    steps: (args) =>
      args.length ? [["test", "-A", ...args]] : [
        [
          "test",
          "-A",
          "--parallel",
          "--ignore=tests/native_leak_test.ts,tests/native_bf16_test.ts",
          "tests/",
        ],
        // Alone: the native shim's precision is process-wide, so the bf16 tests must not share
        // a process with the fp32 kernel tests; the leak test measures process memory.
        ["test", "-A", "tests/native_bf16_test.ts"],
        ["test", "-A", "tests/native_leak_test.ts"],
      ],
  },
};

if (import.meta.main) {
  const [name, ...rest] = Deno.args;
  const task = Object.hasOwn(TASKS, name ?? "") ? TASKS[name] : undefined;
  if (!task) {
    console.error(`error: tools/tasks.ts takes a task name: ${Object.keys(TASKS).join(", ")}`);
    Deno.exit(2);
  }
  // `check` takes no arguments; `test` passes its own to deno test (only --help is ours).
  if (name === "check" || name === "baseline-ui") {
    parseFlagsOrExit(rest, task.help, { help: { type: "boolean", short: "h" } });
  } else if (rest.includes("--help") || rest.includes("-h")) {
    console.log(task.help);
    Deno.exit(0);
  }
  for (const args of task.steps(rest)) {
    const { code } = await new Deno.Command(Deno.execPath(), { args, stdin: "null", env: task.env })
      .spawn()
      .status;
    if (code !== 0) Deno.exit(code);
  }
}
