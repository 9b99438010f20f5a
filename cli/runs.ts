/**
 * `deno task runs`: list, query and edit the runs of a runs folder.
 *
 * ```
 * deno task runs list 'lr < 0.01 and val_acc > 0.9 and tag = baseline' --sort best.val_acc
 * deno task runs show default-20261201-101010
 * deno task runs tag default-20261201-101010 baseline wide
 * deno task runs delete default-20261201-101010 && deno task runs gc
 * ```
 *
 * @module
 */
import { dirname, join, resolve } from "node:path";
import { RunIndex } from "../core/run/index.ts";
import { type Cell, runCells, runDurationMs, type RunSummaryRecord } from "../core/run/summary.ts";
import { QueryError, queryTable, resolveColumn, type TableQuery } from "../core/run/query.ts";
import { applyMetaEdit, checkTag, type MetaEdit, updateRunMeta } from "../core/run/meta.ts";
import { resumeCommand } from "../core/experiment/resume_command.ts";
import { emptyTrash, listTrash, restoreRun, trashRun } from "../core/run/trash.ts";
import { readRunInfoChecked } from "../core/run/run_info.ts";
import { readRunInfo } from "../core/run/reader.ts";
import {
  type CodeIdentity,
  formatCodeIdentity,
  parseCodeIdentity,
} from "../core/experiment/code_identity_format.ts";
import { runAndExit } from "./_process.ts";
import { resolveRun, shownPath } from "./_run_ref.ts";
import { FlagError, intFlag, parseFlags, runCommand } from "../core/flags.ts";
import { csvRow } from "../core/format/csv.ts";
import { formatDuration } from "../core/format/duration.ts";
import { terminalSafe, terminalSafeJson } from "../core/format/terminal.ts";

const QUERY_HELP = `Query: comparisons of columns with values joined by and/or/not, e.g.
  'lr < 0.01 and val_acc > 0.9 and tag = baseline and status != crashed'
  operators < <= > >= = != ~ (contains); a bare metric name is its best value;
  columns: id name experiment status tags note archived finished_epochs duration start
  backend, each hyperparameter, best.<metric>, last.<metric>, test_acc.`;

/** The `--help` text. */
export const HELP = `Usage: deno task runs [--runs DIR] COMMAND [ARGS] [OPTIONS]

List, query and edit runs. RUN is a run id (its folder name) or the run's folder.

Commands:
  list [QUERY]          runs matching QUERY, newest first (archived runs hidden)
      --sort COL [--asc]  sort by a column (descending with --desc)
      --group COL         one line per value of COL: count, mean/min/max of --agg COL
      --agg COL           the column --group summarises        [default: best.val_acc]
      --columns A,B,...   columns to print (see --all-columns)
      --all-columns       print every column
      --archived          include archived runs
      --limit N --offset N  page of the result                 [default: 50, 0]
      --json              the result as JSON
  show RUN [--json]     everything about one run (crashed runs: the resume command)
  tag RUN TAG...        add tags            untag RUN TAG...   remove tags
  note RUN TEXT         set the note ("" clears it)
  rename RUN NAME       set the display name ("" clears it)
  archive RUN...        hide from listings  unarchive RUN...   show again
  delete RUN...         move to the trash (<runs>/.trash/); a running run is refused
  trash                 what the trash holds        restore RUN   take a run back from it
  export [QUERY]        matching runs with every column: --format csv|json, --out FILE
  gc                    empty the trash for good

${QUERY_HELP}
Options:
  --runs DIR            the runs folder                                  [default: runs]
  -h, --help            show this help

Exit status: 0 done, 1 failed (no such run, running, corrupt sidecar), 2 bad usage or query.
`;

