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
import { parseArgs } from "node:util";
import { join, relative, resolve } from "node:path";
import { RunIndex } from "../core/run/index.ts";
import { type Cell, runCells, runDurationMs, type RunSummaryRecord } from "../core/run/summary.ts";
import { QueryError, queryTable, type TableQuery } from "../core/run/query.ts";
import { applyMetaEdit, checkTag, type MetaEdit, updateRunMeta } from "../core/run/meta.ts";
import { resumeCommand } from "../core/run/state.ts";
import { emptyTrash, listTrash, restoreRun, trashRun } from "../core/run/trash.ts";
import { readRunInfoChecked } from "../core/run/run_info.ts";
import { readRunInfo } from "../core/run/reader.ts";
import {
  type CodeIdentity,
  formatCodeIdentity,
  parseCodeIdentity,
} from "../core/code_identity_format.ts";
import { runAndExit } from "./_process.ts";

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

Query: comparisons of columns with values joined by and/or/not, e.g.
  'lr < 0.01 and val_acc > 0.9 and tag = baseline and status != crashed'
  operators < <= > >= = != ~ (contains); a bare metric name is its best value;
  columns: id name experiment status tags note archived finished_epochs duration start
  backend, each hyperparameter, best.<metric>, last.<metric>, test_acc.

Options:
  --runs DIR            the runs folder                                  [default: runs]
  -h, --help            show this help

Exit status: 0 done, 1 failed (no such run, running, corrupt sidecar), 2 bad usage or query.
`;

class UsageError extends Error {}

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
  if (Array.isArray(v)) return v.join(",");
  if (key === "start" && typeof v === "number") return new Date(v).toISOString().slice(0, 19);
  if (key === "duration" && typeof v === "number") return `${Math.round(v)}s`;
  if (typeof v === "number") {
    return Number.isInteger(v)
      ? String(v)
      : Math.abs(v) < 1e-3
      ? v.toExponential(2)
      : String(Number(v.toPrecision(4)));
  }
  return String(v);
}

function table(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (r: string[]) => r.map((c, i) => c.padEnd(widths[i])).join("  ").trimEnd();
  return [line(header), ...rows.map(line)].join("\n");
}

function csvField(v: Cell | undefined): string {
  const s = v === null || v === undefined ? "" : Array.isArray(v) ? v.join(";") : String(v);
  return /[",\n\r]/.test(s) ? `"${s.replaceAll('"', '""')}"` : s;
}

async function findRun(runsDir: string, ref: string): Promise<string> {
  const root = resolve(runsDir);
  const abs = resolve(ref);
  const id = abs.startsWith(root + "/") && !abs.slice(root.length + 1).includes("/")
    ? abs.slice(root.length + 1)
    : ref;
  if (!/^[^/\\]+$/.test(id) || id.startsWith(".")) {
    throw new Error(`${ref} is not a run of ${runsDir} (give its id or its folder)`);
  }
  const st = await Deno.lstat(join(root, id)).catch(() => null);
  if (!st?.isDirectory) throw new Error(`no run ${id} in ${runsDir}`);
  return id;
}

async function editMeta(runsDir: string, ref: string, edit: MetaEdit): Promise<string> {
  const id = await findRun(runsDir, ref);
  const dir = join(resolve(runsDir), id);
  // Only run folders: one with an unreadable run.json still counts (it is listed, as invalid).
  await readRunInfoChecked(dir).catch((err) => {
    if (/does not exist/.test((err as Error).message)) throw new Error(`${id} is not a run`);
  });
  const meta = await updateRunMeta(dir, (m) => applyMetaEdit(m, edit));
  return `${id}: name ${meta.name ? JSON.stringify(meta.name) : "-"}, tags ${
    meta.tags.join(",") || "-"
  }${meta.archived ? ", archived" : ""}${
    meta.note ? `, note ${JSON.stringify(meta.note.slice(0, 60))}` : ""
  }`;
}

function showText(s: RunSummaryRecord, runsDir: string, code?: CodeIdentity): string {
  const lines = [`${s.id}${s.meta.name ? `  "${s.meta.name}"` : ""}`];
  const add = (k: string, v: unknown) => {
    if (v !== undefined && v !== null && v !== "") lines.push(`  ${k.padEnd(14)} ${v}`);
  };
  add("experiment", s.experiment);
  add("status", s.state + (s.crashReason ? ` (${s.crashReason})` : ""));
  if (s.state === "crashed" || s.state === "stopped") {
    add("resume with", resumeCommand(join(relative(Deno.cwd(), resolve(runsDir)) || ".", s.id)));
  }
  add("stop reason", s.stopReason);
  add("error", s.error);
  add("problems", s.problems?.join("; "));
  add("sidecar", s.metaProblem);
  add("tags", s.meta.tags.join(", "));
  add("note", s.meta.note);
  add("archived", s.meta.archived ? "yes" : undefined);
  add("started", s.createdAt);
  const d = runDurationMs(s);
  add("duration", d === null ? undefined : `${Math.round(d / 1000)}s`);
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
  return lines.join("\n");
}

