/**
 * `deno task soak [--kills N] [--epochs N] [--seed N]`: the kill-and-resume fault loop of
 * tests/kill_test.ts, as long as you like. Prints a report and exits non-zero on any loss.
 *
 * @module
 */
import { parseArgs } from "node:util";
import { killLoop } from "./helpers/kill_loop.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    kills: { type: "string", default: "200" },
    epochs: { type: "string", default: "40" },
    seed: { type: "string", default: String(Date.now() % 1e9) },
  },
});
const kills = Number(values.kills), epochs = Number(values.epochs), seed = Number(values.seed);
if (!(kills >= 1 && epochs >= 1 && Number.isFinite(seed))) {
  console.error("usage: deno task soak [--kills N>=1] [--epochs N>=1] [--seed N]");
  Deno.exit(2);
}
console.log(`soak: ${kills} SIGKILLs over a ${epochs}-epoch run (seed ${seed}) ...`);
const started = performance.now();
try {
  const report = await killLoop({ kills, epochs, seed, maxDelayMs: 4000 });
  const secs = ((performance.now() - started) / 1000).toFixed(0);
  console.log(
    `soak: survived ${report.killsWithRun} kills of a live run (${report.kills} in all, ` +
      `${report.processes} processes, ${secs} s); completed epochs ever lost: ` +
      `${report.maxLostEpochs}; the run finished all ${report.epochs} epochs.`,
  );
} catch (err) {
  console.error(`soak FAILED: ${(err as Error).message}`);
  Deno.exit(1);
}