/** Each command's own `--help` (`deno task runs list --help`). */
const COMMAND_HELP: Record<string, string> = {
  list: `Usage: deno task runs [--runs DIR] list [QUERY] [OPTIONS]

Runs matching QUERY, newest first (archived runs hidden).
  --sort COL [--asc|--desc]  sort by a column; metrics sort best first (by their direction)
  --group COL                one line per value of COL: count, mean/min/max of --agg COL
  --agg COL                  the column --group summarises             [default: best.val_acc]
  --columns A,B,...          columns to print (aliases work: lr, val_acc)
  --all-columns              print every column
  --archived                 include archived runs
  --limit N --offset N       page of the result                        [default: 50, 0]
  --json                     the result as JSON
${QUERY_HELP}`,
  export: `Usage: deno task runs [--runs DIR] export [QUERY] [--format csv|json] [--out FILE]

Every matching run with every column, as CSV (formulas defused) or JSON.
${QUERY_HELP}`,
  show: "Usage: deno task runs [--runs DIR] show RUN [--json]\n\nEverything about one run; " +
    "crashed and stopped runs: the command that resumes them.",
  tag: "Usage: deno task runs [--runs DIR] tag RUN TAG...\n\nAdds tags to a run.",
  untag: "Usage: deno task runs [--runs DIR] untag RUN TAG...\n\nRemoves tags from a run.",
  note: 'Usage: deno task runs [--runs DIR] note RUN TEXT\n\nSets the note ("" clears it).',
  rename: 'Usage: deno task runs [--runs DIR] rename RUN NAME\n\nSets the display name ("" ' +
    "clears it).",
  archive: "Usage: deno task runs [--runs DIR] archive RUN...\n\nHides runs from listings.",
  unarchive: "Usage: deno task runs [--runs DIR] unarchive RUN...\n\nShows archived runs again.",
  delete: "Usage: deno task runs [--runs DIR] delete RUN...\n\nMoves runs to the trash " +
    "(<runs>/.trash/); a running run is refused. deno task runs gc empties the trash.",
  trash: "Usage: deno task runs [--runs DIR] trash\n\nWhat the trash holds.",
  restore: "Usage: deno task runs [--runs DIR] restore RUN...\n\nTakes runs back from the trash.",
  gc: "Usage: deno task runs [--runs DIR] gc\n\nEmpties the trash for good.",
};

/** The help for `argv`: the command's own when a known command is given, else the global. */
export function runsHelp(argv: string[]): string {
  const command = argv.find((a) => !a.startsWith("-") && Object.hasOwn(COMMAND_HELP, a));
  return command ? COMMAND_HELP[command] : HELP;
}

const DEFAULT_COLUMNS = [
  "id",
  "name",
  "status",
  "tags",
  "learningRate",
  "best.val_acc",
  "test_acc",
  "duration",
];

/**
 * The columns `list` prints by default: id, name, status, tags, the learning rate and up to 4
 * other hyperparameters whose values differ among the rows shown, then the main metrics.
 */
function defaultColumns(
  result: { columns: { key: string; group: string }[]; rows: { cells: Record<string, Cell> }[] },
  known: Set<string>,
  empty: boolean,
): string[] {
  const differ = result.columns.filter((c) =>
    c.group === "hyperparameter" && c.key !== "learningRate" &&
    new Set(result.rows.map((r) => JSON.stringify(r.cells[c.key] ?? null))).size > 1
  ).slice(0, 4).map((c) => c.key);
  const at = DEFAULT_COLUMNS.indexOf("learningRate") + 1;
  const cols = [...DEFAULT_COLUMNS.slice(0, at), ...differ, ...DEFAULT_COLUMNS.slice(at)];
  return cols.filter((c) => known.has(c) || empty);
}

function formatCell(v: Cell | undefined, key: string): string {
  if (v === null || v === undefined) return "";
  if (Array.isArray(v)) return terminalSafe(v.join(","), { oneLine: true });
  if (key === "start" && typeof v === "number") return new Date(v).toISOString().slice(0, 19);
  if (key === "duration" && typeof v === "number") return formatDuration(v * 1000);
  if (typeof v === "number") {
    return Number.isInteger(v)
      ? String(v)
      : Math.abs(v) < 1e-3
      ? v.toExponential(2)
      : String(Number(v.toPrecision(4)));
  }
  return terminalSafe(String(v), { oneLine: true });
}

