/**
 * The runs query language, shared by `deno task runs list` and the dashboard's runs table,
 * and the table operations around it (columns, sort, group with count/mean/min/max, paging,
 * archived runs hidden unless asked).
 *
 * A query compares columns with values and combines the comparisons:
 *
 * ```
 * lr < 0.01 and val_acc > 0.9 and tag = baseline and status != crashed
 * (optimizer = sgd or optimizer = "rmsprop") and not archived
 * name ~ resnet and start > "2026-12-01" and duration < 600
 * ```
 *
 * - Operators: `<` `<=` `>` `>=` `=` (also `==`) `!=` and `~` (contains, case-insensitive);
 *   `and`, `or`, `not` (also `&&`, `||`, `!`), parentheses. A column alone tests truthiness.
 * - Values: numbers (`1e-3`), quoted strings, `true`/`false`, or a bare word (`baseline`).
 * - Columns: any column of the table (`id name experiment status tags note archived
 *   finished_epochs duration start backend`, each hyperparameter by name, `best.<metric>`,
 *   `last.<metric>`, `test_acc`). A bare metric name (`val_acc`) means its best value;
 *   `params.X` and `metrics.X` also work; `lr`, `batch_size`, `image_size` and `tag` are
 *   aliases. `tags = x` holds when x is one of the tags. `start` compares with a date string.
 * - A run without the column fails every comparison but `!=`.
 *
 * Parsing is done by jsep (a small, well-kept expression parser) with the words above added as
 * operators; errors name the bad token and its position.
 *
 * @example
 * ```ts
 * import { compileQuery } from "./query.ts";
 * const q = compileQuery("lr < 0.01 and tag = baseline", new Set(["learningRate", "tags"]));
 * console.log(q.test({ learningRate: 0.001, tags: ["baseline"] })); // true
 * ```
 *
 * @module
 */
import jsep from "jsep";
import type { Cell, RunSummaryRecord } from "./summary.ts";
import { RUN_COLUMNS, runCells, STANDARD_HYPERPARAMETERS } from "./summary.ts";

jsep.addBinaryOp("and", 2);
jsep.addBinaryOp("or", 1);
jsep.addBinaryOp("=", 6);
jsep.addBinaryOp("~", 6);
jsep.addUnaryOp("not");

/**
 * A query that does not parse or names an unknown column; the message points at the token.
 *
 * @example
 * ```ts
 * import { compileQuery, QueryError } from "./query.ts";
 * try {
 *   compileQuery("lr < < 1", null);
 * } catch (err) {
 *   if (err instanceof QueryError) console.log(err.index, err.message);
 * }
 * ```
 */
export class QueryError extends Error {
  /** 0-based character position of the bad token. */
  readonly index: number;
  /** The query. */
  readonly query: string;
  /** The problem without the pointer lines. */
  readonly reason: string;
  /** Creates the error for `query` at `index`. */
  constructor(query: string, index: number, reason: string) {
    const at = Math.max(0, Math.min(index, query.length));
    super(`${reason} (at character ${at + 1})\n  ${query}\n  ${" ".repeat(at)}^`);
    this.name = "QueryError";
    this.index = at;
    this.query = query;
    this.reason = reason;
  }
}

/** Other names accepted for columns. */
const ALIASES: Record<string, string> = {
  lr: "learningRate",
  learning_rate: "learningRate",
  batch_size: "batchSize",
  image_size: "imageSize",
  tag: "tags",
  started: "start",
  epochs_done: "finished_epochs",
  test_accuracy: "test_acc",
  "test.accuracy": "test_acc",
};

/**
 * The column `name` means among `known` columns (or `undefined`); `known` null accepts any
 * name after aliasing (an empty runs folder).
 *
 * @example
 * ```ts
 * import { resolveColumn } from "./query.ts";
 * resolveColumn("lr", new Set(["learningRate"])); // "learningRate"
 * resolveColumn("val_acc", new Set(["best.val_acc"])); // "best.val_acc"
 * ```
 */
export function resolveColumn(name: string, known: ReadonlySet<string> | null): string | undefined {
  const candidates = [name, ALIASES[name]];
  if (name.startsWith("params.")) candidates.push(name.slice(7));
  if (name.startsWith("metrics.")) candidates.push(`best.${name.slice(8)}`);
  candidates.push(`best.${name}`);
  for (const c of candidates) if (c && known?.has(c)) return c;
  if (known === null) return ALIASES[name] ?? name;
  return undefined;
}

