/**
 * The one resume command: what `train` prints after an interrupted run, what `runs show` and
 * `runs list` print for crashed and stopped runs, and what the dashboard shows. It works when
 * pasted in the directory it is printed for: the run folder is given relative to it (no
 * `--runs` needed: `--resume` takes the folder). A run folder never chooses the code to run,
 * so for a run trained from an experiment file or with `--callback` plugins the command names
 * them only when the caller knows them from the user (train, right after the user ran them);
 * otherwise it asks for them with `FILE` placeholders and says so in a shell comment. A run
 * of the tracking API (`tracked`) was started by the user's own script: the answer is to rerun
 * it with `init({ resume })`.
 *
 * @example
 * ```ts
 * import { resumeCommand } from "./resume_command.ts";
 * resumeCommand({ runDir: "runs/default-20261201-101010" });
 * // "deno task train --resume runs/default-20261201-101010"
 * ```
 *
 * @module
 */
import { basename, isAbsolute, relative } from "node:path";

/** What {@linkcode resumeCommand} needs to know about a run. */
export interface ResumeTarget {
  /** The run folder: absolute, or relative to `cwd`. */
  runDir: string;
  /** It was trained from an experiment file (not a built-in experiment). */
  experimentFile?: boolean;
  /** How many `--callback` plugins it was trained with. */
  plugins?: number;
  /**
   * The code the user just trained it with, when the caller has it from the user (never from
   * the run's files): the experiment file and the plugin arguments.
   */
  code?: { experiment?: string; plugins?: string[] };
  /** It was written by the tracking API (`convdeck/track`), not by `deno task train`. */
  tracked?: boolean;
}

/** Quotes `s` for a POSIX shell when it needs it. */
function shellQuote(s: string): string {
  return /^[\w./:@=+-]+$/.test(s) ? s : `'${s.replace(/'/g, "'\\''")}'`;
}

/**
 * The `deno task train --resume ...` command for `t`, to be run in `cwd` (default: the
 * working directory).
 *
 * @example
 * ```ts
 * import { resumeCommand } from "./resume_command.ts";
 * resumeCommand({ runDir: "/tmp/elsewhere/runs/x", experimentFile: true }, "/tmp/here");
 * // "deno task train --resume ../elsewhere/runs/x --experiment FILE  # FILE: ..."
 * resumeCommand({ runDir: "runs/mlp-20261201-101010", tracked: true });
 * // 'rerun your script with init({ resume: "mlp-20261201-101010" })'
 * ```
 */
export function resumeCommand(t: ResumeTarget, cwd: string = Deno.cwd()): string {
  if (t.tracked) {
    return `rerun your script with init({ resume: ${JSON.stringify(basename(t.runDir))} })`;
  }
  const path = isAbsolute(t.runDir) ? relative(cwd, t.runDir) || "." : t.runDir;
  const parts = ["deno task train --resume", shellQuote(path)];
  const asks: string[] = [];
  if (t.code?.experiment !== undefined) {
    parts.push("--experiment", shellQuote(t.code.experiment));
  } else if (t.experimentFile) {
    parts.push("--experiment", "FILE");
    asks.push("FILE: the experiment file that trained it");
  }
  const plugins = t.code?.plugins ?? [];
  for (const p of plugins) parts.push("--callback", shellQuote(p));
  const unknown = Math.max(0, (t.plugins ?? 0) - plugins.length);
  for (let i = 0; i < unknown; i++) parts.push("--callback", "PLUGIN");
  if (unknown) asks.push(`PLUGIN: each of its ${unknown} callback plugin(s)`);
  const command = parts.join(" ");
  return asks.length
    ? `${command}  # ${asks.join("; ")} (a run folder never chooses the code to run)`
    : command;
}
