/**
 * The sweep spec: which experiment, fixed settings, a search space per parameter, the method
 * (grid, or seeded random with a trial count), the metric and its direction, and an optional
 * pruner. {@linkcode validateSpec} checks a parsed JSON value (or a TypeScript module's default
 * export) and names the field of every problem; {@linkcode expandTrials} turns a valid spec into
 * its trials, reproducibly.
 *
 * ```json
 * {
 *   "name": "lr-width",
 *   "experiment": "default",
 *   "settings": { "epochs": 4 },
 *   "parameters": {
 *     "learningRate": { "logUniform": [1e-4, 1e-2] },
 *     "width": { "values": [8, 16, 32] },
 *     "dropout": { "uniform": [0, 0.5] },
 *     "reduceLrPatience": { "int": [1, 3] }
 *   },
 *   "method": "random", "trials": 8, "seed": 1,
 *   "metric": "val_acc",
 *   "pruner": { "type": "median", "warmupEpochs": 1, "minTrials": 2 }
 * }
 * ```
 *
 * @example
 * ```ts
 * import { expandTrials, validateSpec } from "./spec.ts";
 * const spec = validateSpec({
 *   experiment: "default",
 *   parameters: { width: { values: [8, 16] }, learningRate: { values: [1e-3, 1e-2] } },
 *   method: "grid",
 *   metric: "val_acc",
 * });
 * expandTrials(spec).length; // 4
 * ```
 *
 * @module
 */
import { hashInts, mulberry32 } from "../core/random.ts";
import { metricDirection } from "../core/metric_direction.ts";
import type { ParamValue } from "../core/experiment/params.ts";
import type { TrainOptions } from "../core/experiment/experiment.ts";
import { splitSettings } from "../core/experiment/options.ts";

/** A search space for one parameter. */
export type ParamSpace =
  | { readonly values: readonly ParamValue[] }
  | { readonly uniform: readonly [number, number] }
  | { readonly logUniform: readonly [number, number] }
  | { readonly int: readonly [number, number] };

/** The median stopping rule (see `sweep/pruners.ts`). */
export interface MedianPrunerSpec {
  /** `"median"`. */
  readonly type: "median";
  /** Epochs a trial always gets before it can be pruned (default 1). */
  readonly warmupEpochs: number;
  /** Other trials that must have reached an epoch before the rule applies there (default 2). */
  readonly minTrials: number;
}

/** Asynchronous successive halving (see `sweep/pruners.ts`). */
export interface AshaPrunerSpec {
  /** `"asha"`. */
  readonly type: "asha";
  /** The first rung, in epochs (default 1); rungs are at minEpochs * factor^k. */
  readonly minEpochs: number;
  /** Keep the best 1/factor of the trials at each rung (default 3). */
  readonly reductionFactor: number;
}

/** A pruner. */
export type PrunerSpec = MedianPrunerSpec | AshaPrunerSpec;

/** A validated sweep spec. */
export interface SweepSpec {
  /** A name for the sweep (letters, digits, - and _); the sweep id starts with it. */
  readonly name: string;
  /** Built-in experiment name or path of an experiment file (relative to the working folder). */
  readonly experiment: string;
  /** Settings every trial gets (standard options such as epochs, and parameters). */
  readonly settings: Readonly<Record<string, ParamValue>>;
  /** The search space, by parameter name (standard options such as learningRate too). */
  readonly parameters: Readonly<Record<string, ParamSpace>>;
  /** `grid`: every combination of the lists; `random`: `trials` draws from `seed`. */
  readonly method: "grid" | "random";
  /** Trial count of a random sweep. */
  readonly trials?: number;
  /** Seed of a random sweep (default 0; absent for a grid). */
  readonly seed?: number;
  /** The metric to optimise (a key of the epoch logs, e.g. `val_acc`). */
  readonly metric: string;
  /** Whether lower or higher is better (default: from the metric's name). */
  readonly direction: "min" | "max";
  /** Stop unpromising trials early. */
  readonly pruner?: PrunerSpec;
}

/** One trial of a sweep: its index and its settings (fixed settings plus drawn parameters). */
export interface TrialPlan {
  /** 0-based index in the sweep. */
  readonly index: number;
  /** `t000`, `t001`, ...: the trial's name in the sweep folder and in job ids. */
  readonly key: string;
  /** The parameters this trial explores. */
  readonly params: Readonly<Record<string, ParamValue>>;
  /** Everything to set for this run: the spec's fixed settings, then `params`. */
  readonly settings: Readonly<Record<string, ParamValue>>;
}

