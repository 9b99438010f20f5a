/**
 * From a spec file to a sweep record: loads the spec (JSON, or a TypeScript/JavaScript module
 * whose default export is the spec), validates it, loads the experiment, checks every trial's
 * settings against the experiment's declared parameters and options (an unknown parameter or a
 * value out of range is an error naming the field, before anything runs), and fingerprints the
 * experiment module (sha256) so that workers with other code are refused.
 *
 * @example
 * ```ts ignore
 * import { planSweep } from "./plan.ts";
 * const record = await planSweep("sweep.json");
 * console.log(record.id, record.trials.length);
 * ```
 *
 * @module
 */
import { extname, resolve } from "node:path";
import type { Experiment } from "../core/experiment/experiment.ts";
import { resolveOptions, STANDARD_OPTIONS } from "../core/experiment/options.ts";
import { toFileUrl } from "../core/paths.ts";
import { VERSION } from "../core/version.ts";
import { shownPath } from "../core/format/path.ts";
import { loadExperiment } from "../experiments/registry.ts";
import { experimentFingerprint } from "./fingerprint.ts";
export { experimentFingerprint } from "./fingerprint.ts";
import { expandTrials, SpecError, type SweepSpec, trialOverrides, validateSpec } from "./spec.ts";
import { sweepIdOf, type SweepRecord } from "./store.ts";

/**
 * Reads a spec file: `.json`, or a module (`.ts`, `.js`, ...) whose default export is the spec.
 *
 * @example
 * ```ts ignore
 * import { loadSpecFile } from "./plan.ts";
 * const spec = await loadSpecFile("sweeps/lr.json"); // or a .ts module with a default export
 * console.log(spec.method, Object.keys(spec.parameters));
 * ```
 */
export async function loadSpecFile(path: string): Promise<SweepSpec> {
  const abs = resolve(path);
  let raw: unknown;
  if (extname(abs) === ".json") {
    let text: string;
    try {
      text = await Deno.readTextFile(abs);
    } catch (err) {
      throw new Error(`Cannot read the sweep spec ${shownPath(abs)}: ${(err as Error).name}`);
    }
    try {
      raw = JSON.parse(text);
    } catch (err) {
      throw new SpecError([`${shownPath(abs)} is not valid JSON (${(err as Error).message})`]);
    }
  } else {
    try {
      raw = (await import(toFileUrl(abs))).default;
    } catch (err) {
      throw new SpecError([`cannot load the module ${shownPath(abs)}: ${(err as Error).message}`]);
    }
  }
  return validateSpec(raw);
}

/**
 * Checks that every parameter and setting exists in the experiment and that every trial's
 * values are valid there; throws a {@linkcode SpecError} naming the fields.
 *
 * @example
 * ```ts ignore
 * import { checkAgainstExperiment } from "./plan.ts";
 * import { validateSpec } from "./spec.ts";
 * import { loadExperiment } from "../experiments/registry.ts";
 * const spec = validateSpec({ parameters: { widht: { values: [8] } }, metric: "val_acc" });
 * checkAgainstExperiment(spec, await loadExperiment("default")); // throws: parameters.widht: unknown parameter
 * ```
 */
export function checkAgainstExperiment(spec: SweepSpec, experiment: Experiment): void {
  const known = [
    ...STANDARD_OPTIONS,
    "data",
    "strictData",
    ...Object.keys(experiment.params ?? {}),
  ];
  const problems: string[] = [];
  const has = `experiment ${experiment.name} has ${known.join(", ")}`;
  for (const k of Object.keys(spec.parameters)) {
    if (!known.includes(k)) problems.push(`parameters.${k}: unknown parameter (${has})`);
  }
  for (const k of Object.keys(spec.settings)) {
    if (!known.includes(k)) problems.push(`settings.${k}: unknown parameter (${has})`);
  }
  if (problems.length > 0) throw new SpecError(problems);
  for (const t of expandTrials(spec)) {
    try {
      resolveOptions(experiment.defaults, trialOverrides(t.settings), experiment.params);
    } catch (err) {
      problems.push(
        `parameters (trial ${t.key}: ${JSON.stringify(t.params)}): ${(err as Error).message}`,
      );
      if (problems.length >= 5) break;
    }
  }
  if (problems.length > 0) throw new SpecError(problems);
}

/**
 * Loads and checks a spec file and builds the sweep record (nothing is written).
 *
 * @example
 * ```ts ignore
 * import { planSweep } from "./plan.ts";
 * import { createSweep } from "./store.ts";
 * const record = await planSweep("spec.json");
 * const dir = await createSweep("sweeps", record);
 * ```
 */
export async function planSweep(specPath: string): Promise<SweepRecord> {
  const spec = await loadSpecFile(specPath);
  const fp = await experimentFingerprint(spec.experiment);
  const experiment = await loadExperiment(fp.source);
  checkAgainstExperiment(spec, experiment);
  const trials = expandTrials(spec);
  return {
    format: 1,
    id: await sweepIdOf(spec, fp.sha256),
    spec,
    experimentSource: fp.source,
    experimentSha256: fp.sha256,
    convdeckVersion: VERSION,
    trials,
    plannedEpochs: trials.map((t) =>
      resolveOptions(experiment.defaults, trialOverrides(t.settings), experiment.params).epochs
    ),
    createdAt: new Date().toISOString(),
  };
}
