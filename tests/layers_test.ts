import assert from "node:assert/strict";
import { walk } from "../tools/_walk.ts";

const LAYERS = ["core", "callbacks", "experiments", "dashboard", "sweep", "cli", "track"] as const;
/** What each layer may import (besides itself and npm/node packages). */
const ALLOWED: Record<string, string[]> = {
  core: [],
  callbacks: ["core"],
  experiments: ["core", "callbacks"],
  dashboard: ["core", "callbacks", "sweep"],
  sweep: ["core", "callbacks", "experiments"],
  cli: ["core", "callbacks", "experiments", "dashboard", "sweep"],
  // The tracking client: core's run files and the callback contract only (Deno and Node).
  track: ["core"],
};

function layerOf(path: string): string | undefined {
  return LAYERS.find((l) => path === l || path.startsWith(`${l}/`));
}

/** Relative import targets of a module, resolved against its folder (posix paths). */
function imports(file: string, src: string): string[] {
  const out: string[] = [];
  for (const m of src.matchAll(/(?:from|import)\s*\(?\s*"(\.{1,2}\/[^"]+)"/g)) {
    const parts = file.split("/").slice(0, -1);
    for (const seg of m[1].split("/")) {
      if (seg === "..") parts.pop();
      else if (seg !== ".") parts.push(seg);
    }
    out.push(parts.join("/"));
  }
  return out;
}

Deno.test("layers import only downward: core imports no cli/, dashboard/, experiments/ or callbacks/", async () => {
  const violations: string[] = [];
  for (const layer of LAYERS) {
    for await (const file of walk(layer, /\.tsx?$/)) {
      const src = await Deno.readTextFile(file);
      for (const target of imports(file, src)) {
        const to = layerOf(target);
        if (to && to !== layer && !ALLOWED[layer].includes(to)) {
          violations.push(`${file} imports ${target}`);
        }
      }
    }
  }
  assert.deepEqual(violations, []);
});

Deno.test("only core/run/ names run files (comments aside)", async () => {
  const names =
    /run\.json|metrics\.jsonl|events\.jsonl|model\.txt|evaluation\.json|viz\/index\.json|training\.csv/;
  const found: string[] = [];
  for (const root of [...LAYERS, "mod.ts"]) {
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
