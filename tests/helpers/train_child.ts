/**
 * A training process for the kill tests: trains the tiny experiment (with the `Visualize`
 * callback and a test split, so every phase of a real run happens) into a runs folder, or
 * resumes a run, and reports on stdout where it is:
 *
 * - `PHASE <name> [epoch]` when a phase begins; the last one a killed child printed is the
 *   phase the kill landed in: `startup` (process start, backend, data, run creation or resume,
 *   the initial resume point), `training <e>` (batches), `validation <e>` (the val split),
 *   `visualisation <e>` (the Visualize callback), `epoch-end <e>` (the epoch's metrics line and
 *   resume point), `final-writes` (onTrainEnd, train_end, run.json), `evaluation` (the test
 *   split, evaluation.json, the test accuracy in run.json, the lock's release);
 * - `RUN <dir>` once the run directory exists, `BEGIN <epoch>` when an epoch starts (so every
 *   earlier epoch is complete: metrics written and resume point saved), `DONE` at the end;
 * - `GRANDCHILD <pid>` with `CHILD_GRANDCHILD=1`: a `sleep` child of its own, so a test can
 *   check that a kill took the whole process group.
 *
 * Usage: deno run -A tests/helpers/train_child.ts <runsDir> <epochs> [resumeDir]
 *
 * Delays (ms, default 0) stand in for a bigger model, so that a kill aimed at a phase lands in
 * it however fast the backend: `CHILD_BATCH_MS` after every training batch, `CHILD_VAL_MS`
 * before every validation batch, `CHILD_TEST_MS` before every test batch, `CHILD_PHASE_MS` at
 * the start of visualisation, epoch-end and final writes (before their real work).
 *
 * @module
 */
import { runExperiment } from "../../core/experiment/run_experiment.ts";
import type { Dataset, Split } from "../../core/data/dataset.ts";
import { Visualize } from "../../callbacks/visualize.ts";
import { tinyExperiment } from "./tiny_experiment.ts";

const say = (line: string): void =>
  void Deno.stdout.writeSync(new TextEncoder().encode(line + "\n"));
say("PHASE startup");

const [runsDir, epochs, resume] = Deno.args;
const ms = (name: string) => Number(Deno.env.get(name) ?? 0);
const batchMs = ms("CHILD_BATCH_MS"), valMs = ms("CHILD_VAL_MS"), testMs = ms("CHILD_TEST_MS");
const phaseMs = ms("CHILD_PHASE_MS");
const sleep = (t: number): Promise<void> | undefined =>
  t > 0 ? new Promise<void>((r) => setTimeout(r, t)) : undefined;

if (Deno.env.get("CHILD_GRANDCHILD") === "1") {
  const grandchild = new Deno.Command("sleep", { args: ["600"], stdout: "null", stderr: "null" })
    .spawn();
  grandchild.unref();
  say(`GRANDCHILD ${grandchild.pid}`);
}

let phase = "startup";
let epoch = -1;
const enter = (name: string, e?: number) => {
  phase = name;
  say(e === undefined ? `PHASE ${name}` : `PHASE ${name} ${e}`);
};

/** `split` announcing the phase `name` at its first batch after `after`, each batch delayed. */
function watched(split: Split, name: string, after: string, delay: number): Split {
  return {
    size: split.size,
    labels: () => split.labels(),
    async batch(indices, options) {
      if (phase === after) enter(name, name === "validation" ? epoch : undefined);
      if (phase === name) await sleep(delay);
      return split.batch(indices, options);
    },
  };
}

const experiment = tinyExperiment(() => [
  {
    name: "reporter",
    onEpochBegin: (e) => {
      epoch = e;
      say(`BEGIN ${e}`);
      enter("training", e);
    },
    onBatchEnd: () => sleep(batchMs),
    onEpochEnd: (e) => {
      enter("visualisation", e);
      return sleep(phaseMs);
    },
  },
  new Visualize({ every: 1, count: 2 }),
  {
    name: "phases",
    onEpochEnd: (e) => {
      enter("epoch-end", e);
      return sleep(phaseMs);
    },
    onTrainEnd: () => {
      enter("final-writes");
      return sleep(phaseMs);
    },
  },
]);
const makeDataset = experiment.dataset;
experiment.dataset = async (options) => {
  const ds = await makeDataset(options);
  const val = ds.val && watched(ds.val, "validation", "training", valMs);
  const test = ds.test && watched(ds.test, "evaluation", "final-writes", testMs);
  return new Proxy(ds, {
    get(target, prop) {
      if (prop === "val") return val;
      if (prop === "test") return test;
      const v = Reflect.get(target, prop, target);
      return typeof v === "function" ? v.bind(target) : v;
    },
  }) as Dataset;
};

await runExperiment({
  runsDir,
  backend: "wasm",
  threads: 1,
  log: () => {},
  resume,
  overrides: { epochs: Number(epochs) },
  experiment,
  onRunCreated: (run) => say(`RUN ${run.dir}`),
});
say("DONE");
