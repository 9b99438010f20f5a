/**
 * A sweep folder and its runs for the dashboard tests: 3 trials of width (4, 8, 16) with a
 * text parameter, t000 completed (6 epochs), t001 pruned after 2, t002 pending; plus a run
 * that belongs to no sweep. `root/sweeps` and `root/runs`.
 *
 * @module
 */
import { join } from "node:path";
import { expandTrials, validateSpec } from "../../sweep/spec.ts";
import { createSweep, type SweepRecord, writeTrialState } from "../../sweep/store.ts";
import { writeFakeRun } from "./fake_run.ts";

/** Writes the fake sweep under `root`; returns its id. */
export async function writeFakeSweep(root: string, note = "plain"): Promise<string> {
  const spec = validateSpec({
    name: "s",
    parameters: { width: { values: [4, 8, 16] }, note: { values: [note] } },
    metric: "val_acc",
    pruner: { type: "median" },
  });
  const record: SweepRecord = {
    format: 1,
    id: "s-0123abcd",
    spec,
    experimentSource: "default",
    experimentSha256: "0".repeat(64),
    convdeckVersion: "0.1.0",
    trials: expandTrials(spec),
    plannedEpochs: [6, 6, 6],
    createdAt: new Date().toISOString(),
  };
  const dir = await createSweep(join(root, "sweeps"), record);
  const runs = join(root, "runs");
  const tag = (trial: string) => ({ sweep: { id: record.id, trial } });
  const a = await writeFakeRun(runs, { id: "run-a", epochs: 6, config: tag("t000") });
  const b = await writeFakeRun(runs, {
    id: "run-b",
    epochs: 2,
    status: "pruned",
    config: tag("t001"),
  });
  await writeFakeRun(runs, { id: "other", epochs: 2 });
  const now = new Date().toISOString();
  const base = { attempts: 1, updatedAt: now };
  await writeTrialState(dir, {
    ...base,
    key: "t000",
    index: 0,
    status: "completed",
    params: { width: 4, note },
    runDir: a,
    value: 0.9,
    epochs: 6,
  });
  await writeTrialState(dir, {
    ...base,
    key: "t001",
    index: 1,
    status: "pruned",
    params: { width: 8, note },
    runDir: b,
    value: 0.5,
    epochs: 2,
    reason: "pruned: val_acc best 0.5 ... (median rule)",
  });
  return record.id;
}
