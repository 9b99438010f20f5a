// The tracking client's log() rate, shared by the Deno and the Node side of
// `deno task bench --only track`: `runLogBench(init, runsDir, seconds)` logs records of 10
// metrics for about `seconds`, yielding to the event loop every 1,000 calls (as a training
// loop does when it awaits), then finishes the run (everything on disk) and returns
// { calls, seconds, callsPerS, bytesPerS, bytes, loopCallsPerS }.
// Run by node as `node tests/bench/track_log.mjs RUNS_DIR SECONDS` (after build-node).
import { stat } from "node:fs/promises";
import { join } from "node:path";
import { setImmediate } from "node:timers";

/** Logs for about `seconds` and reports the rates. */
export async function runLogBench(init, runsDir, seconds) {
  const run = await init({
    runs: runsDir,
    name: "bench-log",
    config: { metrics: 10 },
    handleExit: false,
  });
  const names = Array.from({ length: 10 }, (_, i) => `m${i}`);
  const rec = {};
  let calls = 0;
  let inLoop = 0;
  const t0 = performance.now();
  const until = t0 + seconds * 1000;
  while (performance.now() < until) {
    const s = performance.now();
    for (let i = 0; i < 1000; i++) {
      for (let k = 0; k < 10; k++) rec[names[k]] = Math.sin(calls + k) * 0.5 + 0.5;
      run.log(rec);
      calls++;
    }
    inLoop += performance.now() - s;
    await new Promise((r) => setImmediate(r)); // lets the background writes run
  }
  await run.finish();
  const elapsed = (performance.now() - t0) / 1000;
  const bytes = (await stat(join(run.dir, "metrics.jsonl"))).size;
  return {
    calls,
    seconds: elapsed,
    callsPerS: calls / elapsed,
    loopCallsPerS: calls / (inLoop / 1000),
    bytes,
    bytesPerS: bytes / elapsed,
  };
}

if (typeof Deno === "undefined" && process.argv[1]?.endsWith("track_log.mjs")) {
  const { init } = await import("../../dist/node/index.js");
  const r = await runLogBench(init, process.argv[2], Number(process.argv[3] ?? 3));
  console.log(JSON.stringify({ runtime: `node ${process.versions.node}`, ...r }));
}
