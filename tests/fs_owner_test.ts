/**
 * Issue 21 ("only `core/fs/` opens run, sweep, index, lock or cache files"): no module that
 * handles run folders, the runs folder, sweep folders or the image cache opens, reads, writes
 * or renames a file itself; they all go through `core/fs/confine.ts` (the confinement policy)
 * and `core/fs/atomic.ts` (the atomic write). The few exceptions are listed with their reason.
 */
import assert from "node:assert/strict";
import { join, relative } from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = fileURLToPath(new URL("..", import.meta.url));

/** Where run, runs-folder, sweep and cache files are handled. */
const SCANNED = [
  "core/run",
  "sweep",
  "dashboard",
  "core/data/image_cache.ts",
  "core/train/resume.ts",
  "core/infer/predict.ts",
  "callbacks/model_checkpoint.ts",
  "callbacks/visualize.ts",
  "callbacks/csv_logger.ts",
  // The tracking client (Deno and Node): its run files go through core/run's recorder and
  // line log, which go through core/fs like the trainer's writer.
  "track",
];

/** File operations that must go through `core/fs/`. */
const FILE_OPS =
  /\bDeno\.(readFile|readTextFile|open|writeFile|writeTextFile|rename|link|symlink|truncate|create|copyFile)(Sync)?\b|["']node:fs(\/promises)?["']/g;

/** The exceptions: file -> the operations it may use, and why. */
const ALLOWED: Record<string, { ops: string[]; why: string }> = {
  "core/run/process_alive.ts": {
    ops: ['"node:fs"'],
    why: "reads /proc/<pid>/stat to tell whether a lock's owner lives (no run file)",
  },
  "sweep/plan.ts": {
    ops: ["Deno.readTextFile"],
    why: "reads the sweep spec file the user names on the command line (not a sweep folder)",
  },
  "core/data/image_cache.ts": {
    ops: ['"node:fs/promises"'],
    why: "positional reads and writes of the pixel file, whose name comes from an index read " +
      "through core/fs and which is checked with confine() before it is used",
  },
  "callbacks/csv_logger.ts": {
    ops: ["Deno.readTextFile", "Deno.writeTextFile"],
    why: "a CSV path the user chose outside the run folder (inside it, the run logger writes)",
  },
  "dashboard/build_ui.ts": {
    ops: ["Deno.readTextFile", "Deno.writeTextFile", "Deno.readFile"],
    why: "the UI build tool reads the project's own sources and writes the bundle",
  },
};

async function* tsFiles(path: string): AsyncGenerator<string> {
  const st = await Deno.stat(path);
  if (st.isFile) {
    if (path.endsWith(".ts") || path.endsWith(".tsx")) yield path;
    return;
  }
  for await (const e of Deno.readDir(path)) {
    if (e.name === "dist" || e.name === "node_modules") continue;
    yield* tsFiles(join(path, e.name));
  }
}

/** The code of a file without comments (JSDoc examples may call anything). */
function code(text: string): string {
  return text.replace(/\/\*[\s\S]*?\*\//g, "").replace(/(^|[^:"'`])\/\/.*$/gm, "$1");
}

Deno.test("only core/fs/ opens, reads, writes or renames run, runs-folder, sweep and cache files", async () => {
  const offenders: string[] = [];
  const used = new Map<string, Set<string>>();
  for (const target of SCANNED) {
    for await (const file of tsFiles(join(ROOT, target))) {
      const rel = relative(ROOT, file);
      const text = code(await Deno.readTextFile(file));
      for (const m of text.matchAll(FILE_OPS)) {
        const op = m[0].replace(/'/g, '"');
        if (ALLOWED[rel]?.ops.includes(op)) {
          used.set(rel, (used.get(rel) ?? new Set()).add(op));
          continue;
        }
        const line = text.slice(0, m.index).split("\n").length;
        offenders.push(`${rel}:${line}: ${op}`);
      }
    }
  }
  assert.deepEqual(
    offenders,
    [],
    "use core/fs/confine.ts (reads) or core/fs/atomic.ts (writes, renames) instead",
  );
  // No stale exception: each allowed operation is still in use.
  for (const [rel, { ops }] of Object.entries(ALLOWED)) {
    for (const op of ops) assert.ok(used.get(rel)?.has(op), `${rel}: ${op} no longer used`);
  }
});

Deno.test("core/fs/ is a leaf: it imports nothing from the rest of the project", async () => {
  for await (const file of tsFiles(join(ROOT, "core/fs"))) {
    const text = await Deno.readTextFile(file);
    for (const m of text.matchAll(/from\s+["']([^"']+)["']/g)) {
      const spec = m[1];
      assert.ok(
        spec.startsWith("node:") || (spec.startsWith("./") && !spec.includes("/..")),
        `${relative(ROOT, file)} imports ${spec}`,
      );
    }
  }
});

Deno.test("the owner check catches a direct read (it can fail)", () => {
  const sample = code('const t = await Deno.readTextFile(join(dir, "run.json")); // x');
  assert.equal([...sample.matchAll(FILE_OPS)].length, 1);
  assert.equal([...code("/** Deno.readFile in a comment */").matchAll(FILE_OPS)].length, 0);
  // node: file APIs (what the Deno-and-Node code would reach for) are caught the same way.
  assert.equal([...code('import { open } from "node:fs/promises";').matchAll(FILE_OPS)].length, 1);
});
