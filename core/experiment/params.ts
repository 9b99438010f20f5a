/**
 * Free-form hyperparameters: an experiment declares its knobs (`width`, `dropout`, ...) with
 * a default, a type and a one-line description; `--set key=value` (and sweeps) give values,
 * parsed as JSON when they parse and as strings otherwise; {@linkcode resolveParams} checks
 * them, and the resolved set is stored in run.json's config.
 *
 * @example
 * ```ts
 * import { parseSetArg, resolveParams } from "./params.ts";
 * const specs = {
 *   dropout: { default: 0, description: "dropout rate", min: 0, max: 0.9 },
 *   optimizer: { default: "adam", description: "optimizer", choices: ["adam", "sgd"] },
 * };
 * const [key, value] = parseSetArg("dropout=0.3");
 * resolveParams(specs, { [key]: value }); // { dropout: 0.3, optimizer: "adam" }
 * ```
 *
 * @module
 */

/** A hyperparameter value. */
export type ParamValue = number | string | boolean;

/** How an experiment declares one hyperparameter. */
export interface ParamSpec {
  /** The value used when none is given; its type is the parameter's type. */
  readonly default: ParamValue;
  /** One line shown by `--help --experiment X`. */
  readonly description: string;
  /** For a number: only integers. */
  readonly integer?: boolean;
  /** For a number: the smallest value allowed. */
  readonly min?: number;
  /** For a number: the largest value allowed. */
  readonly max?: number;
  /** For a string: the values allowed. */
  readonly choices?: readonly string[];
}

/** Declared hyperparameters by name. */
export type ParamSpecs = Readonly<Record<string, ParamSpec>>;

/** Resolved hyperparameters by name. */
export type Params = Record<string, ParamValue>;

/**
 * Parses one `key=value`: the value as JSON when it parses (`0.3`, `true`, `"x"`), else as a
 * string (`adam`). Throws naming the argument when there is no `=` or no key, or when the
 * JSON is an object, an array or null.
 */
export function parseSetArg(arg: string): [string, ParamValue] {
  const eq = arg.indexOf("=");
  const key = eq < 0 ? "" : arg.slice(0, eq).trim();
  if (eq < 0 || !/^[A-Za-z_][A-Za-z0-9_.-]*$/.test(key)) {
    throw new Error(
      `--set takes key=value (e.g. --set dropout=0.3), got ${JSON.stringify(arg)}`,
    );
  }
  const raw = arg.slice(eq + 1);
  let value: unknown = raw;
  try {
    value = JSON.parse(raw);
  } catch { /* a plain string */ }
  if (typeof value !== "number" && typeof value !== "string" && typeof value !== "boolean") {
    throw new Error(
      `--set ${key}: the value must be a number, a string or true/false, got ${raw}`,
    );
  }
  return [key, value];
}

/** The type of a spec's default, as a word. */
export function paramType(spec: ParamSpec): "number" | "integer" | "string" | "boolean" {
  if (typeof spec.default === "number") return spec.integer ? "integer" : "number";
  return typeof spec.default as "string" | "boolean";
}

/** One line per parameter: `name (type, default X): description`, for `--help`. */
export function describeParams(specs: ParamSpecs): string[] {
  return Object.entries(specs).map(([name, s]) => {
    const range = s.choices
      ? `; one of ${s.choices.join(", ")}`
      : s.min !== undefined || s.max !== undefined
      ? `; ${s.min ?? "-inf"}..${s.max ?? "inf"}`
      : "";
    return `${name} (${paramType(s)}, default ${
      JSON.stringify(s.default)
    }${range}): ${s.description}`;
  });
}

/** The problem with `value` for `spec`, or undefined when it fits. */
function problem(name: string, spec: ParamSpec, value: ParamValue): string | undefined {
  const type = paramType(spec);
  if (type === "number" || type === "integer") {
    if (typeof value !== "number" || !Number.isFinite(value)) {
      return `${name} must be a number, got ${JSON.stringify(value)}`;
    }
    if (type === "integer" && !Number.isInteger(value)) {
      return `${name} must be an integer, got ${value}`;
    }
    if (spec.min !== undefined && value < spec.min) {
      return `${name} must be >= ${spec.min}, got ${value}`;
    }
    if (spec.max !== undefined && value > spec.max) {
      return `${name} must be <= ${spec.max}, got ${value}`;
    }
    return undefined;
  }
  if (type === "boolean") {
    return typeof value === "boolean"
      ? undefined
      : `${name} must be true or false, got ${JSON.stringify(value)}`;
  }
  if (typeof value !== "string") {
    return `${name} must be a string, got ${JSON.stringify(value)}`;
  }
  if (spec.choices && !spec.choices.includes(value)) {
    return `${name} must be one of ${spec.choices.join(", ")}, got ${JSON.stringify(value)}`;
  }
  return undefined;
}

/**
 * Fills in defaults and checks `given` against `specs`: an unknown name or a wrong type is an
 * error listing every problem and the parameters that exist.
 */
export function resolveParams(specs: ParamSpecs, given: Readonly<Params>): Params {
  const problems: string[] = [];
  const unknown = Object.keys(given).filter((k) => !Object.hasOwn(specs, k));
  if (unknown.length > 0) {
    const known = Object.keys(specs);
    problems.push(
      `unknown parameter${unknown.length > 1 ? "s" : ""} ${unknown.join(", ")} (this experiment ` +
        `has ${known.length ? known.join(", ") : "no parameters"}; see --help --experiment NAME)`,
    );
  }
  const out: Params = {};
  for (const [name, spec] of Object.entries(specs)) {
    const value = Object.hasOwn(given, name) ? given[name] : spec.default;
    const p = problem(name, spec, value);
    if (p) problems.push(p);
    out[name] = value;
  }
  if (problems.length > 0) throw new Error(`Invalid parameters: ${problems.join("; ")}.`);
  return out;
}
