/**
 * How `predict` and `evaluate` refuse a run whose only weights are the untrained starting point
 * (`checkpoints/resume/e0000`, random weights): an error saying the run has no trained weights
 * yet and how to get them (wait for the first epoch, or the resume command that pastes where
 * it is shown); `--allow-untrained` uses them anyway. Private to `cli/`.
 *
 * @module
 */
import { assertTrained, type RunWeights } from "../core/run/checkpoints.ts";
import { readRunInfo } from "../core/run/run_info.ts";
import { resumeNeedsOf } from "../core/run/summary.ts";
import { resumeCommand } from "../core/experiment/resume_command.ts";
import type { RunRef } from "./_run_ref.ts";

/**
 * Throws `UntrainedWeightsError` when `weights` of `run` are the untrained starting point and
 * `allow` (`--allow-untrained`) is not set.
 *
 * @example
 * ```ts ignore
 * import { refuseUntrained } from "./_untrained.ts";
 * await refuseUntrained(predictor.weights, run, args.allowUntrained);
 * ```
 */
export async function refuseUntrained(
  weights: RunWeights,
  run: RunRef,
  allow: boolean,
): Promise<void> {
  if (allow) return;
  let needs;
  try {
    needs = resumeNeedsOf((await readRunInfo(run.dir)).config ?? {});
  } catch {
    needs = undefined; // the command then names no experiment file
  }
  const resume = resumeCommand({ ...needs, runDir: run.dir });
  assertTrained(
    weights,
    `wait until its first epoch ends, or train it (${resume}); ` +
      `--allow-untrained uses these random weights anyway`,
  );
}