function num(flag: string, v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  if (!/^\d+$/.test(v)) throw new UsageError(`${flag} expects a non-negative integer, got "${v}"`);
  return Number(v);
}

/** Runs the CLI with `argv`, printing to `out`/`err`; returns the exit status. */
export async function main(
  argv: string[],
  out: (s: string) => void = console.log,
  err: (s: string) => void = console.error,
): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      strict: true,
      allowPositionals: true,
      options: {
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
      },
    });
  } catch (e) {
    err(`error: ${(e as Error).message}. Run with --help for the commands.`);
    return 2;
  }
  const v = parsed.values;
  const [command, ...args] = parsed.positionals;
  if (v.help || command === undefined) {
    out(HELP);
    return v.help ? 0 : 2;
  }
  const runsDir = v.runs ?? "runs";
  const index = new RunIndex(runsDir);
  const need = (n: number, what: string) => {
    if (args.length < n) throw new UsageError(`${command} needs ${what}`);
  };
  try {
    switch (command) {
      case "list":
      case "export": {
        if (args.length > 1) {
          throw new UsageError(`${command} takes one QUERY (quote it), got ${args.length} words`);
        }
        if (v.asc && v.desc) throw new UsageError("--asc and --desc together");
        const exporting = command === "export";
        const format = v.format ?? (exporting ? "csv" : undefined);
        if (format !== undefined && (!exporting || !["csv", "json"].includes(format))) {
          throw new UsageError(
            exporting
              ? `--format must be csv or json, got "${format}"`
              : "--format goes with export",
          );
        }
        const q: TableQuery = {
          q: args[0],
          sort: v.sort,
          desc: v.asc ? false : v.desc ? true : undefined,
          group: v.group,
          archived: v.archived,
          offset: exporting ? 0 : num("--offset", v.offset) ?? 0,
          limit: exporting ? Number.MAX_SAFE_INTEGER : num("--limit", v.limit) ?? 50,
        };
        const summaries = await index.rows();
        const result = queryTable(summaries, q, await index.columns());
        const known = new Set(result.columns.map((c) => c.key));
        const columns = v["all-columns"] || exporting
          ? result.columns.map((c) => c.key)
          : v.columns
          ? v.columns.split(",").map((c) => c.trim()).filter(Boolean)
          : defaultColumns(result, known, summaries.length === 0);
        for (const c of columns) {
          if (!known.has(c) && summaries.length) {
            throw new UsageError(
              `--columns: no column "${c}" (${result.columns.map((x) => x.key).join(", ")})`,
            );
          }
        }
        if (exporting) {
          const text = format === "json"
            ? JSON.stringify(result.rows.map((r) => r.cells), null, 2) + "\n"
            : [
              columns.join(","),
              ...result.rows.map((r) => columns.map((c) => csvField(r.cells[c])).join(",")),
            ]
              .join("\n") + "\n";
          if (v.out) {
            await Deno.writeTextFile(v.out, text);
            err(`${result.rows.length} runs written to ${v.out}`);
          } else out(text.trimEnd());
          return 0;
        }
        if (result.groups) {
          const agg = v.agg ?? "best.val_acc";
          if (!known.has(agg) && summaries.length) {
            throw new UsageError(`--agg: no column "${agg}"`);
          }
          if (v.json) {
            out(JSON.stringify({ ...result, rows: undefined }, null, 2));
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
          out(JSON.stringify(
            {
              total: result.total,
              matched: result.matched,
              archivedHidden: result.archivedHidden,
              runs: result.rows.map((r) => r.cells),
            },
            null,
            2,
          ));
          return 0;
        }
        if (result.rows.length === 0) {
          out(summaries.length === 0 ? `no runs in ${runsDir}` : "no run matches");
        } else {
          out(
            table(columns, result.rows.map((r) => columns.map((c) => formatCell(r.cells[c], c)))),
          );
        }
        const shown = result.rows.length;
        out(
          `${shown} of ${result.matched} matching runs (${result.total} in ${runsDir}` +
            `${
              result.archivedHidden ? `, ${result.archivedHidden} archived hidden: --archived` : ""
            })`,
        );
        const problems = result.rows.filter((r) => r.summary.metaProblem || r.summary.error);
        for (const r of problems) {
          out(`  ${r.summary.id}: ${r.summary.metaProblem ?? r.summary.error}`);
        }
        for (const r of result.rows.filter((r) => r.summary.state === "crashed")) {
          out(
            `  ${r.summary.id} crashed: ${
              resumeCommand(join(relative(Deno.cwd(), resolve(runsDir)) || ".", r.summary.id))
            }`,
          );
        }
        return 0;
      }
      case "show": {
        need(1, "RUN");
        if (args.length > 1) throw new UsageError("show takes one RUN");
        const id = await findRun(runsDir, args[0]);
        const s = (await index.summaries()).find((x) => x.id === id);
        if (!s) throw new Error(`${id} is not a run (no run file)`);
        if (v.json) {
          out(JSON.stringify(
            {
              ...s,
              dir: undefined,
              cells: runCells(s),
              ...(s.state === "crashed" || s.state === "stopped"
                ? {
                  resumeCommand: resumeCommand(
                    join(relative(Deno.cwd(), resolve(runsDir)) || ".", s.id),
                  ),
                }
                : {}),
            },
            null,
            2,
          ));
        } else {
          const info = await readRunInfo(s.dir).catch(() => undefined);
          out(showText(s, runsDir, parseCodeIdentity(info?.config?.code)));
        }
        return 0;
      }
      case "tag":
      case "untag": {
        need(2, "RUN and at least one TAG");
        for (const t of args.slice(1)) {
          try {
            checkTag(t);
          } catch (e) {
            throw new UsageError((e as Error).message);
          }
        }
        const edit = command === "tag" ? { addTags: args.slice(1) } : { removeTags: args.slice(1) };
        out(await editMeta(runsDir, args[0], edit));
        return 0;
      }
      case "note":
        need(2, 'RUN and TEXT ("" clears the note)');
        if (args.length > 2) throw new UsageError("note takes RUN and one TEXT (quote it)");
        out(await editMeta(runsDir, args[0], { note: args[1] }));
        return 0;
      case "rename":
        need(2, 'RUN and NAME ("" clears the name)');
        if (args.length > 2) throw new UsageError("rename takes RUN and one NAME (quote it)");
        out(await editMeta(runsDir, args[0], { name: args[1] === "" ? null : args[1] }));
        return 0;
      case "archive":
      case "unarchive": {
        need(1, "at least one RUN");
        const ids = await Promise.all(args.map((a) => findRun(runsDir, a)));
        for (const id of ids) {
          out(await editMeta(runsDir, id, { archived: command === "archive" }));
        }
        return 0;
      }
      case "delete": {
        need(1, "at least one RUN");
        const ids = await Promise.all(args.map((a) => findRun(runsDir, a)));
        for (const id of ids) {
          const to = await trashRun(runsDir, id);
          out(
            `${id} moved to ${
              relative(Deno.cwd(), to) || to
            } (deno task runs gc empties the trash)`,
          );
        }
        return 0;
      }
      case "trash": {
        if (args.length) throw new UsageError("trash takes no arguments");
        const items = await listTrash(runsDir);
        out(
          items.length
            ? items.map((i) => `${i.name}  ${(i.bytes / 1e6).toFixed(1)} MB`).join("\n")
            : "the trash is empty",
        );
        return 0;
      }
      case "restore": {
        need(1, "a RUN from the trash (see: deno task runs trash)");
        for (const name of args) out(`${await restoreRun(runsDir, name)} restored`);
        return 0;
      }
      case "gc": {
        if (args.length) throw new UsageError("gc takes no arguments");
        const items = await listTrash(runsDir);
        const freed = await emptyTrash(runsDir);
        out(
          items.length
            ? `deleted ${freed.runs} runs from the trash (${(freed.bytes / 1e6).toFixed(1)} MB)`
            : "the trash is empty",
        );
        return 0;
      }
      default:
        throw new UsageError(
          `unknown command "${command}" (list, show, tag, untag, note, rename, archive, ` +
            `unarchive, delete, trash, restore, export, gc)`,
        );
    }
  } catch (e) {
    if (e instanceof QueryError) {
      err(`error: bad query: ${e.message}`);
      return 2;
    }
    err(`error: ${(e as Error).message}`);
    return e instanceof UsageError || /^cannot (sort|group) by/.test((e as Error).message) ? 2 : 1;
  }
}

if (import.meta.main) await runAndExit(main);
