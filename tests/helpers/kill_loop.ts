/**
 * The kill-and-resume loop shared by the kill test and `deno task soak`: trains runs in child
 * processes (tests/helpers/train_child.ts) and SIGKILLs each child's whole process group at a
 * moment aimed at one phase of a run (start-up, training, validation, visualisation, the
 * epoch's writes, the final writes, evaluation), then resumes it, until every run is finished.
 *
 * Aiming: the child prints `PHASE <name>` as each phase begins; the loop waits for the target
 * phase and kills after a random part of that phase's typical length (learned from the
 * children's own markers). Where the kill landed is the last phase the killed child printed,
 * so the per-phase figures count real landings, not intentions.
 *
 * Checked after every kill: the run folder parses; the newest resume point holds every epoch
 * the child completed; the kill took the child's own child too (process group). Checked at
 * the end of every run: it finished `completed`, metrics.jsonl has epoch lines exactly
 * 0..N-1, and every epoch completed before a kill kept its metrics line byte for byte (never
 * trained again), and evaluation.json exists.
 *
 * @module
 */
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { mulberry32 } from "../../core/random.ts";
import { listResumePoints } from "../../core/run/checkpoints.ts";

const CHILD = fileURLToPath(new URL("./train_child.ts", import.meta.url));

/** The phases a kill is aimed at, in the order a run goes through them. */
export const PHASES = [
  "startup",
  "training",
  "validation",
  "visualisation",
  "epoch-end",
  "final-writes",
  "evaluation",
] as const;

/** One of {@link PHASES}. */
export type Phase = typeof PHASES[number];

/** What the loop observed. */
export interface KillReport {
  /** Kills that landed (the child was alive when killed). */
  kills: number;
  /** Kills per phase they landed in. */
  perPhase: Record<Phase, number>;
  /** Kills aimed at a phase that landed in it. */
  onTarget: number;
  /** Children that finished before their kill (the aimed phase never came). */
  missed: number;
  /** Runs trained to the end. */
  runs: number;
  /** Epochs per run. */
  epochsPerRun: number;
  /** Child processes started (kills, misses and the finishing ones). */
  processes: number;
  /** Most completed epochs ever missing from the resume point after a kill (must be 0). */
  maxLostEpochs: number;
  /** Grandchildren alive after their parent's group was killed (must be 0). */
  survivors: number;
  /** Wall time in seconds. */
  seconds: number;
}

/** Options of {@link killLoop}. */
export interface KillLoopOptions {
  /** Runs to train to the end. */
  runs: number;
  /** Kills per run (at least 7: one per phase; more go to random early phases). */
  killsPerRun?: number;
  /** Seed of the moments chosen. */
  seed: number;
  /** Extra ms per training batch in the children (default 60). */
  batchMs?: number;
  /** Extra ms per validation and test batch (default 150). */
  splitMs?: number;
  /** Extra ms at the start of visualisation, epoch-end and final writes (default 0). */
  phaseMs?: number;
  /**
   * After the planned runs, up to 3 more runs aimed at the phases that got fewer landings than
   * this (default 0: none).
   */
  minPerPhase?: number;
  /** Called after each kill with a one-line description (progress). */
  onKill?: (line: string) => void;
}

interface Child {
  proc: Deno.ChildProcess;
  /** When it was spawned (ms, performance.now()). */
  spawned: number;
  /** Lines and when they arrived (ms, performance.now()). */
  lines: { text: string; at: number }[];
  /** Resolves when stdout ends. */
  done: Promise<void>;
  /** Resolves at the first line matching `re` (or undefined when the child ends first). */
  waitFor(re: RegExp, timeoutMs: number): Promise<{ text: string; at: number } | undefined>;
}

function start(args: string[], env: Record<string, string>): Child {
  const spawned = performance.now();
  const proc = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", CHILD, ...args],
    env,
    stdout: "piped",
    stderr: "piped",
    detached: true, // its own process group: a kill takes the whole tree
  }).spawn();
  const lines: Child["lines"] = [];
  let wake: () => void = () => {};
  let ended = false;
  const done = (async () => {
    let buf = "";
    for await (const chunk of proc.stdout.pipeThrough(new TextDecoderStream())) {
      buf += chunk;
      const parts = buf.split("\n");
      buf = parts.pop()!;
      const at = performance.now();
      for (const text of parts) lines.push({ text, at });
      wake();
    }
    ended = true;
    wake();
  })();
  proc.stderr.cancel().catch(() => {});
  const waitFor: Child["waitFor"] = async (re, timeoutMs) => {
    const deadline = performance.now() + timeoutMs;
    for (let seen = 0;;) {
      for (; seen < lines.length; seen++) if (re.test(lines[seen].text)) return lines[seen];
      if (ended || performance.now() > deadline) return undefined;
      await new Promise<void>((r) => {
        wake = r;
        setTimeout(r, 50);
      });
    }
  };
  return { proc, spawned, lines, done, waitFor };
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
    lines.pop(); // "" when the file ends with a newline, else a torn line (readers skip it)
    for (const l of lines) JSON.parse(l); // every whole line must parse
  }
}