function table(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (r: string[]) => r.map((c, i) => c.padEnd(widths[i])).join("  ").trimEnd();
  return [line(header), ...rows.map(line)].join("\n");
}

/** What every command handler gets. */
interface Context {
  /** Arguments after the command name. */
  args: string[];
  /** Flag values. */
  flags: ReturnType<typeof parseRunsFlags>["values"];
  /** The runs folder as given. */
  runsDir: string;
  /** The run index of the runs folder. */
  index: RunIndex;
  /** Prints a line (stdout). */
  out: (s: string) => void;
  /** Prints a line (stderr). */
  err: (s: string) => void;
}

/** The run `ref` names (an id or a folder), which must be a run of the runs folder. */
async function findRun(runsDir: string, ref: string): Promise<string> {
  const run = await resolveRun("RUN", ref, runsDir);
  if (resolve(dirname(run.dir)) !== resolve(runsDir) || run.id.startsWith(".")) {
    throw new Error(
      `${run.shown} is not a run of ${shownPath(runsDir)} (pass --runs ${
        shownPath(dirname(run.dir))
      } for another runs folder)`,
    );
  }
  return run.id;
}

async function editMeta(runsDir: string, ref: string, edit: MetaEdit): Promise<string> {
  const id = await findRun(runsDir, ref);
  const dir = join(resolve(runsDir), id);
  // Only run folders: one with an unreadable run.json still counts (it is listed, as invalid).
  await readRunInfoChecked(dir).catch((err) => {
    if (/does not exist/.test((err as Error).message)) throw new Error(`${id} is not a run`);
  });
  const meta = await updateRunMeta(dir, (m) => applyMetaEdit(m, edit));
  return terminalSafe(
    `${id}: name ${meta.name ? JSON.stringify(meta.name) : "-"}, tags ${
      meta.tags.join(",") || "-"
    }${meta.archived ? ", archived" : ""}${
      meta.note ? `, note ${JSON.stringify(meta.note.slice(0, 60))}` : ""
    }`,
  );
}

/** The command that resumes run `s` of `runsDir`, to paste in the working directory. */
function resumeOf(s: RunSummaryRecord, runsDir: string): string {
  return resumeCommand({
    ...s.resumeNeeds,
    tracked: s.tracked,
    runDir: join(resolve(runsDir), s.id),
  });
}

function showText(s: RunSummaryRecord, runsDir: string, code?: CodeIdentity): string {
  const lines = [`${s.id}${s.meta.name ? `  "${s.meta.name}"` : ""}`];
  const add = (k: string, v: unknown) => {
    if (v !== undefined && v !== null && v !== "") lines.push(`  ${k.padEnd(14)} ${v}`);
  };
  add("experiment", s.experiment);
  add("status", s.state + (s.crashReason ? ` (${s.crashReason})` : ""));
  if (s.state === "crashed" || s.state === "stopped") add("resume with", resumeOf(s, runsDir));
  add("stop reason", s.stopReason);
  add("error", s.error);
  add("problems", s.problems?.join("; "));
  add("sidecar", s.metaProblem);
  add("tags", s.meta.tags.join(", "));
  add("note", s.meta.note);
  add("archived", s.meta.archived ? "yes" : undefined);
  add("started", s.createdAt);
  add("duration", formatDuration(runDurationMs(s)));
  add("epochs", s.epochs);
  add("backend", s.backend);
  add("code", code ? formatCodeIdentity(code) : undefined);
  add("test accuracy", s.testAcc ?? undefined);
  if (Object.keys(s.hyper).length) {
    lines.push("  hyperparameters");
    for (const [k, v] of Object.entries(s.hyper)) lines.push(`    ${k.padEnd(22)} ${v}`);
  }
  const metrics = [...new Set([...Object.keys(s.best), ...Object.keys(s.last)])].sort();
  if (metrics.length) {
    lines.push(`  ${"metric".padEnd(24)} ${"best".padEnd(10)} last`);
    for (const m of metrics) {
      lines.push(
        `    ${m.padEnd(22)} ${formatCell(s.best[m]?.value ?? null, m).padEnd(10)} ${
          formatCell(s.last[m] ?? null, m)
        }`,
      );
    }
  }
  // Every line may hold text from the run's files: escape it, keep the line breaks.
  return lines.map((l) => terminalSafe(l, { oneLine: true })).join("\n");
}