/**
 * A spec that does not validate: `problems` each start with the field they are about.
 *
 * @example
 * ```ts
 * import { SpecError, validateSpec } from "./spec.ts";
 * try {
 *   validateSpec({ parameters: {}, metric: "val_acc" });
 * } catch (err) {
 *   if (err instanceof SpecError) console.log(err.problems); // ["parameters: must be an object ..."]
 * }
 * ```
 */
export class SpecError extends Error {
  /** One entry per problem, e.g. `parameters.width.values: must be a non-empty list`. */
  readonly problems: string[];
  /** Builds the error from its problems. */
  constructor(problems: string[]) {
    super(`Invalid sweep spec: ${problems.join("; ")}.`);
    this.name = "SpecError";
    this.problems = problems;
  }
}

/** The most trials a grid may expand to. */
export const MAX_TRIALS = 10_000;

const SPEC_KEYS = [
  "name",
  "experiment",
  "settings",
  "parameters",
  "method",
  "trials",
  "seed",
  "metric",
  "direction",
  "pruner",
];

const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === "object" && v !== null && !Array.isArray(v);

const isValue = (v: unknown): v is ParamValue =>
  (typeof v === "number" && Number.isFinite(v)) || typeof v === "string" ||
  typeof v === "boolean";

function checkSpace(field: string, raw: unknown, problems: string[]): ParamSpace | undefined {
  if (!isObject(raw)) {
    problems.push(
      `${field}: must be an object with one of values, uniform, logUniform, int`,
    );
    return undefined;
  }
  const kinds = Object.keys(raw);
  if (kinds.length !== 1 || !["values", "uniform", "logUniform", "int"].includes(kinds[0])) {
    problems.push(
      `${field}: must have exactly one of values, uniform, logUniform, int (got ${
        kinds.join(", ") || "nothing"
      })`,
    );
    return undefined;
  }
  const kind = kinds[0];
  const v = raw[kind];
  if (kind === "values") {
    if (!Array.isArray(v) || v.length === 0) {
      problems.push(`${field}.values: must be a non-empty list (an empty space)`);
      return undefined;
    }
    const bad = v.findIndex((x) => !isValue(x));
    if (bad >= 0) {
      problems.push(`${field}.values[${bad}]: must be a number, a string or true/false`);
      return undefined;
    }
    return { values: v as ParamValue[] };
  }
  if (
    !Array.isArray(v) || v.length !== 2 || !v.every((x) => typeof x === "number" && isFinite(x))
  ) {
    problems.push(`${field}.${kind}: must be [low, high], two finite numbers`);
    return undefined;
  }
  const [lo, hi] = v as [number, number];
  if (lo > hi) {
    problems.push(`${field}.${kind}: low ${lo} is above high ${hi} (an empty space)`);
    return undefined;
  }
  if (kind === "logUniform" && lo <= 0) {
    problems.push(`${field}.logUniform: bounds must be > 0, got ${lo}`);
    return undefined;
  }
  if (kind === "int" && !(Number.isInteger(lo) && Number.isInteger(hi))) {
    problems.push(`${field}.int: bounds must be integers, got [${lo}, ${hi}]`);
    return undefined;
  }
  return { [kind]: [lo, hi] } as unknown as ParamSpace;
}

function positiveInt(
  field: string,
  v: unknown,
  dflt: number,
  min: number,
  problems: string[],
): number {
  if (v === undefined) return dflt;
  if (typeof v !== "number" || !Number.isInteger(v) || v < min) {
    problems.push(`${field}: must be an integer >= ${min}, got ${JSON.stringify(v)}`);
    return dflt;
  }
  return v;
}

function checkPruner(raw: unknown, problems: string[]): PrunerSpec | undefined {
  if (raw === undefined) return undefined;
  if (!isObject(raw)) {
    problems.push(`pruner: must be an object such as {"type": "median"}`);
    return undefined;
  }
  const allowed: Record<string, string[]> = {
    median: ["type", "warmupEpochs", "minTrials"],
    asha: ["type", "minEpochs", "reductionFactor"],
  };
  const type = raw.type;
  if (type !== "median" && type !== "asha") {
    problems.push(`pruner.type: must be "median" or "asha", got ${JSON.stringify(type)}`);
    return undefined;
  }
  for (const k of Object.keys(raw)) {
    if (!allowed[type].includes(k)) {
      problems.push(`pruner.${k}: unknown field for ${type} (${allowed[type].join(", ")})`);
    }
  }
  if (type === "median") {
    return {
      type,
      warmupEpochs: positiveInt("pruner.warmupEpochs", raw.warmupEpochs, 1, 0, problems),
      minTrials: positiveInt("pruner.minTrials", raw.minTrials, 2, 1, problems),
    };
  }
  return {
    type,
    minEpochs: positiveInt("pruner.minEpochs", raw.minEpochs, 1, 1, problems),
    reductionFactor: positiveInt("pruner.reductionFactor", raw.reductionFactor, 3, 2, problems),
  };
}