/** The epoch lines of a run's metrics.jsonl (whole lines only), in file order. */
async function epochLines(dir: string): Promise<{ epoch: number; line: string }[]> {
  const text = await Deno.readTextFile(join(dir, "metrics.jsonl")).catch(() => "");
  const lines = text.split("\n");
  lines.pop();
  return lines.flatMap((line) => {
    const r = JSON.parse(line);
    return r.batch === undefined ? [{ epoch: r.epoch as number, line }] : [];
  });
}

function alive(pid: number): boolean {
  try {
    const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
    return !/^\d+ \(.*\) Z/.test(stat);
  } catch {
    return false;
  }
}

/** SIGKILLs what is left of a child's process group (its grandchild), if anything. */
function killGroup(pid: number): void {
  try {
    Deno.kill(-pid, "SIGKILL");
  } catch {
    // nothing left
  }
}

/** The phase a child was in when it stopped: the last `PHASE` it printed. */
function lastPhase(child: Child): Phase {
  const last = child.lines.findLast((l) => l.text.startsWith("PHASE "));
  return (last?.text.split(" ")[1] ?? "startup") as Phase;
}

/**
 * Trains `runs` runs, killing each `killsPerRun` times at moments aimed at every phase, and
 * checks what the module doc says. Throws on any lost epoch, unreadable folder, surviving
 * grandchild or wrong final metrics.
 */
