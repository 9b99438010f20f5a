/**
 * The sweep's code fingerprint: the experiment source as trials load it and the sha256 of its
 * whole local module graph (`core/experiment/code_identity.ts`), so that a worker whose experiment, or any
 * module it imports, differs from the sweep's is refused.
 *
 * @example
 * ```ts ignore
 * import { experimentFingerprint } from "./fingerprint.ts";
 * const { sha256 } = await experimentFingerprint("./my_experiment.ts");
 * ```
 *
 * @module
 */
import { experimentIdentity, experimentModulePath } from "../experiments/registry.ts";

/**
 * The experiment source as trials load it (a built-in name or an absolute path) and its sha256.
 *
 * @example
 * ```ts ignore
 * import { experimentFingerprint } from "./fingerprint.ts";
 * const { source, sha256 } = await experimentFingerprint("default");
 * console.log(source, sha256.slice(0, 12));
 * ```
 */
export async function experimentFingerprint(
  experiment: string,
): Promise<{ source: string; sha256: string }> {
  try {
    const id = await experimentIdentity(experiment);
    return { source: id.source, sha256: id.sha256! };
  } catch (err) {
    throw new Error(
      `experiment: cannot read ${experimentModulePath(experiment)} (${(err as Error).message})`,
    );
  }
}
