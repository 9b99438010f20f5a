/**
 * The kill-and-resume loop shared by the kill test and `deno task soak`: starts training
 * subprocesses, SIGKILLs them at random moments, and after every kill checks that the run
 * directory parses, that no completed epoch was lost, and finally that resume reaches the end.
 *
 * @module
 */
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { mulberry32 } from "../../core/random.ts";
import { listResumePoints } from "../../core/run/checkpoints.ts";

const CHILD = fileURLToPath(new URL("./train_child.ts", import.meta.url));

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** What the loop observed. */
export interface KillReport {
  kills: number;
  /** Kills that landed while training ran (the run directory existed, training unfinished). */
  liveKills: number;
  /** Most completed epochs ever missing from the resume point after a kill (must be 0). */
  maxLostEpochs: number;
  /** Epochs trained in total. */
  epochs: number;
  /** Runs needed to finish (kills + the final one). */
  processes: number;
}

interface Child {
  proc: Deno.ChildProcess;
  lines: string[];
  done: Promise<void>;
}

function start(args: string[], batchMs: number): Child {
  const proc = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", CHILD, ...args],
    env: { CHILD_BATCH_MS: String(batchMs) },
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const lines: string[] = [];
  const done = (async () => {
    let buf = "";
    for await (const chunk of proc.stdout.pipeThrough(new TextDecoderStream())) {
      buf += chunk;
      const parts = buf.split("\n");
      buf = parts.pop()!;
      lines.push(...parts);
    }
  })();
  proc.stderr.cancel().catch(() => {});
  return { proc, lines, done };
}

/** Checks that every file of the run parses (a torn last metrics line is allowed). */
export async function checkRunReadable(dir: string): Promise<void> {
  const info = JSON.parse(await Deno.readTextFile(join(dir, "run.json")));
  if (typeof info.id !== "string") throw new Error(`${dir}/run.json has no id`);
  for (const name of ["metrics.jsonl", "events.jsonl"]) {
    let text = "";
    try {
      text = await Deno.readTextFile(join(dir, name));
    } catch (err) {
      if (err instanceof Deno.errors.NotFound) continue;
      throw err;
    }
    const lines = text.split("\n");
    const last = lines.pop()!; // "" when the file ends with a newline, else a torn line
    for (const l of lines) JSON.parse(l); // every whole line must parse
    if (last !== "") {
      try {
        JSON.parse(last);
      } catch {
        // a torn last line: readers skip it, resume rewrites it away
      }
    }
  }
}

/**
 * Kills training `kills` times at random moments, then lets it finish. Throws on any lost
 * epoch or unreadable directory.
 */
export async function killLoop(
  options: {
    kills: number;
    epochs: number;
    seed: number;
    maxDelayMs?: number;
    /** Extra milliseconds per batch in the children (default 100). */
    batchMs?: number;
  },
): Promise<KillReport> {
  const runsDir = await Deno.makeTempDir({ prefix: "convdeck-kill-" });
  const rand = mulberry32(options.seed);
  let runDir: string | undefined;
  let maxLost = 0, liveKills = 0, processes = 0;
  const batchMs = options.batchMs ?? 100;
  for (let k = 0; k < options.kills; k++) {
    const child = start([runsDir, String(options.epochs), ...(runDir ? [runDir] : [])], batchMs);
    processes++;
    const maxDelay = options.maxDelayMs ?? 1500;
    if (k % 4 === 0) {
      // Any moment from start-up on: process start, run creation, first epochs.
      await sleep(200 + rand() * maxDelay);
    } else {
      // A random moment of training: after the run directory exists.
      const t0 = Date.now();
      while (!child.lines.some((l) => l.startsWith("RUN ")) && Date.now() - t0 < 60_000) {
        await sleep(10);
      }
      await sleep(rand() * maxDelay);
    }
    try {
      child.proc.kill("SIGKILL");
    } catch {
      // already exited
    }
    await child.proc.status;
    await child.done;
    const runLine = child.lines.find((l) => l.startsWith("RUN "));
    runDir ??= runLine?.slice(4);
    if (!runDir) continue; // killed before the run directory existed
    if (runLine && !child.lines.includes("DONE")) liveKills++;
    await checkRunReadable(runDir);
    const begun = child.lines.filter((l) => l.startsWith("BEGIN ")).map((l) => Number(l.slice(6)));
    const completed = child.lines.includes("DONE") ? options.epochs : Math.max(0, ...begun);
    const points = await listResumePoints(runDir);
    const m = points[0] ? /\/e(\d+)(?:-b\d+)?$/.exec(points[0]) : null;
    const saved = m ? Number(m[1]) : 0;
    const metricsText = await Deno.readTextFile(join(runDir, "metrics.jsonl")).catch(() => "");
    const epochsInMetrics = new Set(
      metricsText.split("\n").flatMap((l) => {
        try {
          const r = JSON.parse(l);
          return r.batch === undefined ? [r.epoch] : [];
        } catch {
          return [];
        }
      }),
    );
    for (let e = 0; e < completed; e++) {
      if (!epochsInMetrics.has(e)) {
        throw new Error(`kill ${k}: epoch ${e} was completed but is missing from metrics.jsonl`);
      }
    }
    maxLost = Math.max(maxLost, completed - saved);
    if (completed > saved) {
      throw new Error(
        `kill ${k}: ${completed} epochs completed but the resume point has ${saved} ` +
          `(points by save time: ${points.map((p) => p.split("/").pop()).join(", ")}; ` +
          `child output: ${child.lines.join(" | ")})`,
      );
    }
  }
  // Finish.
  const final = start([runsDir, String(options.epochs), ...(runDir ? [runDir] : [])], 0);
  processes++;
  const status = await final.proc.status;
  await final.done;
  if (!status.success || !final.lines.includes("DONE")) {
    throw new Error(`the final resume did not finish (exit ${status.code})`);
  }
  runDir ??= final.lines.find((l) => l.startsWith("RUN "))!.slice(4);
  await checkRunReadable(runDir);
  const info = JSON.parse(await Deno.readTextFile(join(runDir, "run.json")));
  if (info.status !== "completed") throw new Error(`final status ${info.status}`);
  const recs = (await Deno.readTextFile(join(runDir, "metrics.jsonl"))).trim().split("\n")
    .map((l) => JSON.parse(l)).filter((r) => r.batch === undefined).map((r) => r.epoch);
  const expected = Array.from({ length: options.epochs }, (_, i) => i);
  if (JSON.stringify(recs) !== JSON.stringify(expected)) {
    throw new Error(`final metrics epochs ${JSON.stringify(recs)} != ${JSON.stringify(expected)}`);
  }
  await Deno.remove(runsDir, { recursive: true });
  return {
    kills: options.kills,
    liveKills,
    maxLostEpochs: maxLost,
    epochs: options.epochs,
    processes,
  };
}