/**
 * Checks a spec (parsed JSON or a module's default export) and fills in defaults; throws a
 * {@linkcode SpecError} naming the field of every problem. Whether the parameters exist in the
 * experiment is checked later, with the experiment loaded (`sweep/plan.ts`).
 *
 * @example
 * ```ts
 * import { validateSpec } from "./spec.ts";
 * const spec = validateSpec({ parameters: { lr: { logUniform: [1e-4, 1e-2] } }, method: "random", trials: 4, metric: "val_loss" });
 * spec.direction; // "min"
 * ```
 */
export function validateSpec(raw: unknown): SweepSpec {
  const problems: string[] = [];
  if (!isObject(raw)) throw new SpecError(["the spec: must be a JSON object"]);
  for (const k of Object.keys(raw)) {
    if (!SPEC_KEYS.includes(k)) problems.push(`${k}: unknown field (${SPEC_KEYS.join(", ")})`);
  }
  const experiment = raw.experiment ?? "default";
  if (typeof experiment !== "string" || experiment === "") {
    problems.push(`experiment: must be a built-in name or a file path`);
  }
  const name = raw.name ?? (typeof experiment === "string" ? experiment : "sweep")
    .replace(/^.*[/\\]/, "").replace(/\.[a-z]+$/, "").replace(/[^A-Za-z0-9_-]/g, "_");
  if (typeof name !== "string" || !/^[A-Za-z0-9_-]{1,64}$/.test(name)) {
    problems.push(`name: must be 1 to 64 letters, digits, - and _, got ${JSON.stringify(name)}`);
  }
  const settings: Record<string, ParamValue> = {};
  if (raw.settings !== undefined && !isObject(raw.settings)) {
    problems.push(`settings: must be an object of name: value`);
  } else {
    for (const [k, v] of Object.entries(raw.settings ?? {})) {
      if (isValue(v)) settings[k] = v;
      else problems.push(`settings.${k}: must be a number, a string or true/false`);
    }
  }
  const parameters: Record<string, ParamSpace> = {};
  if (!isObject(raw.parameters) || Object.keys(raw.parameters).length === 0) {
    problems.push(`parameters: must be an object with at least one parameter's space`);
  } else {
    for (const [k, v] of Object.entries(raw.parameters)) {
      const s = checkSpace(`parameters.${k}`, v, problems);
      if (s) parameters[k] = s;
      if (Object.hasOwn(settings, k)) {
        problems.push(`parameters.${k}: also fixed in settings; give it in one place`);
      }
    }
  }
  const method = raw.method ?? "grid";
  if (method !== "grid" && method !== "random") {
    problems.push(`method: must be "grid" or "random", got ${JSON.stringify(method)}`);
  }
  let trials: number | undefined;
  if (method === "random") {
    if (raw.trials === undefined) problems.push(`trials: a random sweep needs a trial count`);
    else trials = positiveInt("trials", raw.trials, 1, 1, problems);
    if (trials !== undefined && trials > MAX_TRIALS) {
      problems.push(`trials: at most ${MAX_TRIALS}, got ${trials}`);
    }
  } else {
    if (raw.trials !== undefined) problems.push(`trials: only for method "random"`);
    for (const [k, s] of Object.entries(parameters)) {
      if ("uniform" in s || "logUniform" in s) {
        problems.push(
          `parameters.${k}: a grid needs a list or an int range, not a continuous range`,
        );
      }
    }
  }
  const seed = positiveInt("seed", raw.seed, 0, 0, problems);
  if (raw.seed !== undefined && method !== "random") problems.push(`seed: only for "random"`);
  const metric = raw.metric;
  let direction: "min" | "max" = "min";
  if (typeof metric !== "string" || metric === "") {
    problems.push(`metric: must name an epoch metric such as "val_acc" or "val_loss"`);
  } else if (raw.direction !== undefined) {
    if (raw.direction !== "min" && raw.direction !== "max") {
      problems.push(`direction: must be "min" or "max", got ${JSON.stringify(raw.direction)}`);
    } else direction = raw.direction;
  } else {
    const d = metricDirection(metric);
    if (d === undefined) {
      problems.push(
        `direction: cannot tell from "${metric}" whether lower or higher is ` +
          `better; give "min" or "max"`,
      );
    } else direction = d;
  }
  const pruner = checkPruner(raw.pruner, problems);
  const spec: SweepSpec = {
    name: name as string,
    experiment: experiment as string,
    settings,
    parameters,
    method: method as "grid" | "random",
    ...(trials !== undefined ? { trials } : {}),
    ...(method === "random" ? { seed } : {}),
    metric: metric as string,
    direction,
    ...(pruner ? { pruner } : {}),
  };
  if (problems.length === 0 && method === "grid") {
    const n = Object.values(parameters).reduce((acc, s) => acc * gridValues(s).length, 1);
    if (n > MAX_TRIALS) {
      problems.push(`parameters: the grid has ${n} trials, at most ${MAX_TRIALS}`);
    }
  }
  if (problems.length > 0) throw new SpecError(problems);
  return spec;
}

