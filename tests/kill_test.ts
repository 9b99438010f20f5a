import assert from "node:assert/strict";
import { killLoop } from "./helpers/kill_loop.ts";

Deno.test("SIGKILL at 24 random moments: directory always readable, no completed epoch lost", async () => {
  const report = await killLoop({ kills: 24, epochs: 12, seed: 20261129 });
  console.log(`kill test: ${JSON.stringify(report)}`);
  assert.equal(report.maxLostEpochs, 0);
  assert(report.killsWithRun >= 20, `only ${report.killsWithRun} kills hit a live run`);
});
