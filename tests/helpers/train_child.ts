/**
 * A training process for the kill tests: trains the tiny experiment into a runs folder (or
 * resumes a run) and reports progress on stdout:
 * `RUN <dir>` once the run directory exists, `BEGIN <epoch>` when an epoch starts (so every
 * earlier epoch is complete: metrics written and resume point saved), `DONE` at the end.
 *
 * Usage: deno run -A tests/helpers/train_child.ts <runsDir> <epochs> [resumeDir]
 *
 * `CHILD_BATCH_MS=N` makes every batch last at least N ms more (a stand-in for a bigger model),
 * so that a kill at a random moment lands while training runs, however fast the backend.
 *
 * @module
 */
import { runExperiment } from "../../core/run_experiment.ts";
import { tinyExperiment } from "./tiny_experiment.ts";

const [runsDir, epochs, resume] = Deno.args;
const batchMs = Number(Deno.env.get("CHILD_BATCH_MS") ?? 0);
const say = (line: string): void =>
  void Deno.stdout.writeSync(new TextEncoder().encode(line + "\n"));
await runExperiment({
  runsDir,
  backend: "wasm",
  threads: 1,
  log: () => {},
  resume,
  overrides: { epochs: Number(epochs) },
  experiment: tinyExperiment(() => [{
    name: "reporter",
    onEpochBegin: (epoch) => say(`BEGIN ${epoch}`),
    onBatchEnd: () => batchMs > 0 ? new Promise((r) => setTimeout(r, batchMs)) : undefined,
  }]),
  onRunCreated: (run) => say(`RUN ${run.dir}`),
});
say("DONE");