export async function killLoop(options: KillLoopOptions): Promise<KillReport> {
  const t0 = performance.now();
  const rand = mulberry32(options.seed);
  const killsPerRun = Math.max(PHASES.length, options.killsPerRun ?? PHASES.length);
  const early = killsPerRun - 2; // kills before the final writes and evaluation
  const epochs = early + 2; // each early kill costs at most one epoch of progress
  const env = {
    CHILD_BATCH_MS: String(options.batchMs ?? 60),
    CHILD_VAL_MS: String(options.splitMs ?? 150),
    CHILD_TEST_MS: String(options.splitMs ?? 150),
    CHILD_PHASE_MS: String(options.phaseMs ?? 0),
    CHILD_GRANDCHILD: "1",
  };
  // Typical length of each phase (ms): the median of what the children's markers showed
  // (start-up counts from the spawn), until then a guess.
  const guess: Record<Phase, number> = {
    "startup": 800,
    "training": 300,
    "validation": 150,
    "visualisation": 60,
    "epoch-end": 20,
    "final-writes": 20,
    "evaluation": 150,
  };
  const samples = Object.fromEntries(PHASES.map((p) => [p, [] as number[]])) as Record<
    Phase,
    number[]
  >;
  const typical = (p: Phase) => {
    const xs = samples[p].slice(-25).sort((a, b) => a - b);
    return xs.length ? xs[xs.length >> 1] : guess[p];
  };
  const learn = (child: Child) => {
    const marks = child.lines.filter((l) => /^(PHASE |DONE)/.test(l.text));
    for (let i = 0; i + 1 < marks.length; i++) {
      const p = marks[i].text.split(" ")[1] as Phase;
      const from = p === "startup" ? child.spawned : marks[i].at;
      if (p in samples) samples[p].push(marks[i + 1].at - from);
    }
  };
  const perPhase = Object.fromEntries(PHASES.map((p) => [p, 0])) as Record<Phase, number>;
  let kills = 0, onTarget = 0, missed = 0, processes = 0, maxLost = 0, survivors = 0, runs = 0;
  const root = await Deno.makeTempDir({ prefix: "convdeck-kill-" });
  try {
    const minPerPhase = options.minPerPhase ?? 0;
    for (let r = 0;; r++) {
      // Early targets in random order, then the two that need a finished training; after the
      // planned runs, up to 3 more aimed only at phases still short of `minPerPhase`.
      let targets: Phase[];
      if (r < options.runs) {
        targets = [...PHASES.slice(0, 5)];
        while (targets.length < early) targets.push(PHASES[Math.floor(rand() * 5)]);
        for (let i = targets.length - 1; i > 0; i--) {
          const j = Math.floor(rand() * (i + 1));
          [targets[i], targets[j]] = [targets[j], targets[i]];
        }
        targets.push("final-writes", "evaluation");
      } else {
        targets = PHASES.filter((p) => perPhase[p] < minPerPhase);
        if (targets.length === 0 || r >= options.runs + 3) break;
      }
      runs++;
      const runsDir = join(root, `runs-${r}`);
      await Deno.mkdir(runsDir);
      let runDir: string | undefined;
      let finished = false;
      const kept = new Map<number, string>(); // completed epoch -> its metrics line
      for (const target of targets) {
        const child = start([runsDir, String(epochs), ...(runDir ? [runDir] : [])], env);
        processes++;
        // Start-up is aimed from the spawn (module loading included), the rest from the marker.
        const marker = target === "startup"
          ? { text: "", at: child.spawned }
          : await child.waitFor(new RegExp(`^PHASE ${target}\\b`), 120_000);
        let landed = false;
        if (marker) {
          // A random moment of the phase, from its start on.
          const wait = marker.at + rand() * typical(target) - performance.now();
          await new Promise((res) => setTimeout(res, Math.max(0, wait)));
          try {
            Deno.kill(-child.proc.pid, "SIGKILL");
            landed = true;
          } catch {
            // already gone
          }
        }
        const status = await child.proc.status;
        await child.done;
        landed &&= status.signal === "SIGKILL";
        if (!landed) killGroup(child.proc.pid); // a finished child's grandchild
        const grandchild = child.lines.find((l) => l.text.startsWith("GRANDCHILD "));
        if (grandchild) {
          const pid = Number(grandchild.text.split(" ")[1]);
          for (let i = 0; i < 40 && alive(pid); i++) {
            await new Promise((res) => setTimeout(res, 50));
          }
          if (alive(pid)) {
            survivors++;
            Deno.kill(pid, "SIGKILL");
          }
        }
        learn(child);
        runDir ??= child.lines.find((l) => l.text.startsWith("RUN "))?.text.slice(4);
        if (!runDir) {
          // Killed before it said RUN: a run folder with a run.json is resumed, else none.
          for await (const e of Deno.readDir(runsDir)) {
            const st = await Deno.stat(join(runsDir, e.name, "run.json")).catch(() => null);
            if (st?.isFile) runDir = join(runsDir, e.name);
          }
        }
        if (!landed) {
          missed++;
          if (child.lines.some((l) => l.text === "DONE")) {
            finished = true;
            break;
          }
          if (!status.success && status.signal !== "SIGKILL") {
            throw new Error(`a child failed by itself (exit ${status.code}) aiming at ${target}`);
          }
          continue;
        }
        kills++;
        const phase = lastPhase(child);
        perPhase[phase]++;
        if (phase === target) onTarget++;
        options.onKill?.(
          `run ${r} kill ${kills}: aimed at ${target}, landed in ${phase}` +
            (runDir ? "" : " (before the run folder existed)"),
        );
        if (!runDir) continue;
        await checkRunReadable(runDir);
        const begun = child.lines.filter((l) => l.text.startsWith("BEGIN "))
          .map((l) => Number(l.text.slice(6)));
        const reachedEnd = child.lines.some((l) => l.text === "PHASE final-writes");
        const completed = reachedEnd ? epochs : Math.max(0, ...begun);
        const points = await listResumePoints(runDir);
        const m = points[0] ? /[\\/]e(\d+)(?:-b\d+)?$/.exec(points[0]) : null;
        const saved = m ? Number(m[1]) : 0;
        maxLost = Math.max(maxLost, completed - saved);
        if (completed > saved) {
          throw new Error(
            `run ${r}, kill in ${phase}: ${completed} epochs completed but the newest resume ` +
              `point holds ${saved}`,
          );
        }
        for (const { epoch, line } of await epochLines(runDir)) {
          if (epoch < completed && !kept.has(epoch)) kept.set(epoch, line);
        }
        for (let e = 0; e < completed; e++) {
          if (!kept.has(e)) throw new Error(`run ${r}: completed epoch ${e} has no metrics line`);
        }
      }
      if (!finished) {
        const child = start([runsDir, String(epochs), ...(runDir ? [runDir] : [])], env);
        processes++;
        const status = await child.proc.status;
        await child.done;
        killGroup(child.proc.pid);
        learn(child);
        if (!status.success || !child.lines.some((l) => l.text === "DONE")) {
          throw new Error(`run ${r}: the final resume did not finish (exit ${status.code})`);
        }
        runDir ??= child.lines.find((l) => l.text.startsWith("RUN "))!.text.slice(4);
      }
      await checkRunReadable(runDir!);
      const info = JSON.parse(await Deno.readTextFile(join(runDir!, "run.json")));
      if (info.status !== "completed") throw new Error(`run ${r}: final status ${info.status}`);
      await Deno.stat(join(runDir!, "evaluation.json"));
      const final = await epochLines(runDir!);
      const got = final.map((l) => l.epoch);
      const expected = Array.from({ length: epochs }, (_, i) => i);
      if (JSON.stringify(got) !== JSON.stringify(expected)) {
        throw new Error(`run ${r}: metrics epochs ${JSON.stringify(got)}, not 0..${epochs - 1}`);
      }
      for (const [e, line] of kept) {
        if (final[e].line !== line) {
          throw new Error(`run ${r}: completed epoch ${e} was trained again after a kill`);
        }
      }
    }
  } finally {
    await Deno.remove(root, { recursive: true }).catch(() => {});
  }
  return {
    kills,
    perPhase,
    onTarget,
    missed,
    runs,
    epochsPerRun: epochs,
    processes,
    maxLostEpochs: maxLost,
    survivors,
    seconds: Math.round((performance.now() - t0) / 1000),
  };
}
