/**
 * What code trained a run: the experiment's source and every plugin's path, each with the
 * sha256 of its module file. Stored in run.json's config; a resume compares it with the code
 * given on the command line, so a changed experiment or plugin is noticed (a run folder is data
 * and never chooses the code to run).
 *
 * @example
 * ```ts
 * import { codeChanges } from "./code_identity.ts";
 * const before = { experiment: { source: "./exp.ts", sha256: "aa" }, plugins: [] };
 * const now = { experiment: { source: "./exp.ts", sha256: "bb" }, plugins: [] };
 * codeChanges(before, now); // ["experiment ./exp.ts changed (sha256 aa… -> bb…)"]
 * ```
 *
 * @module
 */
import { fromFileUrl } from "./paths.ts";
import { sha256Hex } from "./sha256.ts";

/** One module's identity. */
export interface ModuleIdentity {
  /** Built-in experiment name, file path or URL as given. */
  source: string;
  /** sha256 of the module file (absent for built-ins and non-file URLs). */
  sha256?: string;
}

/** The code of a run. */
export interface CodeIdentity {
  /** The experiment. */
  experiment: ModuleIdentity;
  /** The callback plugins, in load order. */
  plugins: ModuleIdentity[];
}

/** sha256 (hex) of a module file; `undefined` for a URL that is not a file. */
export async function moduleSha256(pathOrUrl: string): Promise<string | undefined> {
  let path = pathOrUrl;
  if (/^[a-z]+:/i.test(pathOrUrl) && !/^[a-z]:[\\/]/i.test(pathOrUrl)) {
    if (!pathOrUrl.startsWith("file:")) return undefined;
    path = fromFileUrl(pathOrUrl);
  }
  return await sha256Hex(await Deno.readFile(path));
}

function parse(v: unknown): ModuleIdentity | undefined {
  if (typeof v !== "object" || v === null) return undefined;
  const r = v as Record<string, unknown>;
  if (typeof r.source !== "string") return undefined;
  return { source: r.source, ...(typeof r.sha256 === "string" ? { sha256: r.sha256 } : {}) };
}

/** Reads a stored code identity (run.json config.code); `undefined` when absent or malformed. */
export function parseCodeIdentity(v: unknown): CodeIdentity | undefined {
  if (typeof v !== "object" || v === null) return undefined;
  const r = v as Record<string, unknown>;
  const experiment = parse(r.experiment);
  if (!experiment || !Array.isArray(r.plugins)) return undefined;
  const plugins = r.plugins.map(parse);
  if (plugins.some((p) => p === undefined)) return undefined;
  return { experiment, plugins: plugins as ModuleIdentity[] };
}

const short = (h?: string) => (h ? `${h.slice(0, 12)}…` : "none");

/** What differs between the stored and the current code, one sentence each (empty: same). */
export function codeChanges(stored: CodeIdentity, current: CodeIdentity): string[] {
  const out: string[] = [];
  if (stored.experiment.sha256 !== current.experiment.sha256) {
    out.push(
      `experiment ${current.experiment.source} changed (sha256 ${
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
      out.push(`plugin ${b.source} changed (sha256 ${short(a.sha256)} -> ${short(b.sha256)})`);
    }
  }
  return out;
}
