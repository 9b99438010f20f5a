/**
 * `deno task build-node`: the tracking client (`track/mod.ts`) for Node 20+ as one ESM file
 * with its type declarations, in `dist/node/` with a `package.json` (`convdeck-track`):
 * `node:` built-ins only, no dependencies. A Node project installs it with
 * `npm install /path/to/convdeck/dist/node` (or `npm pack` it and install the tarball).
 *
 * @module
 */
import { join } from "node:path";
import { parseFlagsOrExit } from "../core/flags.ts";
import { VERSION } from "../core/version.ts";

/** The TypeScript compiler that writes the declarations (exact version, from npm). */
const TSC = "npm:typescript@5.7.3/tsc";

async function run(args: string[], what: string): Promise<void> {
  const out = await new Deno.Command(Deno.execPath(), { args, stdout: "piped", stderr: "piped" })
    .output();
  if (!out.success) {
    const dec = new TextDecoder();
    throw new Error(`${what} failed:\n${dec.decode(out.stdout)}${dec.decode(out.stderr)}`);
  }
}

async function* walk(dir: string): AsyncGenerator<string> {
  for await (const e of Deno.readDir(dir)) {
    const p = join(dir, e.name);
    if (e.isDirectory) yield* walk(p);
    else if (e.isFile) yield p;
  }
}

/** Builds the Node package into `outDir` and returns the files written. */
export async function buildNode(outDir: string): Promise<string[]> {
  await Deno.remove(outDir, { recursive: true }).catch(() => {});
  await Deno.mkdir(outDir, { recursive: true });
  await run(
    [
      "bundle",
      "--quiet",
      "--platform",
      "deno",
      "--format",
      "esm",
      "-o",
      join(outDir, "index.js"),
      "track/mod.ts",
    ],
    "deno bundle",
  );
  const types = join(outDir, "types");
  await run(
    [
      "run",
      "--allow-read",
      "--allow-write",
      "--allow-env",
      TSC,
      "--declaration",
      "--emitDeclarationOnly",
      "--noCheck",
      "--allowImportingTsExtensions",
      "--target",
      "es2022",
      "--module",
      "nodenext",
      "--moduleResolution",
      "nodenext",
      "--outDir",
      types,
      "track/mod.ts",
    ],
    "tsc (declarations)",
  );
  // Declarations name their neighbours as `.ts` (the sources' imports): Node resolves `.js`.
  for await (const f of walk(types)) {
    const text = await Deno.readTextFile(f);
    await Deno.writeTextFile(f, text.replace(/(from\s+"\.{1,2}\/[^"]*?)\.ts"/g, '$1.js"'));
  }
  const pkg = {
    name: "convdeck-track",
    version: VERSION,
    description:
      "convdeck's experiment tracking client for Node: init/log/finish and a tfjs fit callback",
    license: "MIT",
    type: "module",
    main: "./index.js",
    types: "./types/track/mod.d.ts",
    exports: { ".": { types: "./types/track/mod.d.ts", default: "./index.js" } },
    engines: { node: ">=20" },
  };
  await Deno.writeTextFile(join(outDir, "package.json"), JSON.stringify(pkg, null, 2) + "\n");
  const files: string[] = [];
  for await (const f of walk(outDir)) files.push(f);
  return files.sort();
}

if (import.meta.main) {
  const usage = "Usage: deno task build-node [--out DIR]\n\nBuilds the tracking client for " +
    "Node 20+ into DIR (default dist/node): index.js, types/, package.json.";
  const { values } = parseFlagsOrExit(Deno.args, usage, { out: { type: "string" } });
  const out = values.out ?? "dist/node";
  try {
    const files = await buildNode(out);
    console.log(`wrote ${files.length} files to ${out} (index.js, types/, package.json)`);
    console.log(`install in a Node project: npm install ${join(Deno.cwd(), out)}`);
  } catch (err) {
    console.error(`error: ${(err as Error).message}`);
    Deno.exit(1);
  }
}
