/**
 * `deno task soak --faults --minutes N`: the faults of issue 25 together, for as long as asked,
 * each in its own loop running at the same time as the others:
 *
 * - **kills**: the kill-and-resume loop (`kill_loop.ts`), one run after another;
 * - **delete under a live writer**: a training child (`train_child.ts`) while `trashRun` is
 *   tried on its run every 100 ms from start-up to exit (resume start-up, final evaluation
 *   included); a delete that succeeds while the writer lives, or a folder the writer re-creates
 *   after a delete (a ghost), is a failure;
 * - **special files**: a runs folder whose index is a FIFO or a `/dev/zero` symlink and a
 *   sweep folder whose sweep.json is a FIFO, listed by `deno task runs list`; a hang (over
 *   30 s) is a failure;
 * - **Redis restarts**: a queued sweep (controller and two workers, processes) on a Redis
 *   restarted without persistence every 2-6 s and, now and then, a worker SIGKILLed and
 *   replaced; the sweep must finish with one complete run per trial.
 *
 * @module
 */
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { mulberry32 } from "../../core/random.ts";
import { heartbeatStale, readHeartbeat } from "../../core/run/lock.ts";
import { trashRun } from "../../core/run/trash.ts";
import { listSweeps } from "../../sweep/store.ts";
import { killLoop } from "./kill_loop.ts";
import { startRedis } from "./redis_server.ts";
import { assertSweepComplete } from "./sweep_check.ts";
import { writeFakeRun } from "./fake_run.ts";

const CHILD = fileURLToPath(new URL("./train_child.ts", import.meta.url));
const RUNS_CLI = fileURLToPath(new URL("../../cli/runs.ts", import.meta.url));
const SWEEP = fileURLToPath(new URL("../../cli/sweep.ts", import.meta.url));
const WORKER = fileURLToPath(new URL("../../cli/sweep_worker.ts", import.meta.url));

/** What each loop did. */
export interface FaultsReport {
  /** Kills that landed, over how many runs. */
  kills: number;
  /** Runs the kill loop finished and checked. */
  killRuns: number;
  /** Delete attempts on live runs, and how many were (rightly) refused. */
  deletes: { tried: number; refused: number; runs: number };
  /** `runs list` over special files: checks made. */
  specialChecks: number;
  /** Redis restarts, worker SIGKILLs, and sweeps finished and checked. */
  redis: { restarts: number; workerKills: number; sweeps: number };
  /** Every failure, one line each (empty: clean). */
  failures: string[];
  /** Wall time in seconds. */
  seconds: number;
}