function parseRunsFlags(argv: string[]) {
  return parseFlags(argv, {
    runs: { type: "string" },
    sort: { type: "string" },
    asc: { type: "boolean" },
    desc: { type: "boolean" },
    group: { type: "string" },
    agg: { type: "string" },
    columns: { type: "string" },
    "all-columns": { type: "boolean" },
    archived: { type: "boolean" },
    limit: { type: "string" },
    offset: { type: "string" },
    json: { type: "boolean" },
    format: { type: "string" },
    out: { type: "string" },
    help: { type: "boolean", short: "h" },
  }, { positionals: true });
}

/** `list` and `export`: the query, its columns, and the page asked for. */
async function listOrExport(c: Context, exporting: boolean): Promise<number> {
  const { args, flags: v, out, err, runsDir, index } = c;
  const command = exporting ? "export" : "list";
  if (args.length > 1) {
    throw new FlagError(`${command} takes one QUERY (quote it), got ${args.length} words`);
  }
  if (v.asc && v.desc) throw new FlagError("--asc and --desc together: give one");
  const format = v.format ?? (exporting ? "csv" : undefined);
  if (format !== undefined && (!exporting || !["csv", "json"].includes(format))) {
    throw new FlagError(
      exporting ? `--format must be csv or json, got "${format}"` : "--format goes with export",
    );
  }
  const q: TableQuery = {
    q: args[0],
    sort: v.sort,
    desc: v.asc ? false : v.desc ? true : undefined,
    group: v.group,
    archived: v.archived,
    offset: exporting ? 0 : intFlag("--offset", v.offset, { min: 0 }) ?? 0,
    limit: exporting ? Number.MAX_SAFE_INTEGER : intFlag("--limit", v.limit, { min: 0 }) ?? 50,
  };
  const summaries = await index.rows();
  let result;
  try {
    result = queryTable(summaries, q, await index.columns());
  } catch (e) {
    if (e instanceof QueryError) throw new FlagError(`bad query: ${e.message}`);
    if (/^cannot (sort|group) by/.test((e as Error).message)) {
      throw new FlagError((e as Error).message);
    }
    throw e;
  }
  const known = new Set(result.columns.map((c) => c.key));
  const knownOrAny = summaries.length ? known : null;
  const column = (flag: string, name: string): string => {
    const key = resolveColumn(name, knownOrAny);
    if (key === undefined) {
      throw new FlagError(
        `${flag}: no column "${name}" (${result.columns.map((x) => x.key).join(", ")})`,
      );
    }
    return key;
  };
  const columns = v["all-columns"] || exporting
    ? result.columns.map((c) => c.key)
    : v.columns
    ? v.columns.split(",").map((c) => c.trim()).filter(Boolean).map((c) => column("--columns", c))
    : defaultColumns(result, known, summaries.length === 0);
  if (exporting) {
    const text = format === "json"
      ? JSON.stringify(result.rows.map((r) => r.cells), null, 2) + "\n"
      : [columns, ...result.rows.map((r) => columns.map((c) => r.cells[c]))]
        .map((row) => csvRow(row)).join("\n") + "\n";
    if (v.out) {
      await Deno.writeTextFile(v.out, text);
      err(`${result.rows.length} runs written to ${shownPath(v.out)}`);
    } else out(format === "json" ? terminalSafeJson(text.trimEnd()) : terminalSafe(text.trimEnd()));
    return 0;
  }
  if (result.groups) {
    const agg = column("--agg", v.agg ?? "best.val_acc");
    if (v.json) {
      out(terminalSafeJson(JSON.stringify({ ...result, rows: undefined }, null, 2)));
      return 0;
    }
    const rows = result.groups.map((g) => {
      const a = g.aggregates[agg];
      return [
        formatCell(g.value, v.group!),
        String(g.count),
        a ? formatCell(a.mean, agg) : "",
        a ? formatCell(a.min, agg) : "",
        a ? formatCell(a.max, agg) : "",
      ];
    });
    out(table([v.group!, "count", `mean ${agg}`, "min", "max"], rows));
    out(`${result.groupCount} groups of ${result.matched} runs`);
    return 0;
  }
  if (v.json) {
    out(terminalSafeJson(JSON.stringify(
      {
        total: result.total,
        matched: result.matched,
        archivedHidden: result.archivedHidden,
        runs: result.rows.map((r) => r.cells),
      },
      null,
      2,
    )));
    return 0;
  }
  const shownRuns = shownPath(runsDir);
  if (result.rows.length === 0) {
    out(summaries.length === 0 ? `no runs in ${shownRuns}` : "no run matches");
  } else {
    out(table(columns, result.rows.map((r) => columns.map((c) => formatCell(r.cells[c], c)))));
  }
  out(
    `${result.rows.length} of ${result.matched} matching runs (${result.total} in ${shownRuns}` +
      `${result.archivedHidden ? `, ${result.archivedHidden} archived hidden: --archived` : ""})`,
  );
  for (const r of result.rows.filter((r) => r.summary.metaProblem || r.summary.error)) {
    out(terminalSafe(`  ${r.summary.id}: ${r.summary.metaProblem ?? r.summary.error}`, {
      oneLine: true,
    }));
  }
  for (const r of result.rows.filter((r) => r.summary.state === "crashed")) {
    out(terminalSafe(`  ${r.summary.id} crashed: ${resumeOf(r.summary, runsDir)}`));
  }
  return 0;
}

