// Tracking from Node 20+: `deno task build-node`, then `node examples/node_tracking.mjs --runs runs`.
// In your own project: `npm install /path/to/convdeck/dist/node` and
// `import { init } from "convdeck-track";`.
import { parseArgs } from "node:util";
import { init } from "../dist/node/index.js";

const { values } = parseArgs({
  options: {
    runs: { type: "string", default: "runs" },
    resume: { type: "string" },
    steps: { type: "string", default: "300" },
    "sleep-ms": { type: "string", default: "0" },
  },
});
const config = { lr: 0.05, hidden: 48, data: { augment: true, source: "node" } };
const run = await init({
  runs: values.runs,
  name: "node-sgd",
  tags: ["node"],
  config,
  metrics: { wer: "min" },
  resume: values.resume,
});
console.log(`run ${run.id} (step ${run.step})`);
// A noisy exponential decay stands in for a model's loss.
let seed = 42;
const rand = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
const sleepMs = Number(values["sleep-ms"]);
for (let step = run.step + 1; step <= Number(values.steps); step++) {
  const loss = Math.exp(-config.lr * step / 10) + 0.01 * rand();
  run.log({ loss, wer: loss / 2 });
  if (step % 100 === 0) {
    run.log({ val_loss: loss * 1.1, val_wer: loss / 1.8 }, { epoch: run.epoch });
  }
  if (sleepMs > 0) await new Promise((r) => setTimeout(r, sleepMs));
}
await run.finish();
console.log(`finished ${run.id} at step ${run.step}`);
