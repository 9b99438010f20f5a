/**
 * `deno task check`'s stylesheet check: every `.css` file of the package (or the files given)
 * is parsed with css-tree and refused on a parse error, an unbalanced `{`/`}` (counted on the
 * tokens, so braces in strings and comments do not count), a rule nested in a rule (this
 * package writes flat CSS: a nested rule is a missing `}`), or a declaration whose value does
 * not match its property's grammar. A browser drops every rule after a missing `}` without a
 * word; this check names the file and line instead.
 *
 * @example
 * ```ts
 * import { checkStylesheet } from "./css_check.ts";
 * console.log(checkStylesheet("a { color: red; }")); // []
 * console.log(checkStylesheet("a { color: red;").length > 0); // true
 * ```
 *
 * @module
 */
import * as csstree from "css-tree";
import { walk } from "./_walk.ts";

/** One finding of {@linkcode checkStylesheet}: 1-based line and a message. */
export interface CssProblem {
  /** 1-based line of the problem. */
  line: number;
  /** What is wrong. */
  message: string;
}

function lineOf(css: string, offset: number): number {
  let n = 1;
  for (let i = 0; i < offset && i < css.length; i++) if (css.charCodeAt(i) === 10) n++;
  return n;
}

/** The problems of one stylesheet's text (empty when it is sound). */
export function checkStylesheet(css: string): CssProblem[] {
  const problems: CssProblem[] = [];
  // Braces, on the tokens: an unclosed block is the bug a browser forgives silently.
  const open: number[] = [];
  csstree.tokenize(css, (type: number, start: number) => {
    if (type === csstree.tokenTypes.LeftCurlyBracket) open.push(start);
    else if (type === csstree.tokenTypes.RightCurlyBracket) {
      if (open.pop() === undefined) {
        problems.push({ line: lineOf(css, start), message: "'}' without a matching '{'" });
      }
    }
  });
  for (const start of open) {
    problems.push({ line: lineOf(css, start), message: "'{' is never closed" });
  }
  const ast = csstree.parse(css, {
    positions: true,
    onParseError: (err: { line?: number; message: string }) => {
      problems.push({ line: err.line ?? 0, message: err.message });
    },
  });
  csstree.walk(ast, {
    enter(node: csstree.CssNode, item: unknown, list: unknown) {
      void item, list;
      if (node.type === "Rule" && this.rule && this.rule !== node) {
        problems.push({
          line: node.loc?.start.line ?? 0,
          message: "a rule nested in a rule (a missing '}' before it?)",
        });
      }
      if (node.type === "Declaration" && !node.property.startsWith("--")) {
        const match = csstree.lexer.matchDeclaration(node);
        if (match.error) {
          problems.push({
            line: node.loc?.start.line ?? 0,
            message: `${node.property}: ${match.error.message.split("\n")[0]}`,
          });
        }
      }
    },
  });
  return problems.sort((a, b) => a.line - b.line);
}

if (import.meta.main) {
  const files = Deno.args.length ? Deno.args : await Array.fromAsync(walk(".", /\.css$/));
  let bad = 0;
  for (const file of files) {
    for (const p of checkStylesheet(await Deno.readTextFile(file))) {
      console.error(`${file}:${p.line}: ${p.message}`);
      bad++;
    }
  }
  if (bad > 0) {
    console.error(`css: ${bad} problem(s) in ${files.length} stylesheet(s)`);
    Deno.exit(1);
  }
  console.log(`css: ${files.length} stylesheet(s) parse cleanly`);
}
