/**
 * Text from run files made safe to print on a terminal: control characters (C0 but the line
 * break, DEL, C1, which carry ESC/CSI/OSC sequences that can retitle a terminal, move the
 * cursor or hide text) and bidirectional overrides are shown as visible `\xNN`/`\uNNNN`
 * escapes instead. Every command that prints what a run folder holds goes through it.
 *
 * @example
 * ```ts
 * import { terminalSafe } from "./terminal.ts";
 * terminalSafe("evil\x1b]0;pwned\x07 name"); // "evil\\x1b]0;pwned\\x07 name"
 * ```
 *
 * @module
 */

// deno-lint-ignore no-control-regex
const UNSAFE = /[\x00-\x09\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/g;
// deno-lint-ignore no-control-regex
const UNSAFE_ONE_LINE = /[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/g;

function visible(c: string): string {
  const code = c.charCodeAt(0);
  return code <= 0xff
    ? `\\x${code.toString(16).padStart(2, "0")}`
    : `\\u${code.toString(16).padStart(4, "0")}`;
}

/**
 * `text` with every control character but the line break (and every bidi override) written
 * as a visible escape; `oneLine` escapes line breaks too.
 *
 * @example
 * ```ts
 * import { terminalSafe } from "./terminal.ts";
 * terminalSafe("a\nb\x9b31m"); // "a\nb\\x9b31m"
 * terminalSafe("a\nb", { oneLine: true }); // "a\\x0ab"
 * ```
 */
export function terminalSafe(text: string, opts: { oneLine?: boolean } = {}): string {
  return text.replace(opts.oneLine ? UNSAFE_ONE_LINE : UNSAFE, visible);
}

/**
 * JSON text made terminal-safe: `JSON.stringify` already escapes C0 characters; this escapes
 * what it leaves (DEL, C1, bidi overrides) as `\u` escapes, so the JSON stays valid and
 * parses to the same value.
 *
 * @example
 * ```ts
 * import { terminalSafeJson } from "./terminal.ts";
 * terminalSafeJson(JSON.stringify({ name: "a\x9b2J" })); // '{"name":"a\\u009b2J"}'
 * ```
 */
export function terminalSafeJson(json: string): string {
  return json.replace(
    /[\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/g,
    (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`,
  );
}
