/**
 * Finding experiments by name (in `experiments/`) or by path.
 *
 * @module
 */
import { isAbsolute, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import type { Experiment } from "../core/experiment/experiment.ts";
import { toFileUrl } from "../core/paths.ts";
import { moduleGraphIdentity, type ModuleIdentity } from "../core/experiment/code_identity.ts";
import { shownPath } from "../core/format/path.ts";

const BUILTIN_LOADERS: Record<string, () => Promise<Record<string, unknown>>> = {
  default: () => import("./default.ts"),
  snacks: () => import("./snacks.ts"),
  fashion_mnist: () => import("./fashion_mnist.ts"),
};

/** The experiments that ship with convdeck, by name (the value is the module's file name). */
export const BUILTIN_EXPERIMENTS: Readonly<Record<string, string>> = Object.freeze(
  Object.fromEntries(Object.keys(BUILTIN_LOADERS).map((k) => [k, `./${k}.ts`])),
);

/**
 * The file of an experiment module: a built-in's file in `experiments/`, or the path resolved
 * against the working folder (what a sweep fingerprints with sha256).
 *
 * @example
 * ```ts
 * import { experimentModulePath } from "./registry.ts";
 * experimentModulePath("default"); // ".../experiments/default.ts"
 * ```
 */
export function experimentModulePath(nameOrPath: string): string {
  if (Object.hasOwn(BUILTIN_LOADERS, nameOrPath)) {
    return fileURLToPath(new URL(BUILTIN_EXPERIMENTS[nameOrPath], import.meta.url));
  }
  return isAbsolute(nameOrPath) ? nameOrPath : resolve(nameOrPath);
}

function problems(value: unknown): string[] {
  if (typeof value !== "object" || value === null) return ["it is not an object"];
  const e = value as Record<string, unknown>;
  const out: string[] = [];
  if (typeof e.name !== "string" || !/^[A-Za-z0-9_-]+$/.test(e.name)) {
    out.push("`name` must be a string of letters, digits, - and _");
  }
  if (typeof e.dataset !== "function") out.push("`dataset(options)` is missing");
  if (typeof e.model !== "function") out.push("`model(inputShape, numClasses)` is missing");
  if (typeof e.defaults !== "object" || e.defaults === null) out.push("`defaults` is missing");
  return out;
}

/** True for the name of a built-in experiment. */
export function isBuiltinExperiment(name: string): boolean {
  return Object.hasOwn(BUILTIN_LOADERS, name);
}

/**
 * The identity of an experiment's code: its source (a built-in's name, else the absolute path
 * of its file) and the sha256 of its module file.
 */
export async function experimentIdentity(nameOrPath: string): Promise<ModuleIdentity> {
  const path = experimentModulePath(nameOrPath);
  const source = isBuiltinExperiment(nameOrPath) ? nameOrPath : path;
  return { source, ...await moduleGraphIdentity(path) };
}

/**
 * Whether `nameOrPath` names an experiment file rather than a built-in: it has a slash or a
 * module extension.
 *
 * @example
 * ```ts
 * import { isExperimentPath } from "./registry.ts";
 * isExperimentPath("./my_experiment.ts"); // true
 * isExperimentPath("default"); // false
 * ```
 */
export function isExperimentPath(nameOrPath: string): boolean {
  return /[/\\]|\.(ts|js|mts|mjs)$/.test(nameOrPath);
}

/** No such experiment: an unknown built-in name or a missing file (bad input: CLI exit 2). */
export class ExperimentNotFoundError extends Error {
  /** Creates the error. */
  constructor(message: string) {
    super(message);
    this.name = "ExperimentNotFoundError";
  }
}

/**
 * Loads an experiment by built-in name or by file path; throws
 * {@linkcode ExperimentNotFoundError} when there is no such built-in or file, a clear error
 * when the file does not export an experiment.
 */
export async function loadExperiment(nameOrPath: string): Promise<Experiment> {
  let load: () => Promise<Record<string, unknown>>;
  let label: string;
  if (Object.hasOwn(BUILTIN_LOADERS, nameOrPath)) {
    load = BUILTIN_LOADERS[nameOrPath];
    label = `built-in experiment "${nameOrPath}"`;
  } else {
    if (!isExperimentPath(nameOrPath)) {
      throw new ExperimentNotFoundError(
        `Unknown experiment "${nameOrPath}". Built-in: ${
          Object.keys(BUILTIN_EXPERIMENTS).join(", ")
        }; or pass the path of an experiment file (e.g. ./my_experiment.ts).`,
      );
    }
    const abs = isAbsolute(nameOrPath) ? nameOrPath : resolve(nameOrPath);
    try {
      if (!(await Deno.stat(abs)).isFile) throw new Error("not a file");
    } catch {
      throw new ExperimentNotFoundError(
        `Experiment file ${shownPath(abs)} does not exist (or is not a readable file).`,
      );
    }
    const url = toFileUrl(abs);
    load = () => import(url);
    label = `experiment file ${abs}`;
  }
  let mod: Record<string, unknown>;
  try {
    mod = await load();
  } catch (err) {
    throw new Error(`Cannot load ${label}: ${(err as Error).message}`, { cause: err });
  }
  const exp = mod.default;
  const p = problems(exp);
  if (p.length > 0) {
    throw new Error(
      `${label} does not export a valid Experiment as its default export: ${p.join("; ")}.`,
    );
  }
  return exp as Experiment;
}
