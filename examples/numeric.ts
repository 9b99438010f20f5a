/**
 * Tracking a loop that is not tfjs at all: gradient descent on the Rosenbrock function, only
 * numbers logged. `deno run --allow-read --allow-write --allow-sys=hostname examples/numeric.ts`
 * (the tracking client reads and writes the runs folder; the run's heartbeat names the host).
 *
 * @module
 */
import { parseArgs } from "node:util";
import { init } from "../track/mod.ts";

const { values } = parseArgs({
  options: {
    runs: { type: "string", default: "runs" },
    resume: { type: "string" },
    steps: { type: "string", default: "2000" },
    "sleep-ms": { type: "string", default: "0" },
  },
});
const config = { lr: 0.001, start: { x: -1.5, y: 2 }, optimizer: { name: "momentum", beta: 0.9 } };
const run = await init({
  runs: values.runs,
  name: "rosenbrock",
  tags: ["numeric"],
  config,
  metrics: { distance: "min" },
  resume: values.resume,
});
console.log(`run ${run.id} (step ${run.step})`);
let [x, y, vx, vy] = [config.start.x, config.start.y, 0, 0];
const sleepMs = Number(values["sleep-ms"]);
for (let i = run.step; i < Number(values.steps); i++) {
  const f = (1 - x) ** 2 + 100 * (y - x * x) ** 2;
  const gx = -2 * (1 - x) - 400 * x * (y - x * x);
  const gy = 200 * (y - x * x);
  vx = config.optimizer.beta * vx - config.lr * gx;
  vy = config.optimizer.beta * vy - config.lr * gy;
  [x, y] = [x + vx, y + vy];
  run.log({ loss: f, x, y, distance: Math.hypot(1 - x, 1 - y) });
  if ((i + 1) % 500 === 0) run.log({ val_loss: f }, { epoch: run.epoch });
  if (sleepMs > 0) await new Promise((r) => setTimeout(r, sleepMs));
}
await run.finish();
console.log(`finished at x=${x.toFixed(4)} y=${y.toFixed(4)}`);
