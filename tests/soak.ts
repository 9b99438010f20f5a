/**
 * `deno task soak [--kills N] [--epochs N] [--seed N]`: the kill-and-resume fault loop of
 * tests/kill_test.ts, as long as you like (default 200 kills over a 4 x kills epoch run). Prints
 * a report and exits non-zero on any loss.
 *
 * @module
 */
import { parseArgs } from "node:util";
import { killLoop } from "./helpers/kill_loop.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    kills: { type: "string", default: "200" },
    epochs: { type: "string" },
    seed: { type: "string", default: String(Date.now() % 1e9) },
  },
});
const kills = Number(values.kills), seed = Number(values.seed);
// Enough training for every kill to land mid-training (each kill costs up to ~3 s of it).
const epochs = values.epochs === undefined ? 4 * kills : Number(values.epochs);
if (!(kills >= 1 && epochs >= 1 && Number.isFinite(seed))) {
  console.error("usage: deno task soak [--kills N>=1] [--epochs N>=1] [--seed N]");
  Deno.exit(2);
}
console.log(`soak: ${kills} SIGKILLs over a ${epochs}-epoch run (seed ${seed}) ...`);
const started = performance.now();
try {
  const report = await killLoop({ kills, epochs, seed, maxDelayMs: 3000 });
  const secs = ((performance.now() - started) / 1000).toFixed(0);
  console.log(
    `soak: survived ${report.liveKills} kills of a live run (${report.kills} in all, ` +
      `${report.processes} processes, ${secs} s); completed epochs ever lost: ` +
      `${report.maxLostEpochs}; the run finished all ${report.epochs} epochs.`,
  );
} catch (err) {
  console.error(`soak FAILED: ${(err as Error).message}`);
  Deno.exit(1);
}
