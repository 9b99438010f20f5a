/**
 * Loading user callbacks ("plugins") from TypeScript/JavaScript modules by path.
 *
 * A plugin module's default export is either a `Callback` object or a factory
 * `(options) => Callback | Promise<Callback>`.
 *
 * @module
 */
import { isAbsolute, resolve } from "node:path";
import { toFileUrl } from "../paths.ts";
import { type Callback, CALLBACK_HOOKS } from "../train/callback.ts";
import type { PluginSpec } from "./experiment.ts";
import { moduleGraphIdentity, type ModuleIdentity } from "./code_identity.ts";

/** Thrown when a plugin cannot be loaded; the message names the plugin and the fix. */
export class PluginError extends Error {
  /** Creates the error. */
  constructor(readonly plugin: string, message: string, options?: ErrorOptions) {
    super(`Callback plugin ${plugin}: ${message}`, options);
    this.name = "PluginError";
  }
}

const HOOKS = CALLBACK_HOOKS;

/** Checks that `value` is a usable Callback; returns a list of problems (empty when fine). */
export function callbackProblems(value: unknown): string[] {
  if (typeof value !== "object" || value === null) return ["it is not an object"];
  const cb = value as Record<string, unknown>;
  const problems: string[] = [];
  if (typeof cb.name !== "string" || cb.name.length === 0) {
    problems.push("it has no `name` string");
  }
  let hooks = 0;
  for (const h of HOOKS) {
    if (cb[h] === undefined) continue;
    if (typeof cb[h] !== "function") problems.push(`\`${h}\` is not a function`);
    else hooks++;
  }
  if (hooks === 0) problems.push(`it defines none of the hooks ${HOOKS.slice(0, 6).join(", ")}`);
  return problems;
}

/**
 * Parses a `--callback` argument: a path, optionally followed by JSON options
 * (`./my_plugin.ts {"threshold": 0.9}`).
 */
export function parsePluginArg(arg: string): PluginSpec {
  const brace = arg.indexOf("{");
  if (brace < 0) return { path: arg.trim() };
  const path = arg.slice(0, brace).trim();
  const json = arg.slice(brace);
  try {
    return { path, options: JSON.parse(json) };
  } catch (err) {
    throw new PluginError(
      path,
      `its options are not valid JSON (${(err as Error).message}): ${json}. ` +
        `Write them as --callback '${path} {"key": 1}'.`,
    );
  }
}

/** The identity of a plugin's code: its resolved path or URL and its local module graph's sha256. */
export async function pluginIdentity(
  spec: PluginSpec,
  baseDir: string = Deno.cwd(),
): Promise<ModuleIdentity> {
  const isUrl = /^(https?|file|npm|jsr):/.test(spec.path);
  const abs = isUrl ? spec.path : isAbsolute(spec.path) ? spec.path : resolve(baseDir, spec.path);
  return { source: abs, ...await moduleGraphIdentity(abs).catch(() => undefined) };
}

/**
 * Loads a plugin module and returns its callback, validated. Relative paths resolve against
 * `baseDir` (default: the current directory).
 *
 * @example
 * ```ts ignore
 * const cb = await loadPlugin({ path: "./experiments/plugins/print_epoch.ts" });
 * ```
 */
export async function loadPlugin(
  spec: PluginSpec,
  baseDir: string = Deno.cwd(),
): Promise<Callback> {
  const isUrl = /^(https?|file|npm|jsr):/.test(spec.path);
  const abs = isUrl ? spec.path : isAbsolute(spec.path) ? spec.path : resolve(baseDir, spec.path);
  if (!isUrl) {
    try {
      const st = await Deno.stat(abs);
      if (!st.isFile) throw new PluginError(spec.path, `${abs} is not a file.`);
    } catch (err) {
      if (err instanceof PluginError) throw err;
      throw new PluginError(
        spec.path,
        `cannot read ${abs} (${(err as Error).message}). Check the path: it is resolved ` +
          `against ${baseDir}.`,
      );
    }
  }
  let mod: Record<string, unknown>;
  try {
    mod = await import(isUrl ? spec.path : toFileUrl(abs));
  } catch (err) {
    throw new PluginError(spec.path, `failed to load: ${(err as Error).message}`, { cause: err });
  }
  const exported = mod.default;
  if (exported === undefined) {
    throw new PluginError(
      spec.path,
      'the module has no default export. Add `export default { name: "...", onEpochEnd() {} }` ' +
        "or `export default (options) => ({ ... })`.",
    );
  }
  let cb: unknown = exported;
  if (typeof exported === "function") {
    try {
      cb = await (exported as (o: unknown) => unknown)(spec.options ?? {});
    } catch (err) {
      throw new PluginError(spec.path, `its factory threw: ${(err as Error).message}`, {
        cause: err,
      });
    }
  } else if (spec.options !== undefined) {
    throw new PluginError(
      spec.path,
      "options were given but the default export is an object, not a factory function.",
    );
  }
  const problems = callbackProblems(cb);
  if (problems.length > 0) {
    throw new PluginError(
      spec.path,
      `the default export is not a valid Callback: ${problems.join("; ")}.`,
    );
  }
  return cb as Callback;
}
