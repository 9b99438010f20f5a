/**
 * The one flag parser of every command users launch (`cli/` entry points and the task scripts
 * in `tests/`, `tools/` and `dashboard/build_ui.ts`): `node:util`'s `parseArgs` in strict mode,
 * typed value checks that name the flag and the fix, and {@linkcode runCommand}, which turns
 * `--help` into the help text (exit 0, nothing else done), a bad flag into one `error:` line
 * (exit 2) and any other failure into one `error:` line (exit 1), never a stack trace.
 *
 * @example
 * ```ts
 * import { intFlag, parseFlags } from "./flags.ts";
 * const { values } = parseFlags(["--epochs", "3"], { epochs: { type: "string" } });
 * intFlag("--epochs", values.epochs, { min: 1 }); // 3
 * ```
 *
 * @module
 */
import { parseArgs } from "node:util";
import { terminalSafe } from "./format/terminal.ts";

/** A bad flag or argument: the command prints its message and exits with status 2. */
export class FlagError extends Error {
  /** Creates the error with a one-line `message` naming the flag and the fix. */
  constructor(message: string) {
    super(oneLine(message));
    this.name = "FlagError";
  }
}

/** One option of {@linkcode parseFlags}: a string or boolean flag, maybe repeatable. */
export interface FlagSpec {
  /** `string` takes a value (`--x V` or `--x=V`), `boolean` none. */
  type: "string" | "boolean";
  /** May be given more than once (the values come as an array). */
  multiple?: boolean;
  /** A one-letter alias (`h` for `-h`). */
  short?: string;
}

type Value<S extends FlagSpec> = S["type"] extends "boolean"
  ? (S["multiple"] extends true ? boolean[]
    : boolean)
  : S["multiple"] extends true ? string[]
  : string;

/** What {@linkcode parseFlags} returns: each flag's value (absent ones `undefined`). */
export interface ParsedFlags<O extends Record<string, FlagSpec>> {
  /** Flag values by long name. */
  values: { [K in keyof O]?: Value<O[K]> };
  /** Arguments that are not flags, in order. */
  positionals: string[];
}

/**
 * Parses `argv` strictly: an unknown flag, a missing value or a positional argument where
 * none is allowed throws {@linkcode FlagError} (one line, ending with the `--help` hint).
 *
 * @example
 * ```ts
 * import { parseFlags } from "./flags.ts";
 * const { values, positionals } = parseFlags(["a.json", "--json"], { json: { type: "boolean" } }, {
 *   positionals: true,
 * });
 * console.log(values.json, positionals); // true [ "a.json" ]
 * ```
 */
export function parseFlags<O extends Record<string, FlagSpec>>(
  argv: string[],
  options: O,
  opts: { positionals?: boolean } = {},
): ParsedFlags<O> {
  try {
    const { values, positionals } = parseArgs({
      args: argv,
      options,
      strict: true,
      allowPositionals: opts.positionals ?? false,
    });
    return { values: values as ParsedFlags<O>["values"], positionals };
  } catch (err) {
    const why = (err as Error).message.replace(/\.?\s*To specify a positional argument.*$/s, "");
    throw new FlagError(`${why.replace(/\.$/, "")}. Run with --help for the options.`);
  }
}

/** True when `argv` asks for help (`-h` or `--help` before any `--`). */
export function wantsHelp(argv: readonly string[]): boolean {
  for (const a of argv) {
    if (a === "--") return false;
    if (a === "--help" || a === "-h") return true;
  }
  return false;
}

/** Limits of a numeric flag. */
export interface NumberLimits {
  /** Smallest allowed value. */
  min?: number;
  /** Largest allowed value. */
  max?: number;
  /** The value must be greater than `min`, not equal to it. */
  exclusiveMin?: boolean;
}

function describeLimits(kind: string, l: NumberLimits): string {
  if (l.min !== undefined && l.max !== undefined) return `${kind} from ${l.min} to ${l.max}`;
  if (l.min !== undefined) return `${kind} ${l.exclusiveMin ? ">" : ">="} ${l.min}`;
  if (l.max !== undefined) return `${kind} <= ${l.max}`;
  return kind;
}

function checkNumber(
  flag: string,
  value: string,
  integer: boolean,
  l: NumberLimits,
): number {
  const n = Number(value);
  const bad = value.trim() === "" || !Number.isFinite(n) || (integer && !Number.isInteger(n)) ||
    (l.min !== undefined && (l.exclusiveMin ? n <= l.min : n < l.min)) ||
    (l.max !== undefined && n > l.max);
  if (bad) {
    const kind = integer ? "an integer" : "a number";
    throw new FlagError(`${flag} must be ${describeLimits(kind, l)}, got "${value}"`);
  }
  return n;
}

/**
 * An integer flag within `limits`, or `undefined` when absent; throws {@linkcode FlagError}
 * naming the flag and the allowed range otherwise.
 *
 * @example
 * ```ts
 * import { intFlag } from "./flags.ts";
 * intFlag("--workers", "2", { min: 1 }); // 2
 * intFlag("--workers", undefined, { min: 1 }); // undefined
 * ```
 */
export function intFlag(
  flag: string,
  value: string | undefined,
  limits: NumberLimits = {},
): number | undefined {
  return value === undefined ? undefined : checkNumber(flag, value, true, limits);
}

