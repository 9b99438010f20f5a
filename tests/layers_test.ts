import assert from "node:assert/strict";
import { walk } from "../tools/_walk.ts";

/**
 * The layer table, read from docs/architecture.md (its "Layers" table is the one place the
 * order is written): each layer (a folder) and the layers it may import.
 */
async function layerTable(): Promise<Map<string, string[]>> {
  const doc = await Deno.readTextFile(new URL("../docs/architecture.md", import.meta.url));
  const start = doc.indexOf("<!-- layers -->"), end = doc.indexOf("<!-- /layers -->");
  assert.ok(start >= 0 && end > start, "docs/architecture.md lacks the <!-- layers --> table");
  const table = new Map<string, string[]>();
  for (const line of doc.slice(start, end).split("\n")) {
    const m = /^\|\s*`([\w/]+)\/`\s*\|\s*(.*?)\s*\|/.exec(line);
    if (!m) continue;
    const allowed = [...m[2].matchAll(/`([\w/]+)\/`/g)].map((x) => x[1]);
    table.set(m[1], allowed);
  }
  assert.ok(table.size >= 6, `the layers table has ${table.size} rows`);
  return table;
}

/**
 * Relative import targets of a module (import/export statements and dynamic imports; JSDoc
 * examples and comments ignored), resolved against its folder (posix paths).
 */
function imports(file: string, src: string): string[] {
  const out: string[] = [];
  const statement =
    /^\s*(?:(?:import|export)\b[^"'`]*?from\s*|\}\s*from\s*|import\s*|.*?\bimport\(\s*)"(\.{1,2}\/[^"]+)"/;
  for (const line of src.split("\n")) {
    const t = line.trimStart();
    if (t.startsWith("*") || t.startsWith("//") || t.startsWith("/*")) continue;
    const m = statement.exec(line);
    if (!m) continue;
    const parts = file.split("/").slice(0, -1);
    for (const seg of m[1].split("/")) {
      if (seg === "..") parts.pop();
      else if (seg !== ".") parts.push(seg);
    }
    out.push(parts.join("/"));
  }
  return out;
}

/** Every module of the layers with its relative imports. */
async function moduleGraph(roots: string[]): Promise<Map<string, string[]>> {
  const graph = new Map<string, string[]>();
  for (const root of roots) {
    const files = root.endsWith(".ts") ? [root] : await Array.fromAsync(walk(root, /\.tsx?$/));
    for (const file of files) graph.set(file, imports(file, await Deno.readTextFile(file)));
  }
  return graph;
}

/** The most specific layer of `path` in `table` (`core/fs` before `core`). */
function layerOf(path: string, table: Map<string, string[]>): string | undefined {
  return [...table.keys()].filter((l) => path === l || path.startsWith(`${l}/`))
    .sort((a, b) => b.length - a.length)[0];
}

Deno.test("layers import only what docs/architecture.md's table allows", async () => {
  const table = await layerTable();
  const tops = [...new Set([...table.keys()].map((l) => l.split("/")[0]))];
  const graph = await moduleGraph(tops);
  const violations: string[] = [];
  for (const [file, targets] of graph) {
    const from = layerOf(file, table)!;
    for (const target of targets) {
      const to = layerOf(target, table);
      if (!to || to === from) continue;
      // A layer may use its own sub-layers (core -> core/fs) and the sub-layers of what it
      // may import; a sub-layer may import only what its row says.
      const allowed = table.get(from)!;
      const ok = to.startsWith(`${from}/`) || allowed.includes(to) ||
        allowed.includes(to.split("/")[0]);
      if (!ok) violations.push(`${file} (${from}) imports ${target} (${to})`);
    }
  }
  assert.deepEqual(violations, []);
});

Deno.test("no import cycles anywhere in the package", async () => {
  const table = await layerTable();
  const tops = [...new Set([...table.keys()].map((l) => l.split("/")[0]))];
  const graph = await moduleGraph([...tops, "mod.ts"]);
  // Iterative DFS with colours; a grey target closes a cycle.
  const colour = new Map<string, 1 | 2>();
  const cycles: string[] = [];
  for (const start of graph.keys()) {
    if (colour.has(start)) continue;
    const stack: { file: string; next: number }[] = [{ file: start, next: 0 }];
    colour.set(start, 1);
    while (stack.length) {
      const top = stack[stack.length - 1];
      const targets = (graph.get(top.file) ?? []).filter((t) => graph.has(t));
      if (top.next >= targets.length) {
        colour.set(top.file, 2);
        stack.pop();
        continue;
      }
      const t = targets[top.next++];
      if (colour.get(t) === 1) {
        const path = stack.map((s) => s.file);
        cycles.push([...path.slice(path.indexOf(t)), t].join(" -> "));
      } else if (!colour.has(t)) {
        colour.set(t, 1);
        stack.push({ file: t, next: 0 });
      }
    }
  }
  assert.deepEqual(cycles, []);
});

Deno.test("only core/run/ names run files (comments aside)", async () => {
  const names =
    /run\.json|metrics\.jsonl|events\.jsonl|model\.txt|evaluation\.json|viz\/index\.json|training\.csv/;
  const found: string[] = [];
  const table = await layerTable();
  const tops = [...new Set([...table.keys()].map((l) => l.split("/")[0]))];
  for (const root of [...tops, "mod.ts"]) {
    const files = root.endsWith(".ts") ? [root] : await Array.fromAsync(walk(root, /\.tsx?$/));
    for (const file of files) {
      if (file.startsWith("core/run/")) continue;
      const lines = (await Deno.readTextFile(file)).split("\n");
      lines.forEach((line, i) => {
        const code = line.trim();
        if (code.startsWith("*") || code.startsWith("//") || code.startsWith("/*")) return;
        if (names.test(code)) found.push(`${file}:${i + 1}: ${code}`);
      });
    }
  }
  assert.deepEqual(found, []);
});
