/**
 * The one CSV writer: cells quoted like Python's csv module (QUOTE_MINIMAL) and text that a
 * spreadsheet would run as a formula (starting with `=`, `+`, `-`, `@`, a tab or a carriage
 * return) defused with a leading `'`. Used by the `CSVLogger` callback, the dashboard's
 * metrics download and `deno task runs export`.
 *
 * @example
 * ```ts
 * import { csvRow } from "./csv.ts";
 * csvRow(["=HYPERLINK(\"x\")", 0.5, -1, undefined]); // "'=HYPERLINK(\"x\")",0.5,-1,
 * ```
 *
 * @module
 */

/** A value a CSV cell can hold; arrays are joined with `;`. */
export type CsvValue = string | number | boolean | null | undefined | readonly unknown[];

/**
 * One cell: numbers as numbers (non-finite ones as Python writes them: `nan`, `inf`, `-inf`),
 * `null`/`undefined` empty, text defused and quoted when it holds `sep`, a quote or a line
 * break.
 *
 * @example
 * ```ts
 * import { csvCell } from "./csv.ts";
 * csvCell("@SUM(A1)"); // "'@SUM(A1)"
 * csvCell('a,"b"'); // "\"a,\"\"b\"\"\""
 * ```
 */
export function csvCell(value: CsvValue | unknown, sep = ","): string {
  if (value === undefined || value === null) return "";
  if (typeof value === "number") {
    if (Number.isNaN(value)) return "nan";
    if (!Number.isFinite(value)) return value > 0 ? "inf" : "-inf";
    return String(value);
  }
  let s = Array.isArray(value) ? value.join(";") : String(value);
  if (/^[=+\-@\t\r]/.test(s)) s = "'" + s;
  return s.includes(sep) || /["\r\n]/.test(s) ? `"${s.replaceAll('"', '""')}"` : s;
}

/**
 * One line of cells joined by `sep` (no line break).
 *
 * @example
 * ```ts
 * import { csvRow } from "./csv.ts";
 * csvRow(["epoch", "loss"], ";"); // "epoch;loss"
 * ```
 */
export function csvRow(values: readonly unknown[], sep = ","): string {
  return values.map((v) => csvCell(v, sep)).join(sep);
}

/**
 * Splits one line written by {@linkcode csvRow} back into its fields (quotes undone; a
 * defusing `'` is kept).
 *
 * @example
 * ```ts
 * import { parseCsvRow } from "./csv.ts";
 * parseCsvRow('epoch,"a,b"'); // ["epoch", "a,b"]
 * ```
 */
export function parseCsvRow(line: string, sep = ","): string[] {
  const out: string[] = [];
  let cur = "";
  let quoted = false;
  for (let i = 0; i < line.length; i++) {
    const c = line[i];
    if (quoted) {
      if (c === '"' && line[i + 1] === '"') (cur += '"', i++);
      else if (c === '"') quoted = false;
      else cur += c;
    } else if (c === '"') quoted = true;
    else if (line.startsWith(sep, i)) (out.push(cur), cur = "", i += sep.length - 1);
    else cur += c;
  }
  out.push(cur);
  return out;
}