/**
 * A finite number flag within `limits`, or `undefined` when absent; throws
 * {@linkcode FlagError} naming the flag otherwise.
 *
 * @example
 * ```ts
 * import { numberFlag } from "./flags.ts";
 * numberFlag("--lr", "1e-3", { min: 0, exclusiveMin: true }); // 0.001
 * ```
 */
export function numberFlag(
  flag: string,
  value: string | undefined,
  limits: NumberLimits = {},
): number | undefined {
  return value === undefined ? undefined : checkNumber(flag, value, false, limits);
}

/**
 * A flag whose value is one of `choices`, or `undefined` when absent; throws
 * {@linkcode FlagError} listing the choices otherwise.
 *
 * @example
 * ```ts
 * import { choiceFlag } from "./flags.ts";
 * choiceFlag("--split", "val", ["test", "val"] as const); // "val"
 * ```
 */
export function choiceFlag<T extends string>(
  flag: string,
  value: string | undefined,
  choices: readonly T[],
): T | undefined {
  if (value === undefined) return undefined;
  if (!(choices as readonly string[]).includes(value)) {
    throw new FlagError(`${flag} must be one of ${choices.join(", ")}, got "${value}"`);
  }
  return value as T;
}

/** `text` on one line: line breaks and runs of blanks become single spaces. */
export function oneLine(text: string): string {
  return text.replace(/\s*[\r\n]+\s*/g, " ").trim();
}

/** What {@linkcode runCommand} runs. */
export interface Command {
  /** The `--help` text, or a function giving it from the arguments (it may not fail). */
  help: string | ((argv: string[]) => string | Promise<string>);
  /** The command's work; returns its exit status. Throw {@linkcode FlagError} for bad usage. */
  main: (argv: string[]) => Promise<number> | number;
  /** Whether a thrown error is bad usage (exit 2) although not a {@linkcode FlagError}. */
  isUsageError?: (err: unknown) => boolean;
  /** Where error lines go (default: stderr). */
  error?: (line: string) => void;
  /** Where the help text goes (default: stdout). */
  out?: (text: string) => void;
}

/**
 * Runs a command the way every entry point does: `--help`/`-h` prints the help and gives 0
 * without doing anything else; a {@linkcode FlagError} (or what `isUsageError` accepts) prints
 * `error: <message>` on one line and gives 2; any other error prints `error: <message>` on
 * one line and gives 1. Messages are terminal-safe (they may quote run files). Returns the exit status (see {@linkcode exitWith}).
 *
 * @example
 * ```ts
 * import { FlagError, runCommand } from "./flags.ts";
 * const code = await runCommand(["--bad"], {
 *   help: "Usage: demo",
 *   main: () => {
 *     throw new FlagError("unknown option --bad");
 *   },
 *   error: () => {},
 * });
 * console.log(code); // 2
 * ```
 */
export async function runCommand(argv: string[], cmd: Command): Promise<number> {
  const error = cmd.error ?? ((l: string) => console.error(l));
  const out = cmd.out ?? ((t: string) => console.log(t));
  try {
    if (wantsHelp(argv)) {
      out(typeof cmd.help === "string" ? cmd.help : await cmd.help(argv));
      return 0;
    }
    return await cmd.main(argv);
  } catch (err) {
    const usage = err instanceof FlagError || (cmd.isUsageError?.(err) ?? false);
    const message = oneLine(err instanceof Error ? err.message : String(err));
    error(`error: ${terminalSafe(message, { oneLine: true })}`);
    return usage ? 2 : 1;
  }
}

/**
 * Runs `cmd` with the process arguments ({@linkcode runCommand}), then `cleanup`, and exits
 * with the command's status.
 *
 * @example
 * ```ts ignore
 * import { exitWith } from "./flags.ts";
 * await exitWith({ help: "Usage: deno task demo", main: () => 0 });
 * ```
 */
export async function exitWith(cmd: Command, cleanup?: () => void): Promise<never> {
  const code = await runCommand(Deno.args, cmd);
  try {
    cleanup?.();
  } finally {
    Deno.exit(code);
  }
}

/**
 * For scripts whose work runs at the top level: `--help` prints `help` and exits 0, a bad
 * flag prints one `error:` line and exits 2; else the parsed flags (see
 * {@linkcode parseFlags}). `check` may throw {@linkcode FlagError} for bad values.
 *
 * @example
 * ```ts ignore
 * import { parseFlagsOrExit } from "./flags.ts";
 * const { values } = parseFlagsOrExit(Deno.args, "Usage: deno task demo [--check]", {
 *   check: { type: "boolean" },
 * });
 * ```
 */
export function parseFlagsOrExit<O extends Record<string, FlagSpec>, T = ParsedFlags<O>>(
  argv: string[],
  help: string,
  options: O,
  opts: { positionals?: boolean; check?: (parsed: ParsedFlags<O>) => T } = {},
): T {
  if (wantsHelp(argv)) {
    console.log(help);
    Deno.exit(0);
  }
  try {
    const parsed = parseFlags(argv, options, opts);
    return opts.check ? opts.check(parsed) : parsed as T;
  } catch (err) {
    if (!(err instanceof FlagError)) throw err;
    console.error(`error: ${terminalSafe(err.message, { oneLine: true })}`);
    Deno.exit(2);
  }
}
