/**
 * The runs query language, shared by `deno task runs list` and the dashboard's runs table,
 * and the table operations around it (columns, sort, group with count/mean/min/max, paging,
 * archived runs hidden unless asked).
 *
 * A query compares columns with values and combines the comparisons:
 *
 * ```
 * lr < 0.01 and val_acc > 0.9 and tag = baseline and status != crashed
 * (optimizer = sgd or optimizer in (rmsprop, adam)) and not archived
 * name ~ "res*net" and start > "2026-12-01" and duration < 600 and note is null
 * ```
 *
 * - Operators: `<` `<=` `>` `>=` `=` (also `==`) `!=`, `in (a, b)`, `not in (...)`,
 *   `is null`, `is not null`, and `~`: contains (case-insensitive), a glob when the value has
 *   `*` or `?` (`"res*net"`), a regular expression when written `/.../` (at most 200
 *   characters, no nested quantifiers, matched against the first 1,000 characters of a
 *   cell). `and`, `or`, `not` (also `&&`, `||`, `!`), parentheses; `not` binds looser than a
 *   comparison (`not val_acc > 0.3`). A column alone tests truthiness.
 * - Values: numbers (`1e-3`), quoted strings, `true`/`false`, or a bare word (`baseline`,
 *   `sweep-1`, `v1.2`). On the right of `=`, `!=`, `~` and `in` a bare word is always a value
 *   (`tag = dropout` looks for the tag, even though `dropout` is also a column); to compare
 *   with another column write it in backquotes (`` val_acc > `last.val_acc` ``). After `<`,
 *   `<=`, `>`, `>=` a bare word that names a column is that column.
 * - Columns: any column of the table (`id name experiment status tags note archived
 *   finished_epochs duration start backend`, each hyperparameter by name, `best.<metric>`,
 *   `last.<metric>`, `test_acc`). A bare metric name (`val_acc`) means its best value;
 *   `params.X` and `metrics.X` also work; `lr`, `batch_size`, `image_size` and `tag` are
 *   aliases (everywhere: queries, sort, group, `--columns`, `--agg`). `tags = x` holds when x
 *   is one of the tags. `start` compares with a date string. Statuses compare
 *   case-insensitively and must be known ones.
 * - A run without the column fails every comparison but `!=` and `is null`.
 *
 * The parser is a small hand-written one: no state shared with any other module, chains of
 * any length (no recursion per `and`/`or`), errors that name the token, its position and the
 * fix.
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
import type { Cell, RunSummaryRecord } from "./summary.ts";
import { RUN_COLUMNS, runCells, STANDARD_HYPERPARAMETERS } from "./summary.ts";
import { DERIVED_STATUSES } from "./state.ts";
import { metricDirection } from "../metric_direction.ts";

/**
 * A query that does not parse or names an unknown column; the message (one line) names the
 * token, its position and the fix.
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
  /** The problem without the position. */
  readonly reason: string;
  /** Creates the error for `query` at `index`. */
  constructor(query: string, index: number, reason: string) {
    const at = Math.max(0, Math.min(index, query.length));
    const near = query.slice(at, at + 24);
    super(`${reason} (at character ${at + 1}: ${near ? JSON.stringify(near) : "the end"})`);
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

/** A compiled query. */
export interface CompiledQuery {
  /** The query text. */
  readonly text: string;
  /** The columns it reads. */
  readonly columns: readonly string[];
  /** Whether a run's cells match. */
  test(cells: Readonly<Record<string, Cell>>): boolean;
}

type TokenKind = "num" | "str" | "word" | "ident" | "op" | "(" | ")" | "," | "end";
interface Token {
  kind: TokenKind;
  text: string;
  value?: string | number;
  at: number;
}

const KEYWORDS = new Set(["and", "or", "not", "in", "is", "null", "true", "false"]);
const WORD = /[\w.\-:@/+]/;
const NUMBER = /^[+-]?(\d+\.?\d*|\.\d+)(e[+-]?\d+)?$/i;
const COMPARISONS = ["<=", ">=", "!=", "==", "=", "<", ">", "~"];

function tokenize(q: string): Token[] {
  const out: Token[] = [];
  let i = 0;
  while (i < q.length) {
    const c = q[i];
    if (/\s/.test(c)) {
      i++;
      continue;
    }
    const at = i;
    if (c === '"' || c === "'" || c === "`") {
      let s = "";
      i++;
      while (i < q.length && q[i] !== c) {
        if (q[i] === "\\" && i + 1 < q.length) i++;
        s += q[i++];
      }
      if (i >= q.length) {
        throw new QueryError(
          q,
          at,
          `unclosed ${c}: end the ${c === "`" ? "column" : "text"} with ${c}`,
        );
      }
      i++;
      out.push({ kind: c === "`" ? "ident" : "str", text: q.slice(at, i), value: s, at });
      continue;
    }
    if (c === "/" && out.at(-1)?.value === "~") {
      // An unquoted /regex/flags after ~: up to the next unescaped slash.
      i++;
      while (i < q.length && q[i] !== "/") i += q[i] === "\\" ? 2 : 1;
      if (i >= q.length) throw new QueryError(q, at, "unclosed /regex/: end it with /");
      i++;
      while (i < q.length && /[a-z]/i.test(q[i])) i++;
      out.push({ kind: "str", text: q.slice(at, i), value: q.slice(at, i), at });
      continue;
    }
    if (c === "(" || c === ")" || c === ",") {
      out.push({ kind: c, text: c, at });
      i++;
      continue;
    }
    const two = q.slice(i, i + 2);
    if (two === "&&" || two === "||") {
      out.push({ kind: "word", text: two, value: two === "&&" ? "and" : "or", at });
      i += 2;
      continue;
    }
    const op = COMPARISONS.find((o) => q.startsWith(o, i));
    if (op) {
      out.push({ kind: "op", text: op, value: op === "==" ? "=" : op, at });
      i += op.length;
      continue;
    }
    if (c === "!") {
      out.push({ kind: "word", text: "!", value: "not", at });
      i++;
      continue;
    }
    if (WORD.test(c)) {
      while (i < q.length && WORD.test(q[i])) i++;
      const text = q.slice(at, i);
      if (NUMBER.test(text)) out.push({ kind: "num", text, value: Number(text), at });
      else out.push({ kind: "word", text, value: text, at });
      continue;
    }
    throw new QueryError(q, at, `unexpected "${c}" (quote values that hold it)`);
  }
  out.push({ kind: "end", text: "", at: q.length });
  return out;
}

type Test = (c: Readonly<Record<string, Cell>>) => boolean;

/** Longest pattern `~` takes, and how much of a cell it looks at. */
const MAX_PATTERN = 200;
const MAX_SUBJECT = 1000;

/** The matcher of `~ pattern`: a `/regex/flags`, a glob (`*`, `?`), or a substring. */
function matcher(q: string, at: number, pattern: string): (s: string) => boolean {
  if (pattern.length > MAX_PATTERN) {
    throw new QueryError(q, at, `the pattern is longer than ${MAX_PATTERN} characters`);
  }
  const re = /^\/(.*)\/([imsu]*)$/s.exec(pattern);
  if (re) {
    if (/\((?:[^()\\]|\\.)*[+*}](?:[^()\\]|\\.)*\)\s*[+*{?]/.test(re[1])) {
      throw new QueryError(
        q,
        at,
        "nested quantifiers like (a+)+ are refused in ~ /regex/ (they can take for ever)",
      );
    }
    let rx: RegExp;
    try {
      rx = new RegExp(re[1], re[2].includes("i") ? re[2] : re[2] + "i");
    } catch (err) {
      throw new QueryError(q, at, `bad regular expression: ${(err as Error).message}`);
    }
    return (s) => rx.test(s.slice(0, MAX_SUBJECT));
  }
  if (/[*?]/.test(pattern)) {
    const body = pattern.replace(/[.+^${}()|[\]\\]/g, "\\$&").replace(/\*+/g, ".*")
      .replace(/\?/g, ".");
    const rx = new RegExp(`^${body}$`, "is");
    return (s) => rx.test(s.slice(0, MAX_SUBJECT));
  }
  const needle = pattern.toLowerCase();
  return (s) => s.toLowerCase().includes(needle);
}

function compare(op: string, a: Cell, b: Cell): boolean {
  if (op === "!=") return !compare("=", a, b);
  if (a === null || a === undefined) return false;
  if (Array.isArray(a)) return op === "=" ? a.some((t) => compare("=", t, b)) : false;
  if (op === "=") {
    if (typeof a === "number" && typeof b === "string" && b.trim() !== "") return a === Number(b);
    if (typeof a === "boolean" && typeof b === "string") return String(a) === b;
    if (typeof a === "string" && typeof b === "number") return a === String(b);
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

const STATUS_COLUMNS = new Set(["status", "state"]);
const STATUSES: readonly string[] = [...DERIVED_STATUSES, "invalid"];
/** How deep parentheses may nest. */
const MAX_DEPTH = 64;

/**
 * Parses `text` against the `known` columns (null: accept any). Throws {@linkcode QueryError}
 * naming the token and the fix when it does not parse, uses an operator it does not know,
 * names an unknown column (the message lists some that exist) or an unknown status.
 *
 * @example
 * ```ts
 * import { compileQuery } from "./query.ts";
 * const q = compileQuery("not val_acc < 0.9 and tag in (a, b)", null);
 * q.test({ "best.val_acc": 0.95, tags: ["b"] }); // true
 * ```
 */
export function compileQuery(text: string, known: ReadonlySet<string> | null): CompiledQuery {
  const tokens = tokenize(text);
  let pos = 0;
  const columns = new Set<string>();
  const peek = () => tokens[pos];
  const keyword = (t: Token, ...words: string[]) =>
    t.kind === "word" && words.includes(String(t.value).toLowerCase());
  const fail = (t: Token, reason: string): never => {
    throw new QueryError(text, t.at, reason);
  };
  const column = (t: Token): string => {
    const name = String(t.value);
    const key = resolveColumn(name, known);
    if (key === undefined) {
      const some = known ? [...known].slice(0, 40).join(", ") : "";
      fail(
        t,
        `unknown column "${name}"${
          some ? `; columns: ${some}${known!.size > 40 ? ", ..." : ""}` : ""
        }` +
          (t.kind === "word" ? ` (a value needs a column before it, e.g. tag = ${name})` : ""),
      );
    }
    columns.add(key!);
    return key!;
  };
  const isColumnWord = (t: Token) =>
    (t.kind === "word" && !KEYWORDS.has(String(t.value).toLowerCase())) || t.kind === "ident";
  const literal = (t: Token): Cell => {
    if (t.kind === "num") return t.value as number;
    if (t.kind === "str") return t.value as string;
    if (t.kind === "word") {
      const w = String(t.value).toLowerCase();
      if (w === "true" || w === "false") return w === "true";
      if (KEYWORDS.has(w)) fail(t, `expected a value, got "${t.text}" (quote it: "${t.text}")`);
      return t.value as string;
    }
    return fail(t, `expected a value${t.kind === "end" ? " at the end" : `, got "${t.text}"`}`);
  };
  /** A value checked for the column (statuses, dates). */
  const valueFor = (key: string, t: Token, v: Cell): Cell => {
    if (STATUS_COLUMNS.has(key) && typeof v === "string") {
      const s = v.toLowerCase();
      if (!STATUSES.includes(s)) fail(t, `unknown status "${v}" (${STATUSES.join(", ")})`);
      return s;
    }
    if (key === "start" && typeof v === "string") {
      const ms = Date.parse(v);
      if (!Number.isFinite(ms)) fail(t, `"${v}" is not a date (use e.g. "2026-12-01")`);
      return ms;
    }
    return v;
  };

  const comparison = (depth: number): Test => {
    const t = peek();
    if (t.kind === "(") {
      pos++;
      const inner = expression(depth + 1);
      if (peek().kind !== ")") fail(peek(), `expected ")" to close the "(" at ${t.at + 1}`);
      pos++;
      return inner;
    }
    // A literal on the left: `0.01 > lr` reads as `lr < 0.01`.
    if (t.kind === "num" || t.kind === "str" || keyword(t, "true", "false")) {
      const op = tokens[pos + 1];
      if (op.kind !== "op") fail(op, `a value alone is not a condition: compare a column with it`);
      const right = tokens[pos + 2];
      if (!isColumnWord(right)) fail(right, `a comparison needs a column on one side`);
      pos += 3;
      const flip: Record<string, string> = { "<": ">", "<=": ">=", ">": "<", ">=": "<=" };
      if (op.value === "~") fail(op, `~ needs the column on its left: column ~ pattern`);
      return compareTest(column(right), String(flip[String(op.value)] ?? op.value), op, t);
    }
    if (!isColumnWord(t)) {
      fail(
        t,
        t.kind === "end"
          ? "the query ends too early: add a condition"
          : `expected a column, got "${t.text}"`,
      );
    }
    pos++;
    const key = column(t);
    const next = peek();
    if (next.kind === "op") {
      const r = tokens[pos + 1];
      pos += 2;
      return compareTest(key, String(next.value), next, r);
    }
    if (keyword(next, "in") || (keyword(next, "not") && keyword(tokens[pos + 1], "in"))) {
      const negate = keyword(next, "not");
      pos += negate ? 2 : 1;
      if (peek().kind !== "(") fail(peek(), `expected "(" after in: in (a, b)`);
      pos++;
      const values: Cell[] = [];
      for (;;) {
        const v = peek();
        pos++;
        values.push(valueFor(key, v, literal(v)));
        if (peek().kind === ",") {
          pos++;
          continue;
        }
        if (peek().kind !== ")") fail(peek(), `expected "," or ")" in the in (...) list`);
        pos++;
        break;
      }
      const test: Test = (c) => values.some((v) => compare("=", c[key] ?? null, v));
      return negate ? (c) => !test(c) : test;
    }
    if (keyword(next, "is")) {
      pos++;
      const negate = keyword(peek(), "not");
      if (negate) pos++;
      if (!keyword(peek(), "null")) fail(peek(), `expected null after is: is null, is not null`);
      pos++;
      const isNull: Test = (c) => {
        const v = c[key];
        return v === null || v === undefined || (Array.isArray(v) && v.length === 0);
      };
      return negate ? (c) => !isNull(c) : isNull;
    }
    return (c) => {
      const v = c[key];
      return Array.isArray(v) ? v.length > 0 : Boolean(v);
    };
  };

  /** `key op r`, where `r` is the right-hand token (already consumed). */
  const compareTest = (key: string, op: string, at: Token, r: Token): Test => {
    const ordering = op === "<" || op === "<=" || op === ">" || op === ">=";
    if (
      r.kind === "ident" ||
      (ordering && r.kind === "word" && resolveColumn(String(r.value), known) !== undefined &&
        !KEYWORDS.has(String(r.value).toLowerCase()))
    ) {
      const k2 = column(r);
      if (op === "~") fail(at, `~ compares a column with a pattern, not with another column`);
      return (c) => compare(op, c[key] ?? null, c[k2] ?? null);
    }
    const value = valueFor(key, r, literal(r));
    if (op === "~") {
      const match = matcher(text, r.at, String(value));
      return (c) => {
        const v = c[key];
        if (v === null || v === undefined) return false;
        return Array.isArray(v) ? v.some((x) => match(String(x))) : match(String(v));
      };
    }
    if (STATUS_COLUMNS.has(key)) {
      return (c) =>
        compare(
          op,
          typeof c[key] === "string" ? (c[key] as string).toLowerCase() : c[key] ?? null,
          value,
        );
    }
    return (c) => compare(op, c[key] ?? null, value);
  };

  const negation = (depth: number): Test => {
    let nots = 0;
    while (keyword(peek(), "not")) {
      pos++;
      nots++;
    }
    const inner = comparison(depth);
    return nots % 2 ? (c) => !inner(c) : inner;
  };

  const conjunction = (depth: number): Test => {
    const all = [negation(depth)];
    while (keyword(peek(), "and")) {
      pos++;
      all.push(negation(depth));
    }
    return all.length === 1 ? all[0] : (c) => all.every((t) => t(c));
  };

  function expression(depth: number): Test {
    if (depth > MAX_DEPTH) fail(peek(), `parentheses nest deeper than ${MAX_DEPTH}`);
    const any = [conjunction(depth)];
    while (keyword(peek(), "or")) {
      pos++;
      any.push(conjunction(depth));
    }
    return any.length === 1 ? any[0] : (c) => any.some((t) => t(c));
  }

  const test = expression(0);
  const rest = peek();
  if (rest.kind !== "end") {
    fail(
      rest,
      rest.kind === ")"
        ? `unmatched ")"`
        : `expected "and" or "or" between conditions, got "${rest.text}"`,
    );
  }
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

/**
 * Whether sorting by `key` best first is descending: metrics (`best.X`, `last.X`, `test_acc`)
 * by their direction (`core/metric_direction.ts`: accuracy high first, loss low first).
 */
function bestFirstIsDescending(key: string): boolean {
  const metric = key.replace(/^(best|last)\./, "");
  return metricDirection(metric) === "max";
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
  /**
   * Descending (default: newest first for `start`, best first for a metric by its direction,
   * ascending otherwise).
   */
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
  const desc = query.desc ?? (query.sort === undefined || bestFirstIsDescending(sortKey));
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