function gridValues(s: ParamSpace): ParamValue[] {
  if ("values" in s) return [...s.values];
  if ("int" in s) {
    const [lo, hi] = s.int;
    return Array.from({ length: hi - lo + 1 }, (_, i) => lo + i);
  }
  throw new Error("a continuous range has no grid values");
}

/**
 * Draws one value of `s` with `rand` (uniform in [0, 1)).
 *
 * @example
 * ```ts
 * import { sampleSpace } from "./spec.ts";
 * import { mulberry32 } from "../core/random.ts";
 * sampleSpace({ int: [1, 3] }, mulberry32(1)); // 1, 2 or 3
 * ```
 */
export function sampleSpace(s: ParamSpace, rand: () => number): ParamValue {
  if ("values" in s) return s.values[Math.floor(rand() * s.values.length)];
  if ("uniform" in s) return s.uniform[0] + rand() * (s.uniform[1] - s.uniform[0]);
  if ("logUniform" in s) {
    const [lo, hi] = s.logUniform.map(Math.log);
    return Math.exp(lo + rand() * (hi - lo));
  }
  const [lo, hi] = s.int;
  return lo + Math.floor(rand() * (hi - lo + 1));
}

/**
 * `t000`, `t001`, ...
 *
 * @example
 * ```ts
 * import { trialKey } from "./spec.ts";
 * trialKey(7); // "t007"
 * ```
 */
export function trialKey(index: number): string {
  return `t${String(index).padStart(3, "0")}`;
}

/**
 * The trials of a spec. Grid: every combination, the last parameter varying fastest. Random:
 * `trials` draws; trial i draws its parameters (in the spec's order) from a generator seeded by
 * (seed, i), so the same spec always gives the same trials and a larger trial count keeps the
 * earlier ones.
 *
 * @example
 * ```ts
 * import { expandTrials, validateSpec } from "./spec.ts";
 * const spec = validateSpec({ parameters: { w: { values: [8, 16] }, p: { int: [1, 2] } }, metric: "val_acc" });
 * expandTrials(spec).map((t) => t.params); // [{w:8,p:1}, {w:8,p:2}, {w:16,p:1}, {w:16,p:2}]
 * ```
 */
export function expandTrials(spec: SweepSpec): TrialPlan[] {
  const names = Object.keys(spec.parameters);
  const combos: Record<string, ParamValue>[] = [];
  if (spec.method === "grid") {
    const lists = names.map((n) => gridValues(spec.parameters[n]));
    const total = lists.reduce((a, l) => a * l.length, 1);
    for (let i = 0; i < total; i++) {
      const p: Record<string, ParamValue> = {};
      let rest = i;
      for (let j = names.length - 1; j >= 0; j--) {
        p[names[j]] = lists[j][rest % lists[j].length];
        rest = Math.floor(rest / lists[j].length);
      }
      combos.push(Object.fromEntries(names.map((n) => [n, p[n]])));
    }
  } else {
    for (let i = 0; i < (spec.trials ?? 0); i++) {
      const rand = mulberry32(hashInts(spec.seed ?? 0, i, 0x5eed));
      combos.push(Object.fromEntries(names.map((n) => [n, sampleSpace(spec.parameters[n], rand)])));
    }
  }
  return combos.map((params, index) => ({
    index,
    key: trialKey(index),
    params,
    settings: { ...spec.settings, ...params },
  }));
}

/**
 * Standard options, `data`/`strictData` and parameters from a trial's settings.
 *
 * @example
 * ```ts
 * import { trialOverrides } from "./spec.ts";
 * trialOverrides({ epochs: 3, width: 8 }); // { epochs: 3, params: { width: 8 } }
 * ```
 */
export function trialOverrides(
  settings: Readonly<Record<string, ParamValue>>,
): Partial<TrainOptions> {
  const { data, strictData, ...rest } = settings;
  const { overrides, params } = splitSettings(Object.entries(rest));
  return {
    ...overrides,
    ...(data !== undefined ? { data: String(data) } : {}),
    ...(strictData !== undefined ? { strictData: Boolean(strictData) } : {}),
    ...(Object.keys(params).length ? { params } : {}),
  };
}
