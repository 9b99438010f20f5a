import assert from "node:assert/strict";
import { killLoop, PHASES } from "./helpers/kill_loop.ts";

Deno.test("kill loop: SIGKILLs of the whole process group land in every phase; every resumed run ends with epoch lines exactly 0..N-1 and no completed epoch lost", async () => {
  const report = await killLoop({ runs: 2, seed: 20261201, phaseMs: 40, minPerPhase: 1 });
  console.log(`kill test: ${JSON.stringify(report)}`);
  assert.equal(report.maxLostEpochs, 0);
  assert.equal(report.survivors, 0, "a grandchild outlived its killed parent");
  for (const phase of PHASES) {
    assert.ok(report.perPhase[phase] >= 1, `no kill landed in ${phase}`);
  }
  assert.ok(report.kills >= 12, `only ${report.kills} kills landed`);
});
