/**
 * The code identity's shape, reading and wording, with no file or process access (so the
 * dashboard's client can use it too): what `core/experiment/code_identity.ts` computes and stores in
 * run.json's `config.code`.
 *
 * @example
 * ```ts
 * import { codeChanges } from "./code_identity_format.ts";
 * const before = { experiment: { source: "./exp.ts", sha256: "aa" }, plugins: [] };
 * const now = { experiment: { source: "./exp.ts", sha256: "bb" }, plugins: [] };
 * codeChanges(before, now); // ["experiment ./exp.ts or a module it imports changed (sha256 aa… -> bb…)"]
 * ```
 *
 * @module
 */

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
