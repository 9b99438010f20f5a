/**
 * The package's own source files (no `node_modules`, `runs`, hidden folders or the built
 * client), for the tools in this folder.
 *
 * @module
 */
import { join } from "node:path";

const SKIP = new Set(["node_modules", "runs", "dist", "docs"]);

/** Yields the paths under `root` whose names match `pattern`. */
export async function* walk(root: string, pattern: RegExp): AsyncGenerator<string> {
  for await (const e of Deno.readDir(root)) {
    if (e.name.startsWith(".") || SKIP.has(e.name)) continue;
    const path = join(root, e.name);
    if (e.isDirectory) yield* walk(path, pattern);
    else if (e.isFile && pattern.test(e.name)) yield path;
  }
}