type Node = jsep.Expression;
type Value = { kind: "field"; key: string } | { kind: "literal"; value: Cell };

/** A compiled query. */
export interface CompiledQuery {
  /** The query text. */
  readonly text: string;
  /** The columns it reads. */
  readonly columns: readonly string[];
  /** Whether a run's cells match. */
  test(cells: Readonly<Record<string, Cell>>): boolean;
}

function dottedName(n: Node): string | undefined {
  if (n.type === "Identifier") return n.name as string;
  if (n.type === "MemberExpression" && !n.computed) {
    const left = dottedName(n.object as Node);
    const right = dottedName(n.property as Node);
    return left && right ? `${left}.${right}` : undefined;
  }
  return undefined;
}

/** A bare word that jsep read as a subtraction (`sweep-1`, `a-b.c`), or `undefined`. */
function bareWord(n: Node): string | undefined {
  if (n.type === "Literal" && typeof n.value === "number") return String(n.raw);
  if (n.type === "BinaryExpression" && n.operator === "-") {
    const l = bareWord(n.left as Node), r = bareWord(n.right as Node);
    return l !== undefined && r !== undefined ? `${l}-${r}` : undefined;
  }
  return dottedName(n);
}

/** Finds where `word` stands in `q` (for error positions; jsep nodes carry none). */
function positionOf(q: string, word: string): number {
  const re = new RegExp(`(^|[^\\w.])${word.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}(?![\\w.])`);
  const m = re.exec(q);
  return m ? m.index + m[1].length : 0;
}

function compare(op: string, a: Cell, b: Cell): boolean {
  if (op === "!=") return !compare("=", a, b);
  if (a === null || a === undefined) return false;
  if (Array.isArray(a)) {
    if (op === "=") return a.some((t) => compare("=", t, b));
    if (op === "~") return a.some((t) => compare("~", t, b));
    return false;
  }
  if (op === "~") return String(a).toLowerCase().includes(String(b).toLowerCase());
  if (op === "=") {
    if (typeof a === "number" && typeof b === "string" && b.trim() !== "") return a === Number(b);
    if (typeof a === "boolean" && typeof b === "string") return String(a) === b;
    return a === b;
  }
  const x = a as number | string;
  let y: number | string = b as number | string;
  if (typeof x === "number" && typeof y === "string") {
    const n = Number(y);
    if (y.trim() === "" || Number.isNaN(n)) return false;
    y = n;
  }
  if (typeof x !== typeof y) return false;
  if (typeof x === "boolean") return false;
  switch (op) {
    case "<":
      return x < y;
    case "<=":
      return x <= y;
    case ">":
      return x > y;
    case ">=":
      return x >= y;
  }
  return false;
}

/**
 * Parses `text` against the `known` columns (null: accept any). Throws {@linkcode QueryError}
 * pointing at the token when it does not parse, uses an operator it does not know, or names
 * an unknown column (the message lists some that exist).
 *
 * @example
 * ```ts
 * import { compileQuery } from "./query.ts";
 * const q = compileQuery("val_acc > 0.9 and not archived", null);
 * q.test({ "best.val_acc": 0.95, archived: false }); // true
 * ```
 */