/** Options of {@link faultsLoop}. */
export interface FaultsOptions {
  /** Which loops to run (default all four). */
  only?: ("kills" | "deletes" | "specials" | "redis")[];
  /** How long to go on (the loops finish their current round after this). */
  minutes: number;
  /** Seed of the moments chosen. */
  seed: number;
  /** Progress lines. */
  log?: (line: string) => void;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function spawn(
  args: string[],
  cwd?: string,
  env?: Record<string, string>,
  stdout: "piped" | "null" = "piped",
): Deno.ChildProcess {
  return new Deno.Command(Deno.execPath(), {
    args,
    cwd,
    env,
    stdout,
    stderr: "piped",
  }).spawn();
}

function text(s: ReadableStream<Uint8Array>): Promise<string> {
  return new Response(s).text();
}

/** Runs the loops until `minutes` have passed; see the module doc. */
export async function faultsLoop(o: FaultsOptions): Promise<FaultsReport> {
  const t0 = performance.now();
  const deadline = Date.now() + o.minutes * 60_000;
  const log = o.log ?? (() => {});
  const rand = mulberry32(o.seed);
  const r: FaultsReport = {
    kills: 0,
    killRuns: 0,
    deletes: { tried: 0, refused: 0, runs: 0 },
    specialChecks: 0,
    redis: { restarts: 0, workerKills: 0, sweeps: 0 },
    failures: [],
    seconds: 0,
  };
  const fail = (what: string) => {
    r.failures.push(what);
    log(`FAILURE ${what}`);
  };
  const guard = (name: string, f: () => Promise<void>) =>
    f().catch((err) => fail(`${name}: ${(err as Error).message}`));
  const on = (loop: NonNullable<FaultsOptions["only"]>[number]) => !o.only || o.only.includes(loop);

  const kills = on("kills") && guard("kills", async () => {
    for (let i = 0; Date.now() < deadline; i++) {
      const k = await killLoop({ runs: 1, seed: o.seed + i, phaseMs: 10 });
      r.kills += k.kills;
      r.killRuns += k.runs;
      if (k.maxLostEpochs > 0 || k.survivors > 0) {
        fail(`kills: ${k.maxLostEpochs} epochs lost, ${k.survivors} survivors`);
      }
      log(`kills: ${r.kills} over ${r.killRuns} runs`);
    }
  });

  const deletes = on("deletes") && guard("delete under a writer", async () => {
    const runs = await Deno.makeTempDir({ prefix: "faults-delete-" });
    try {
      for (let i = 0; Date.now() < deadline; i++) {
        let runId: string | undefined;
        const child = spawn(["run", "-A", CHILD, runs, "2"], undefined, {
          CHILD_BATCH_MS: "20",
          CHILD_TEST_MS: "100",
        });
        child.stderr.cancel().catch(() => {});
        let ended = false;
        const out = text(child.stdout).then((t) => {
          ended = true;
          return t;
        });
        let trashed: string | undefined;
        while (!ended) {
          await sleep(100);
          runId ??= (await Array.fromAsync(Deno.readDir(runs)))
            .find((e) => e.isDirectory && !e.name.startsWith("."))?.name;
          if (!runId || trashed) continue;
          r.deletes.tried++;
          try {
            trashed = await trashRun(runs, runId);
            // The writer held its lock at the moment of the move exactly when its heartbeat
            // moved with the folder (a writer that released it first, on its way out, left
            // none: deleting a finished run while its process exits is allowed).
            const moved = await readHeartbeat(trashed).catch(() => undefined);
            if (moved && !heartbeatStale(moved)) {
              fail(`delete under a writer: ${runId} was moved to the trash while its writer lived`);
            }
          } catch {
            r.deletes.refused++;
          }
        }
        await out;
        await child.status;
        r.deletes.runs++;
        if (trashed && runId) {
          const ghost = await Deno.stat(join(runs, runId)).then(() => true, () => false);
          if (ghost) fail(`delete under a writer: the writer re-created ${runId} (a ghost run)`);
        }
        for await (const e of Deno.readDir(runs)) {
          await Deno.remove(join(runs, e.name), { recursive: true }).catch(() => {});
        }
      }
    } finally {
      await Deno.remove(runs, { recursive: true }).catch(() => {});
    }
  });

  const specials = on("specials") && guard("special files", async () => {
    const root = await Deno.makeTempDir({ prefix: "faults-special-" });
    try {
      const runs = join(root, "runs");
      await writeFakeRun(runs, { id: "plain", epochs: 2 });
      const index = join(runs, ".convdeck-index.json");
      const sweepDir = join(root, "sweeps", "s-00000000");
      await Deno.mkdir(sweepDir, { recursive: true });
      const fifo = async (path: string) => {
        await Deno.remove(path).catch(() => {});
        const ok = (await new Deno.Command("mkfifo", { args: [path] }).output()).success;
        if (!ok) throw new Error(`mkfifo ${path} failed`);
      };
      await fifo(join(sweepDir, "sweep.json"));
      for (let i = 0; Date.now() < deadline; i++) {
        if (i % 2 === 0) await fifo(index);
        else {
          await Deno.remove(index).catch(() => {});
          await Deno.symlink("/dev/zero", index);
        }
        const child = spawn(["run", "-A", RUNS_CLI, "list", "--runs", runs]);
        const timer = setTimeout(() => child.kill("SIGKILL"), 30_000);
        const [status, , err] = await Promise.all([
          child.status,
          text(child.stdout),
          text(child.stderr),
        ]);
        clearTimeout(timer);
        r.specialChecks++;
        if (status.signal === "SIGKILL") {
          fail(`special files: runs list hung on ${i % 2 ? "a /dev/zero index" : "a FIFO index"}`);
        } else if (status.code !== 0) {
          fail(`special files: runs list failed: ${err.trim().split("\n").at(-1)}`);
        }
        await sleep(500);
      }
    } finally {
      await Deno.remove(root, { recursive: true }).catch(() => {});
    }
  });

  const redis = on("redis") && guard("Redis restarts", async () => {
    for (let i = 0; Date.now() < deadline; i++) {
      const cwd = await Deno.makeTempDir({ prefix: "faults-redis-" });
      let server = await startRedis();
      const spec = {
        name: `faults${i}`,
        experiment: "default",
        settings: { epochs: 3, imageSize: 16 },
        parameters: { width: { values: [4, 6, 8] } },
        metric: "val_acc",
      };
      await Deno.writeTextFile(join(cwd, "spec.json"), JSON.stringify(spec));
      // A worker that ends by itself (not SIGKILLed here) is a failure: workers reconnect.
      interface W {
        proc: Deno.ChildProcess;
        killed: boolean;
      }
      const worker = (): W => {
        const proc = spawn(
          ["run", "-A", WORKER, "--queue", server.url, "--threads", "1"],
          cwd,
          undefined,
          "null",
        );
        const w: W = { proc, killed: false };
        const err = text(proc.stderr);
        proc.status.then(async (st) => {
          if (!w.killed) {
            // deno-lint-ignore no-control-regex
            const plain = (await err).replace(/\x1b\[[0-9;]*m/g, "");
            const why = plain.split("\n").filter((l) => /error/i.test(l)).slice(0, 3).join(" | ");
            fail(`Redis restarts: a worker exited (${st.code}): ${why || plain.slice(-300)}`);
          }
        });
        return w;
      };
      const workers = [worker(), worker()];
      const controller = spawn(["run", "-A", SWEEP, "spec.json", "--queue", server.url], cwd);
      const cout = Promise.all([text(controller.stdout), text(controller.stderr)]);
      let done = false;
      const status = controller.status.then((s) => {
        done = true;
        return s;
      });
      try {
        const giveUp = Date.now() + 10 * 60_000;
        while (!done && Date.now() < giveUp) {
          await Promise.race([status, sleep(2000 + rand() * 4000)]);
          if (done) break;
          if (rand() < 0.3) {
            const k = Math.floor(rand() * workers.length);
            workers[k].killed = true;
            try {
              workers[k].proc.kill("SIGKILL");
            } catch { /* ended */ }
            workers[k] = worker();
            r.redis.workerKills++;
          } else {
            await server.stop();
            server = await startRedis(server.port);
            r.redis.restarts++;
          }
        }
        if (!done) throw new Error("the sweep did not finish within 10 minutes");
        const s = await status;
        const [out, err] = await cout;
        if (s.code !== 0) throw new Error(`sweep exit ${s.code}: ${out}${err}`.slice(-800));
        const [{ dir }] = await listSweeps(join(cwd, "sweeps"));
        await assertSweepComplete(dir, join(cwd, "runs"));
        r.redis.sweeps++;
        log(`redis: ${r.redis.sweeps} sweeps complete, ${r.redis.restarts} restarts`);
      } finally {
        for (const w of workers) w.killed = true;
        for (const p of [controller, ...workers.map((w) => w.proc)]) {
          try {
            p.kill("SIGKILL");
          } catch { /* ended */ }
        }
        await server.stop();
        await Deno.remove(cwd, { recursive: true }).catch(() => {});
      }
    }
  });

  await Promise.all([kills, deletes, specials, redis]);
  r.seconds = Math.round((performance.now() - t0) / 1000);
  return r;
}
