/**
 * Checks shared by the sweep tests: every trial of a finished sweep has exactly one run, whose
 * epoch records are complete (each epoch once, none missing) and whose status agrees with the
 * sweep folder.
 *
 * @module
 */
import assert from "node:assert/strict";
import { listRuns, readEvents, readMetrics } from "../../core/run/reader.ts";
import { readSweep, readTrialStates, type TrialState } from "../../sweep/store.ts";
import { sweepTag } from "../../sweep/trial.ts";

/** Runs a CLI entry point in `cwd`, returning the exit code and the output. */
export async function runCli(
  script: string,
  args: string[],
  cwd: string,
): Promise<{ code: number; out: string; err: string }> {
  const r = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", script, ...args],
    cwd,
    stdout: "piped",
    stderr: "piped",
  }).output();
  const dec = new TextDecoder();
  return { code: r.code, out: dec.decode(r.stdout), err: dec.decode(r.stderr) };
}

/** Epoch numbers of a run's epoch records, in file order. */
export async function epochRecords(runDir: string): Promise<number[]> {
  const { records } = await readMetrics(runDir);
  return records.filter((r) => r.batch === undefined).map((r) => r.epoch);
}

/** Asserts the sweep finished with one complete run per trial; returns the trial states. */
export async function assertSweepComplete(
  sweepDir: string,
  runsDir: string,
): Promise<{ states: TrialState[]; resumedRuns: number }> {
  const { dir, record } = await readSweep(sweepDir);
  const states = await readTrialStates(dir, record);
  const byTrial = new Map<string, string[]>();
  for (const r of await listRuns(runsDir)) {
    const tag = sweepTag(r.info);
    if (tag?.id !== record.id) continue;
    byTrial.set(tag.trial, [...(byTrial.get(tag.trial) ?? []), r.dir]);
  }
  let resumedRuns = 0;
  for (const s of states) {
    assert.ok(["completed", "pruned"].includes(s.status), `${s.key}: ${JSON.stringify(s)}`);
    const runs = byTrial.get(s.key) ?? [];
    assert.equal(runs.length, 1, `trial ${s.key} has ${runs.length} runs (run twice?)`);
    assert.equal(runs[0], s.runDir);
    const epochs = await epochRecords(runs[0]);
    const planned = record.plannedEpochs[s.index];
    assert.deepEqual(epochs, Array.from({ length: epochs.length }, (_, i) => i), s.key);
    assert.equal(epochs.length, s.epochs);
    if (s.status === "completed") assert.equal(epochs.length, planned, s.key);
    else {
      assert.ok(epochs.length < planned, `${s.key} pruned after ${epochs.length}`);
      assert.match(s.reason ?? "", /^pruned: /);
    }
    const { records: events } = await readEvents(runs[0]);
    if (events.some((e) => e.type === "resumed")) resumedRuns++;
  }
  return { states, resumedRuns };
}