export function compileQuery(text: string, known: ReadonlySet<string> | null): CompiledQuery {
  let ast: Node;
  try {
    ast = jsep(text);
  } catch (err) {
    const e = err as Error & { index?: number; description?: string };
    throw new QueryError(text, e.index ?? 0, e.description ?? e.message);
  }
  const columns = new Set<string>();
  const unknown = (name: string): never => {
    const some = known ? [...known].slice(0, 40).join(", ") : "";
    throw new QueryError(
      text,
      positionOf(text, name),
      `unknown column "${name}"${
        some ? `; columns: ${some}${known!.size > 40 ? ", ..." : ""}` : ""
      }`,
    );
  };
  const bad = (what: string, near?: string): never => {
    throw new QueryError(text, near ? positionOf(text, near) : 0, what);
  };
  const operand = (n: Node, otherIsField: boolean): Value => {
    if (n.type === "Literal") {
      const v = n.value;
      if (typeof v === "number" || typeof v === "string" || typeof v === "boolean") {
        return { kind: "literal", value: v };
      }
      return bad(`unsupported value ${String(n.raw)}`, String(n.raw));
    }
    if (
      n.type === "UnaryExpression" && n.operator === "-" && n.argument &&
      (n.argument as Node).type === "Literal" && typeof (n.argument as Node).value === "number"
    ) {
      return { kind: "literal", value: -((n.argument as Node).value as number) };
    }
    if (otherIsField && n.type === "BinaryExpression" && n.operator === "-") {
      const word = bareWord(n);
      if (word !== undefined) return { kind: "literal", value: word };
    }
    const name = dottedName(n);
    if (name === undefined) return bad(`expected a column or a value`, String(n.raw ?? ""));
    const key = resolveColumn(name, known);
    if (key) {
      columns.add(key);
      return { kind: "field", key };
    }
    if (otherIsField) return { kind: "literal", value: name }; // a bare word: a string
    return unknown(name);
  };
  const isFieldNode = (n: Node) => {
    const name = dottedName(n);
    return name !== undefined && resolveColumn(name, known) !== undefined;
  };
  const build = (n: Node): (c: Readonly<Record<string, Cell>>) => boolean => {
    if (n.type === "BinaryExpression") {
      const op = n.operator as string;
      if (op === "and" || op === "&&" || op === "or" || op === "||") {
        const l = build(n.left as Node), r = build(n.right as Node);
        return op === "and" || op === "&&" ? (c) => l(c) && r(c) : (c) => l(c) || r(c);
      }
      const norm = op === "==" ? "=" : op;
      if (!["<", "<=", ">", ">=", "=", "!=", "~"].includes(norm)) {
        return bad(`unknown operator "${op}" (use < <= > >= = != ~ and or not)`, op);
      }
      const left = n.left as Node, right = n.right as Node;
      const lf = isFieldNode(left), rf = isFieldNode(right);
      const a = operand(left, rf), b = operand(right, lf);
      if (a.kind === "literal" && b.kind === "literal") {
        return bad(`a comparison needs a column on one side`, String(left.raw ?? ""));
      }
      const flip: Record<string, string> = { "<": ">", "<=": ">=", ">": "<", ">=": "<=" };
      const [f, lit, o] = a.kind === "field" ? [a, b, norm] : [b, a, flip[norm] ?? norm];
      const key = (f as { key: string }).key;
      let v: Cell | { key: string } = lit.kind === "literal" ? lit.value : { key: lit.key };
      if (key === "start" && typeof v === "string") {
        const t = Date.parse(v);
        if (!Number.isFinite(t)) bad(`"${v}" is not a date (use e.g. "2026-12-01")`, v);
        v = t;
      }
      if (typeof v === "object" && v !== null && !Array.isArray(v)) {
        const k2 = v.key;
        return (c) => compare(o, c[key] ?? null, c[k2] ?? null);
      }
      const value = v as Cell;
      return (c) => compare(o, c[key] ?? null, value);
    }
    if (n.type === "UnaryExpression" && (n.operator === "not" || n.operator === "!")) {
      const inner = build(n.argument as Node);
      return (c) => !inner(c);
    }
    if (n.type === "Compound") {
      const body = n.body as Node[];
      const second = body[1];
      return bad(
        `expected "and" or "or" between conditions`,
        String(second?.raw ?? dottedName(second) ?? ""),
      );
    }
    const name = dottedName(n);
    if (name !== undefined) {
      const key = resolveColumn(name, known) ?? unknown(name);
      columns.add(key);
      return (c) => {
        const v = c[key];
        return Array.isArray(v) ? v.length > 0 : Boolean(v);
      };
    }
    return bad(`unsupported expression`, String(n.raw ?? ""));
  };
  const test = build(ast);
  return { text, columns: [...columns], test };
}

/** How a column's values look. */
export type ColumnKind = "text" | "number" | "time" | "tags" | "boolean";

/** One column of the runs table. */
export interface ColumnInfo {
  /** Key in the cells (and in queries). */
  key: string;
  /** What its values are. */
  kind: ColumnKind;
  /** Run facts, hyperparameters, or metrics. */
  group: "run" | "hyperparameter" | "metric";
}

