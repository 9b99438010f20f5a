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
import { fromFileUrl, toFileUrl } from "./paths.ts";
import { sha256Hex } from "./sha256.ts";

/** One module's identity. */
export interface ModuleIdentity {
  /** Built-in experiment name, file path or URL as given. */
  source: string;
  /** sha256 of the module's local graph (absent for non-file URLs); see {@linkcode moduleSha256}. */
  sha256?: string;
  /** How many local modules the graph holds (the module itself included). */
  modules?: number;
}

/** The git commit of the work tree holding the experiment. */
export interface GitIdentity {
  /** `git rev-parse HEAD`. */
  commit: string;
  /** True when a module of the experiment's graph differs from the commit (or is untracked). */
  dirty: boolean;
}

/** The code of a run. */
export interface CodeIdentity {
  /** The experiment. */
  experiment: ModuleIdentity;
  /** The callback plugins, in load order. */
  plugins: ModuleIdentity[];
  /** The convdeck version (deno.json's). */
  convdeck?: string;
  /** The experiment's git commit, when it lives in a git work tree. */
  git?: GitIdentity;
}

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

function parse(v: unknown): ModuleIdentity | undefined {
  if (typeof v !== "object" || v === null) return undefined;
  const r = v as Record<string, unknown>;
  if (typeof r.source !== "string") return undefined;
  return {
    source: r.source,
    ...(typeof r.sha256 === "string" ? { sha256: r.sha256 } : {}),
    ...(typeof r.modules === "number" ? { modules: r.modules } : {}),
  };
}

/** Reads a stored code identity (run.json config.code); `undefined` when absent or malformed. */
export function parseCodeIdentity(v: unknown): CodeIdentity | undefined {
  if (typeof v !== "object" || v === null) return undefined;
  const r = v as Record<string, unknown>;
  const experiment = parse(r.experiment);
  if (!experiment || !Array.isArray(r.plugins)) return undefined;
  const plugins = r.plugins.map(parse);
  if (plugins.some((p) => p === undefined)) return undefined;
  const g = r.git as Record<string, unknown> | undefined;
  return {
    experiment,
    plugins: plugins as ModuleIdentity[],
    ...(typeof r.convdeck === "string" ? { convdeck: r.convdeck } : {}),
    ...(typeof g?.commit === "string"
      ? { git: { commit: g.commit, dirty: g.dirty === true } }
      : {}),
  };
}

/**
 * One line for people: the experiment, its graph's short sha256 and module count, plugins,
 * version and git commit (`+dirty` when the modules differ from it).
 *
 * @example
 * ```ts
 * import { formatCodeIdentity } from "./code_identity.ts";
 * formatCodeIdentity({
 *   experiment: { source: "exp.ts", sha256: "ab12cd34ef567890", modules: 2 },
 *   plugins: [],
 *   convdeck: "0.1.0",
 *   git: { commit: "87406e8aa", dirty: true },
 * }); // "exp.ts sha256 ab12cd34ef56 (2 modules); convdeck 0.1.0; git 87406e8a+dirty"
 * ```
 */
export function formatCodeIdentity(c: CodeIdentity): string {
  const mod = (m: ModuleIdentity) =>
    `${m.source}${m.sha256 ? ` sha256 ${m.sha256.slice(0, 12)}` : ""}${
      m.modules ? ` (${m.modules} module${m.modules === 1 ? "" : "s"})` : ""
    }`;
  return [
    mod(c.experiment),
    ...c.plugins.map((p) => `plugin ${mod(p)}`),
    ...(c.convdeck ? [`convdeck ${c.convdeck}`] : []),
    ...(c.git ? [`git ${c.git.commit.slice(0, 8)}${c.git.dirty ? "+dirty" : ""}`] : []),
  ].join("; ");
}

const short = (h?: string) => (h ? `${h.slice(0, 12)}…` : "none");

/** What differs between the stored and the current code, one sentence each (empty: same). */
export function codeChanges(stored: CodeIdentity, current: CodeIdentity): string[] {
  const out: string[] = [];
  if (stored.experiment.sha256 !== current.experiment.sha256) {
    out.push(
      `experiment ${current.experiment.source} or a module it imports changed (sha256 ${
        short(stored.experiment.sha256)
      } -> ${short(current.experiment.sha256)})`,
    );
  }
  const n = Math.max(stored.plugins.length, current.plugins.length);
  for (let i = 0; i < n; i++) {
    const a = stored.plugins[i], b = current.plugins[i];
    if (!b) out.push(`plugin ${a.source} was loaded when the run was trained, not now`);
    else if (!a) out.push(`plugin ${b.source} is new`);
    else if (a.sha256 !== b.sha256) {
      out.push(
        `plugin ${b.source} or a module it imports changed (sha256 ${short(a.sha256)} -> ${
          short(b.sha256)
        })`,
      );
    }
  }
  return out;
}