async function show(c: Context): Promise<number> {
  const { args, flags: v, out, runsDir, index } = c;
  if (args.length !== 1) throw new FlagError("show takes one RUN (a run id or folder)");
  const id = await findRun(runsDir, args[0]);
  const s = (await index.summaries()).find((x) => x.id === id);
  if (!s) throw new Error(`${id} is not a run (no run file)`);
  if (v.json) {
    const resumable = s.state === "crashed" || s.state === "stopped";
    out(terminalSafeJson(JSON.stringify(
      {
        ...s,
        dir: undefined,
        cells: runCells(s),
        ...(resumable ? { resumeCommand: resumeOf(s, runsDir) } : {}),
      },
      null,
      2,
    )));
  } else {
    const info = await readRunInfo(s.dir).catch(() => undefined);
    out(showText(s, runsDir, parseCodeIdentity(info?.config?.code)));
  }
  return 0;
}

async function tagOrUntag(c: Context, adding: boolean): Promise<number> {
  const { args, out, runsDir } = c;
  if (args.length < 2) throw new FlagError(`${adding ? "tag" : "untag"} needs RUN and a TAG`);
  for (const t of args.slice(1)) {
    try {
      checkTag(t);
    } catch (e) {
      throw new FlagError((e as Error).message);
    }
  }
  const edit = adding ? { addTags: args.slice(1) } : { removeTags: args.slice(1) };
  out(await editMeta(runsDir, args[0], edit));
  return 0;
}

