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
import { choiceFlag, intFlag, numberFlag, parseFlagsOrExit } from "../core/flags.ts";
import { killLoop, PHASES } from "./helpers/kill_loop.ts";
import { faultsLoop } from "./helpers/faults_loop.ts";

const HELP = `Usage: deno task soak [--kills N] [--per-run N] [--seed N] [--phase-ms N] [--quiet]
       deno task soak --faults [--minutes N] [--only kills,deletes,specials,redis] [--seed N]

The kill-and-resume loop of tests/kill_test.ts, as long as you like.
  --kills N      SIGKILLs in all (>= 1)                                   [default: 200]
  --per-run N    kills per run (>= ${PHASES.length}: every phase, then random early ones)   [default: 10]
  --seed N       seed of the kill moments                                [default: random]
  --phase-ms N   how long each phase is aimed at (>= 0)                  [default: 10]
  --quiet        no line per kill
With --faults: the kill loop, deletes under a live writer, special files in the runs folder
and Redis restarts under a queued sweep, together, for --minutes N (default 10); --only runs
some of them.
Exit status: 0 clean, 1 a loss or a survivor, 2 bad flags.`;

const FAULT_LOOPS = ["kills", "deletes", "specials", "redis"] as const;

const { kills, perRun, seed, phaseMs, minutes, only, values } = parseFlagsOrExit(
  Deno.args,
  HELP,
  {
    kills: { type: "string" },
    "per-run": { type: "string" },
    seed: { type: "string" },
    "phase-ms": { type: "string" },
    quiet: { type: "boolean" },
    faults: { type: "boolean" },
    minutes: { type: "string" },
    only: { type: "string" },
    help: { type: "boolean", short: "h" },
  },
  {
    check: ({ values }) => ({
      values,
      kills: intFlag("--kills", values.kills, { min: 1 }) ?? 200,
      perRun: intFlag("--per-run", values["per-run"], { min: PHASES.length }) ?? 10,
      seed: intFlag("--seed", values.seed, { min: 0 }) ?? Date.now() % 1e9,
      phaseMs: numberFlag("--phase-ms", values["phase-ms"], { min: 0 }) ?? 10,
      minutes: numberFlag("--minutes", values.minutes, { min: 0, exclusiveMin: true }) ?? 10,
      only: values.only?.split(",").map((o) => choiceFlag("--only", o.trim(), FAULT_LOOPS)!),
    }),
  },
);
if (values.faults) {
  console.log(
    `soak --faults: kills, deletes under a live writer, special files and Redis restarts ` +
      `together for ${minutes} min (seed ${seed}) ...`,
  );
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
