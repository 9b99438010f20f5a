/**
 * `deno task soak --faults --minutes N [--seed N] [--only kills,deletes,specials,redis]`: the
 * faults mode (tests/helpers/faults_loop.ts):
 * the kill loop, deletes under a live writer, special files and Redis restarts under a queued
 * sweep, all at once for N minutes; prints what each did and exits non-zero on any failure.
 *
 * `deno task soak [--kills N] [--per-run N] [--seed N] [--phase-ms N]`: the kill-and-resume
 * loop of tests/kill_test.ts, as long as you like (default 200 kills). Runs of a few epochs are
 * killed `--per-run` times each (default 10: every phase, then random early phases), the
 * whole process group each time, at moments aimed at every phase; each run is then finished
 * and checked. Prints the kills per phase, and exits non-zero on any loss.
 *
 * @module
 */
import { parseArgs } from "node:util";
import { killLoop, PHASES } from "./helpers/kill_loop.ts";
import { faultsLoop } from "./helpers/faults_loop.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    kills: { type: "string", default: "200" },
    "per-run": { type: "string", default: "10" },
    seed: { type: "string", default: String(Date.now() % 1e9) },
    "phase-ms": { type: "string", default: "10" },
    quiet: { type: "boolean", default: false },
    faults: { type: "boolean", default: false },
    minutes: { type: "string", default: "10" },
    only: { type: "string" },
  },
});
if (values.faults) {
  const minutes = Number(values.minutes), seed = Number(values.seed);
  if (!(minutes > 0) || !Number.isFinite(seed)) {
    console.error("usage: deno task soak --faults [--minutes N>0] [--seed N]");
    Deno.exit(2);
  }
  console.log(
    `soak --faults: kills, deletes under a live writer, special files and Redis restarts ` +
      `together for ${minutes} min (seed ${seed}) ...`,
  );
  const only = values.only?.split(",") as
    | ("kills" | "deletes" | "specials" | "redis")[]
    | undefined;
  const r = await faultsLoop({
    minutes,
    seed,
    only,
    log: values.quiet ? undefined : (line) => console.log(line),
  });
  console.log(
    `soak --faults: ${r.seconds} s; kills ${r.kills} landed over ${r.killRuns} runs; ` +
      `deletes tried ${r.deletes.tried} (refused ${r.deletes.refused}) over ` +
      `${r.deletes.runs} runs; special-file listings ${r.specialChecks}; Redis restarts ` +
      `${r.redis.restarts}, workers killed ${r.redis.workerKills}, sweeps complete ` +
      `${r.redis.sweeps}; failures ${r.failures.length}`,
  );
  for (const f of r.failures) console.error(`  ${f}`);
  Deno.exit(r.failures.length ? 1 : 0);
}
const kills = Number(values.kills), perRun = Number(values["per-run"]);
const seed = Number(values.seed), phaseMs = Number(values["phase-ms"]);
if (
  !(kills >= 1 && perRun >= PHASES.length && Number.isFinite(seed) && phaseMs >= 0)
) {
  console.error(
    `usage: deno task soak [--kills N>=1] [--per-run N>=${PHASES.length}] [--seed N] ` +
      `[--phase-ms N>=0] [--quiet]`,
  );
  Deno.exit(2);
}
const runs = Math.ceil(kills / perRun);
console.log(
  `soak: ${runs} runs x ${perRun} SIGKILLs aimed at ${PHASES.join(", ")} (seed ${seed}) ...`,
);
try {
  const report = await killLoop({
    runs,
    killsPerRun: perRun,
    seed,
    phaseMs,
    onKill: values.quiet ? undefined : (line) => console.log(line),
  });
  const phases = PHASES.map((p) => `${p} ${report.perPhase[p]}`).join(", ");
  console.log(
    `soak: ${report.kills} kills landed (${report.onTarget} in the phase aimed at, ` +
      `${report.missed} children finished first) over ${report.runs} runs of ` +
      `${report.epochsPerRun} epochs, ${report.processes} processes, ${report.seconds} s.\n` +
      `soak: kills per phase: ${phases}.\n` +
      `soak: completed epochs ever lost: ${report.maxLostEpochs}; grandchildren that ` +
      `outlived a kill: ${report.survivors}; every run ended completed with epoch lines ` +
      `exactly 0..${report.epochsPerRun - 1}.`,
  );
  const empty = PHASES.filter((p) => report.perPhase[p] === 0);
  if (empty.length || report.survivors > 0) {
    console.error(
      `soak FAILED: ${
        empty.length ? `no kill landed in ${empty.join(", ")}` : "a kill left a process alive"
      }`,
    );
    Deno.exit(1);
  }
} catch (err) {
  console.error(`soak FAILED: ${(err as Error).message}`);
  Deno.exit(1);
}
