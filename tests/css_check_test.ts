import assert from "node:assert/strict";
import { checkStylesheet } from "../tools/css_check.ts";

const STYLE = new URL("../dashboard/ui/style.css", import.meta.url);

Deno.test("css check: the dashboard's stylesheet is sound", async () => {
  assert.deepEqual(checkStylesheet(await Deno.readTextFile(STYLE)), []);
});

Deno.test("css check: the shipped bug (an unclosed `table.topk .num {`) is refused", async () => {
  const css = await Deno.readTextFile(STYLE);
  const bad = css.replace(
    "table.topk .num {\n  text-align: right;\n}\n",
    "table.topk .num {\n  text-align: right;\n",
  );
  assert.notEqual(bad, css);
  const problems = checkStylesheet(bad);
  assert.ok(problems.some((p) => /never closed/.test(p.message)), JSON.stringify(problems));
});

Deno.test("css check: unbalanced, stray and invalid stylesheets are refused", () => {
  assert.deepEqual(checkStylesheet("a { color: red; }\n/* { */ b::after { content: '}'; }"), []);
  assert.ok(checkStylesheet("a { color: red;").length > 0);
  assert.ok(
    checkStylesheet("a { color: red; } }").some((p) => /without a matching/.test(p.message)),
  );
  assert.ok(checkStylesheet("a { color: rde; }").some((p) => /^color:/.test(p.message)));
  assert.ok(checkStylesheet("a { .b { color: red; } }").length > 0);
  assert.ok(checkStylesheet("a { & .b { color: red; } }").some((p) => /nested/.test(p.message)));
});
