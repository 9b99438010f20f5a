/**
 * `deno task bench --only track`: the tracking client's `log()` of 10 metrics, calls/s and
 * bytes/s sustained with the background flush (the run finished, everything on disk), in
 * Deno (in process) and in Node (a `node` child on the `deno task build-node` bundle).
 * Goal: at least 100,000 calls/s.
 *
 * @module
 */
import { join } from "node:path";
import { init } from "../../track/mod.ts";
// @ts-types="./track_log.d.mts"
import { runLogBench } from "./track_log.mjs";

interface LogBenchResult {
  runtime: string;
  calls: number;
  seconds: number;
  callsPerS: number;
  loopCallsPerS: number;
  bytes: number;
  bytesPerS: number;
}

function line(r: LogBenchResult): string {
  const k = (n: number) => `${Math.round(n / 1000).toLocaleString("en")}k`;
  return `  ${r.runtime.padEnd(12)} ${k(r.callsPerS).padStart(6)} calls/s sustained ` +
    `(${k(r.loopCallsPerS)} calls/s inside the loop), ${
      (r.bytesPerS / 2 ** 20).toFixed(1)
    } MiB/s, ` +
    `${r.calls.toLocaleString("en")} records in ${r.seconds.toFixed(1)} s ` +
    `${r.callsPerS >= 100_000 ? "(goal 100k: met)" : "(goal 100k: NOT met)"}`;
}

/** Runs the section and prints one line per runtime. */
export async function benchTrackLog(seconds = 3): Promise<LogBenchResult[]> {
  const load = Deno.loadavg().map((l) => l.toFixed(2)).join(" ");
  console.log(`track: log() of 10 metrics for ${seconds} s per runtime (load ${load})`);
  const dir = await Deno.makeTempDir({ prefix: "convdeck-bench-track-" });
  const out: LogBenchResult[] = [];
  try {
    const deno = {
      runtime: `deno ${Deno.version.deno}`,
      ...(await runLogBench(init, dir, seconds)),
    };
    out.push(deno);
    console.log(line(deno));
    const build = await new Deno.Command(Deno.execPath(), {
      args: ["task", "-q", "build-node"],
      stdout: "null",
      stderr: "piped",
    }).output();
    if (!build.success) throw new Error(new TextDecoder().decode(build.stderr));
    const node = await new Deno.Command("node", {
      args: [join("tests", "bench", "track_log.mjs"), dir, String(seconds)],
      stdout: "piped",
      stderr: "piped",
    }).output().catch((err) => ({
      success: false,
      stdout: new Uint8Array(),
      stderr: new TextEncoder().encode(String(err)),
    }));
    if (!node.success) {
      console.log(
        `  node: not measured (${new TextDecoder().decode(node.stderr).trim().slice(0, 200)})`,
      );
    } else {
      const r = JSON.parse(new TextDecoder().decode(node.stdout)) as LogBenchResult;
      out.push(r);
      console.log(line(r));
    }
  } finally {
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
  return out;
}

if (import.meta.main) await benchTrackLog();
