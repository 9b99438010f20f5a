import assert from "node:assert/strict";
import { killLoop } from "./helpers/kill_loop.ts";

Deno.test("SIGKILL at 28 random moments (at least 20 mid-training): directory always readable, no completed epoch lost", async () => {
  const report = await killLoop({ kills: 28, epochs: 60, seed: 20261129 });
  console.log(`kill test: ${JSON.stringify(report)}`);
  assert.equal(report.maxLostEpochs, 0);
  assert(report.liveKills >= 20, `only ${report.liveKills} kills hit a live run`);
});