/**
 * The columns found in `rows`, run facts first, then hyperparameters, then metrics.
 *
 * @example
 * ```ts
 * import { tableColumns } from "./query.ts";
 * tableColumns([{ id: "a", learningRate: 0.01 }]).find((c) => c.key === "learningRate")?.group; // "hyperparameter"
 * ```
 */
export function tableColumns(rows: readonly Readonly<Record<string, Cell>>[]): ColumnInfo[] {
  const kinds = new Map<string, ColumnKind>();
  for (const r of rows) {
    for (const k in r) {
      if (kinds.has(k)) continue;
      const v = r[k];
      if (v === null || v === undefined) continue;
      kinds.set(
        k,
        k === "start"
          ? "time"
          : Array.isArray(v)
          ? "tags"
          : typeof v === "number"
          ? "number"
          : typeof v === "boolean"
          ? "boolean"
          : "text",
      );
    }
  }
  const runKeys: string[] = [...RUN_COLUMNS];
  const groupOf = (k: string): ColumnInfo["group"] =>
    runKeys.includes(k)
      ? "run"
      : k.startsWith("best.") || k.startsWith("last.") || k === "test_acc"
      ? "metric"
      : "hyperparameter";
  const order = (k: string) =>
    runKeys.includes(k)
      ? runKeys.indexOf(k)
      : (STANDARD_HYPERPARAMETERS as readonly string[]).includes(k)
      ? 100 + STANDARD_HYPERPARAMETERS.indexOf(k as typeof STANDARD_HYPERPARAMETERS[number])
      : groupOf(k) === "hyperparameter"
      ? 200
      : k === "test_acc"
      ? 300
      : k.startsWith("best.")
      ? 301
      : 302;
  for (const k of runKeys) if (!kinds.has(k)) kinds.set(k, k === "start" ? "time" : "text");
  return [...kinds.entries()]
    .map(([key, kind]) => ({ key, kind, group: groupOf(key) }))
    .sort((a, b) => order(a.key) - order(b.key) || a.key.localeCompare(b.key));
}

/** Compares two cells for sorting (nulls are handled by the caller). */
function cellOrder(a: Cell, b: Cell): number {
  if (typeof a === "number" && typeof b === "number") return a - b;
  const s = (v: Cell) => (Array.isArray(v) ? v.join(",") : String(v));
  return s(a).localeCompare(s(b), undefined, { numeric: true });
}

/** What to show of the runs table. */
export interface TableQuery {
  /** A query (see the module doc); empty: every run. */
  q?: string;
  /** Column to sort by (default `start`, newest first). */
  sort?: string;
  /** Descending (default true for `start`, false otherwise). */
  desc?: boolean;
  /** Column to group by. */
  group?: string;
  /** Include archived runs (default: only when the query names `archived`). */
  archived?: boolean;
  /** First row (or group) of the page. */
  offset?: number;
  /** Rows (or groups) per page (default 50). */
  limit?: number;
}

/** Count, mean, min and max of a numeric column over a group's runs. */
export interface Aggregate {
  /** Runs with a value. */
  count: number;
  /** Their mean. */
  mean: number;
  /** Their minimum. */
  min: number;
  /** Their maximum. */
  max: number;
}

/** One group of {@linkcode TableResult.groups}. */
export interface TableGroup {
  /** The grouped column's value (tags joined with commas). */
  value: Cell;
  /** Runs in the group. */
  count: number;
  /** Ids of the group's runs (in sort order, at most 100). */
  ids: string[];
  /** Aggregates of every numeric column with a value in the group. */
  aggregates: Record<string, Aggregate>;
}

/** The answer of {@linkcode queryTable}. */
export interface TableResult {
  /** Runs in the folder. */
  total: number;
  /** Runs that match (after the query and the archived filter). */
  matched: number;
  /** Archived runs left out because they were not asked for. */
  archivedHidden: number;
  /** Every column found in the folder. */
  columns: ColumnInfo[];
  /** The page of matching runs (sorted), when not grouping. */
  rows: { summary: RunSummaryRecord; cells: Record<string, Cell> }[];
  /** The page of groups (sorted by value), when grouping. */
  groups?: TableGroup[];
  /** Groups in all (when grouping). */
  groupCount?: number;
}