async function setText(c: Context, what: "note" | "rename"): Promise<number> {
  const { args, out, runsDir } = c;
  const word = what === "note" ? "TEXT" : "NAME";
  if (args.length !== 2) {
    throw new FlagError(`${what} takes RUN and one ${word} (quote it; "" clears it)`);
  }
  const edit = what === "note" ? { note: args[1] } : { name: args[1] === "" ? null : args[1] };
  out(await editMeta(runsDir, args[0], edit));
  return 0;
}

async function archive(c: Context, archived: boolean): Promise<number> {
  const { args, out, runsDir } = c;
  if (args.length === 0) throw new FlagError(`${archived ? "" : "un"}archive needs a RUN`);
  const ids = await Promise.all(args.map((a) => findRun(runsDir, a)));
  for (const id of ids) out(await editMeta(runsDir, id, { archived }));
  return 0;
}

async function deleteRuns(c: Context): Promise<number> {
  const { args, out, runsDir } = c;
  if (args.length === 0) throw new FlagError("delete needs a RUN");
  const ids = await Promise.all(args.map((a) => findRun(runsDir, a)));
  for (const id of ids) {
    const to = await trashRun(runsDir, id);
    out(`${id} moved to ${shownPath(to)} (deno task runs gc empties the trash)`);
  }
  return 0;
}

async function trash(c: Context): Promise<number> {
  if (c.args.length) throw new FlagError("trash takes no arguments");
  const items = await listTrash(c.runsDir);
  c.out(
    items.length
      ? terminalSafe(items.map((i) => `${i.name}  ${(i.bytes / 1e6).toFixed(1)} MB`).join("\n"))
      : "the trash is empty",
  );
  return 0;
}

async function restore(c: Context): Promise<number> {
  if (c.args.length === 0) throw new FlagError("restore needs a RUN from the trash (see: trash)");
  for (const name of c.args) {
    c.out(terminalSafe(`${await restoreRun(c.runsDir, name)} restored`, { oneLine: true }));
  }
  return 0;
}

async function gc(c: Context): Promise<number> {
  if (c.args.length) throw new FlagError("gc takes no arguments");
  const items = await listTrash(c.runsDir);
  const freed = await emptyTrash(c.runsDir);
  c.out(
    items.length
      ? `deleted ${freed.runs} runs from the trash (${(freed.bytes / 1e6).toFixed(1)} MB)`
      : "the trash is empty",
  );
  return 0;
}

/** One handler per command. */
const COMMANDS: Record<string, (c: Context) => Promise<number>> = {
  list: (c) => listOrExport(c, false),
  export: (c) => listOrExport(c, true),
  show,
  tag: (c) => tagOrUntag(c, true),
  untag: (c) => tagOrUntag(c, false),
  note: (c) => setText(c, "note"),
  rename: (c) => setText(c, "rename"),
  archive: (c) => archive(c, true),
  unarchive: (c) => archive(c, false),
  delete: deleteRuns,
  trash,
  restore,
  gc,
};

/** Runs the CLI with `argv`, printing to `out`/`err`; returns the exit status. */
export function main(
  argv: string[],
  out: (s: string) => void = console.log,
  err: (s: string) => void = console.error,
): Promise<number> {
  return runCommand(argv, {
    help: runsHelp,
    out,
    error: err,
    main: async (argv) => {
      const parsed = parseRunsFlags(argv);
      const [command, ...args] = parsed.positionals;
      if (command === undefined) {
        throw new FlagError(`give a command (${Object.keys(COMMANDS).join(", ")}); --help`);
      }
      const handler = Object.hasOwn(COMMANDS, command) ? COMMANDS[command] : undefined;
      if (!handler) {
        throw new FlagError(
          `unknown command "${command}" (${Object.keys(COMMANDS).join(", ")})`,
        );
      }
      const runsDir = parsed.values.runs ?? "runs";
      return await handler({
        args,
        flags: parsed.values,
        runsDir,
        index: new RunIndex(runsDir),
        out,
        err,
      });
    },
  });
}

if (import.meta.main) await runAndExit(main);
