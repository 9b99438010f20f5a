/**
 * What code trained a run: the experiment's source and every plugin's path, each with the
 * sha256 of its whole local module graph (the module file and every non-npm module it imports,
 * transitively, as `deno info` resolves them), the convdeck version and, when the experiment is
 * in a git work tree, the commit and whether its modules differ from it. Stored in run.json's
 * config; a resume (and a sweep worker) compares it with the code given on the command line, so
 * a changed experiment, plugin or any module they import is noticed (a run folder is data and
 * never chooses the code to run).
 *
 * @example
 * ```ts
 * import { codeChanges } from "./code_identity.ts";
 * const before = { experiment: { source: "./exp.ts", sha256: "aa" }, plugins: [] };
 * const now = { experiment: { source: "./exp.ts", sha256: "bb" }, plugins: [] };
 * codeChanges(before, now); // ["experiment ./exp.ts or a module it imports changed (sha256 aa… -> bb…)"]
 * ```
 *
 * @module
 */
import { dirname, relative } from "node:path";
import { fromFileUrl, toFileUrl } from "../paths.ts";
import { sha256Hex } from "../sha256.ts";
import type { GitIdentity } from "./code_identity_format.ts";
export {
  codeChanges,
  type CodeIdentity,
  formatCodeIdentity,
  type GitIdentity,
  type ModuleIdentity,
  parseCodeIdentity,
} from "./code_identity_format.ts";

const graphs = new Map<string, Promise<string[]>>();

/**
 * The local files of a module's import graph (the module first, then every `file:` module it
 * imports, transitively; npm, jsr and remote modules are left out), as `deno info --json`
 * resolves them (import maps included). Needs `--allow-run`.
 *
 * @example
 * ```ts ignore
 * import { moduleGraph } from "./code_identity.ts";
 * await moduleGraph("./my_experiment.ts"); // ["/abs/my_experiment.ts", "/abs/my_model.ts", ...]
 * ```
 */
export function moduleGraph(path: string): Promise<string[]> {
  let graph = graphs.get(path);
  if (!graph) {
    graph = readGraph(path);
    graphs.set(path, graph);
    graph.catch(() => graphs.delete(path));
  }
  return graph;
}

async function readGraph(path: string): Promise<string[]> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["info", "--json", toFileUrl(path)],
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1" },
  }).output();
  if (!out.success) {
    const why = new TextDecoder().decode(out.stderr).trim().split("\n").slice(-1)[0];
    throw new Error(`cannot read the imports of ${path} (${why})`);
  }
  const info = JSON.parse(new TextDecoder().decode(out.stdout)) as {
    modules?: { specifier?: string; local?: string; error?: string }[];
  };
  const files = new Set<string>([path]);
  for (const m of info.modules ?? []) {
    if (m.error) throw new Error(`cannot read the imports of ${path} (${m.error})`);
    if (m.specifier?.startsWith("file:")) files.add(m.local ?? fromFileUrl(m.specifier));
  }
  return [...files];
}

/**
 * sha256 (hex) of a module's local graph: of the lines `<path relative to the module's
 * folder> <sha256 of the file>` of every file of {@linkcode moduleGraph}, sorted (so moving the
 * folder elsewhere keeps it); `undefined` for a URL that is not a file.
 *
 * @example
 * ```ts ignore
 * import { moduleSha256 } from "./code_identity.ts";
 * await moduleSha256("./my_experiment.ts"); // changes when my_model.ts, which it imports, does
 * ```
 */
export async function moduleSha256(pathOrUrl: string): Promise<string | undefined> {
  return (await moduleGraphIdentity(pathOrUrl))?.sha256;
}

/**
 * {@linkcode moduleSha256} with the number of modules hashed.
 *
 * @example
 * ```ts ignore
 * import { moduleGraphIdentity } from "./code_identity.ts";
 * const { sha256, modules } = (await moduleGraphIdentity("./my_experiment.ts"))!;
 * ```
 */
export async function moduleGraphIdentity(
  pathOrUrl: string,
): Promise<{ sha256: string; modules: number } | undefined> {
  let path = pathOrUrl;
  if (/^[a-z]+:/i.test(pathOrUrl) && !/^[a-z]:[\\/]/i.test(pathOrUrl)) {
    if (!pathOrUrl.startsWith("file:")) return undefined;
    path = fromFileUrl(pathOrUrl);
  }
  await Deno.stat(path); // a missing file is an error naming it, before deno info
  const files = await moduleGraph(path);
  const base = dirname(path);
  const lines = await Promise.all(
    files.map(async (f) => `${relative(base, f)} ${await sha256Hex(await Deno.readFile(f))}`),
  );
  return { sha256: await sha256Hex(lines.sort().join("\n")), modules: files.length };
}

async function git(dir: string, args: string[]): Promise<string | undefined> {
  try {
    const out = await new Deno.Command("git", {
      args: ["-C", dir, ...args],
      stdout: "piped",
      stderr: "null",
    }).output();
    return out.success ? new TextDecoder().decode(out.stdout).trim() : undefined;
  } catch {
    return undefined; // no git, or no permission to run it
  }
}

/**
 * The commit of the git work tree that holds a module, and whether any file of its local graph
 * differs from that commit; `undefined` outside a work tree (or without git).
 *
 * @example
 * ```ts ignore
 * import { gitIdentity } from "./code_identity.ts";
 * await gitIdentity("./my_experiment.ts"); // { commit: "87406e8…", dirty: false }
 * ```
 */
export async function gitIdentity(path: string): Promise<GitIdentity | undefined> {
  const dir = dirname(path);
  const [commit, top] = await Promise.all([
    git(dir, ["rev-parse", "HEAD"]),
    git(dir, ["rev-parse", "--show-toplevel"]),
  ]);
  if (!commit || !top) return undefined;
  const top_ = await Deno.realPath(top);
  const inside: string[] = [];
  for (const f of await moduleGraph(path).catch(() => [path])) {
    const real = await Deno.realPath(f).catch(() => f);
    if (!relative(top_, real).startsWith("..")) inside.push(real);
  }
  const status = await git(top_, ["status", "--porcelain", "--", ...inside]);
  return { commit, dirty: status === undefined || status !== "" };
}