/**
 * Filters, sorts, groups and pages runs (summaries, or `RunIndex.rows()` with their cells;
 * `knownColumns` from `RunIndex.columns()` spares computing them). Throws {@linkcode QueryError} for a bad query
 * and an `Error` naming the columns for an unknown sort or group column.
 *
 * @example
 * ```ts
 * import { queryTable } from "./query.ts";
 * import { RunIndex } from "./index.ts";
 * const index = new RunIndex("runs");
 * const page = queryTable(await index.rows(), { q: "tag = baseline", sort: "best.val_acc", desc: true }, await index.columns());
 * console.log(page.matched, page.rows.map((r) => r.summary.id));
 * ```
 */
export function queryTable(
  runs: readonly (RunSummaryRecord | { summary: RunSummaryRecord; cells: Record<string, Cell> })[],
  query: TableQuery = {},
  knownColumns?: ColumnInfo[],
): TableResult {
  type Row = { summary: RunSummaryRecord; cells: Record<string, Cell> };
  const all: readonly Row[] = runs.length > 0 && "cells" in runs[0] && "summary" in runs[0]
    ? runs as readonly Row[]
    : (runs as readonly RunSummaryRecord[]).map((r) => ({ summary: r, cells: runCells(r) }));
  const columns = knownColumns ?? tableColumns(all.map((r) => r.cells));
  const known = all.length ? new Set(columns.map((c) => c.key)) : null;
  const compiled = query.q?.trim() ? compileQuery(query.q, known) : undefined;
  const showArchived = query.archived ?? compiled?.columns.includes("archived") ?? false;
  let archivedHidden = 0;
  const matched = all.filter((r) => {
    if (!showArchived && r.cells.archived === true) {
      if (!compiled || compiled.test(r.cells)) archivedHidden++;
      return false;
    }
    return !compiled || compiled.test(r.cells);
  });
  const col = (name: string | undefined, what: string) => {
    if (!name) return undefined;
    const key = resolveColumn(name, known);
    if (!key) {
      throw new Error(
        `cannot ${what} by "${name}": no such column (${columns.map((c) => c.key).join(", ")})`,
      );
    }
    return key;
  };
  const sortKey = col(query.sort, "sort") ?? "start";
  const desc = query.desc ?? (query.sort === undefined);
  const dir = desc ? -1 : 1;
  matched.sort((a, b) => {
    const x = a.cells[sortKey] ?? null, y = b.cells[sortKey] ?? null;
    if (x === null || y === null) return x === y ? 0 : x === null ? 1 : -1;
    return dir * cellOrder(x, y) || (a.summary.id < b.summary.id ? -1 : 1);
  });
  const offset = query.offset ?? 0;
  const limit = query.limit ?? 50;
  const base = { total: all.length, matched: matched.length, archivedHidden, columns };
  const groupKey = col(query.group, "group");
  if (!groupKey) return { ...base, rows: matched.slice(offset, offset + limit) };
  const numeric = columns.filter((c) => c.kind === "number").map((c) => c.key);
  const byValue = new Map<string, { value: Cell; rows: typeof matched }>();
  for (const r of matched) {
    const v = r.cells[groupKey] ?? null;
    const value = Array.isArray(v) ? v.join(",") : v;
    const k = JSON.stringify(value);
    let g = byValue.get(k);
    if (!g) byValue.set(k, g = { value, rows: [] });
    g.rows.push(r);
  }
  const groups: TableGroup[] = [...byValue.values()].map(({ value, rows }) => {
    const aggregates: Record<string, Aggregate> = {};
    for (const k of numeric) {
      let count = 0, sum = 0, min = Infinity, max = -Infinity;
      for (const r of rows) {
        const v = r.cells[k];
        if (typeof v !== "number" || !Number.isFinite(v)) continue;
        count++;
        sum += v;
        if (v < min) min = v;
        if (v > max) max = v;
      }
      if (count) aggregates[k] = { count, mean: sum / count, min, max };
    }
    return {
      value,
      count: rows.length,
      ids: rows.slice(0, 100).map((r) => r.summary.id),
      aggregates,
    };
  });
  groups.sort((a, b) =>
    a.value === null || b.value === null
      ? (a.value === b.value ? 0 : a.value === null ? 1 : -1)
      : cellOrder(a.value, b.value)
  );
  return {
    ...base,
    rows: [],
    groups: groups.slice(offset, offset + limit),
    groupCount: groups.length,
  };
}
