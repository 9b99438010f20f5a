/**
 * The runs table at scale (`deno task bench --only runs`, or `deno run -A
 * tests/bench/runs_scale.ts [--runs N] [--epochs N] [--dir DIR] [--no-browser]`): generates N
 * runs of E epochs each (default 10,000 x 100; kept in DIR between runs of the bench), then
 * times the first list and query after start (without and with the saved index), the warm
 * query, the API answer, and the table's first render in Chromium. Goals: warm query below
 * 300 ms, the page below 1 s. Not a timed test: figures depend on the machine and its load,
 * which is printed beside them.
 *
 * @module
 */
import { parseArgs } from "node:util";
import { cpuUsage } from "node:process";
import { join } from "node:path";
import { RunIndex } from "../../core/run/index.ts";
import { queryTable } from "../../core/run/query.ts";
import { createDashboardApp, serveDashboard } from "../../dashboard/mod.ts";
import { CHROMIUM_PATH, launchChromium } from "../../dashboard/chromium.ts";

/** The query of the issue, used for every timing. */
export const BENCH_QUERY = "lr < 0.01 and val_acc > 0.9 and tag = baseline and status != crashed";

const OPTIMIZERS = ["adam", "sgd", "rmsprop", "momentum"];

/** Writes `n` runs of `epochs` epochs into `dir` (skipped when a marker says they exist). */
export function generateRuns(dir: string, n: number, epochs: number): void {
  const marker = join(dir, `.bench-${n}x${epochs}`);
  try {
    Deno.statSync(marker);
    return;
  } catch { /* generate */ }
  Deno.mkdirSync(dir, { recursive: true });
  const enc = new TextEncoder();
  const t0 = Date.UTC(2026, 0, 1);
  for (let i = 0; i < n; i++) {
    const id = `default-${String(20260101 + Math.floor(i / 1000))}-${
      String(i % 1000).padStart(6, "0")
    }`;
    const runDir = join(dir, id);
    Deno.mkdirSync(runDir, { recursive: true });
    const lr = [1e-4, 3e-4, 1e-3, 3e-3, 1e-2, 3e-2][i % 6];
    const width = [8, 16, 32, 64][(i >> 2) % 4];
    const dropout = [0, 0.1, 0.3, 0.5][(i >> 4) % 4];
    const optimizer = OPTIMIZERS[(i >> 3) % 4];
    const start = t0 + i * 60_000;
    const lines: string[] = [];
    let bestAcc = 0, bestLoss = Infinity, bestAccEpoch = 0, bestLossEpoch = 0;
    let last: Record<string, number> = {};
    for (let e = 0; e < epochs; e++) {
      const q = 1 - Math.exp(-(e + 1) * lr * 40 * (1 + width / 64));
      const rec = {
        epoch: e,
        step: (e + 1) * 75,
        time: start + (e + 1) * 4000,
        loss: 2.1 * (1 - q) + 0.1,
        acc: 0.125 + 0.85 * q,
        val_loss: 2.1 * (1 - q) + 0.2 + dropout * 0.05,
        val_acc: 0.125 + 0.82 * q - dropout * 0.02 + (i % 7) * 0.002,
        lr,
        epoch_seconds: 4,
        images_per_s: 600 + (i % 50),
        cpu_percent: 180,
        rss_mb: 380,
        load_1m: 1.5,
      };
      if (rec.val_acc > bestAcc) [bestAcc, bestAccEpoch] = [rec.val_acc, e];
      if (rec.val_loss < bestLoss) [bestLoss, bestLossEpoch] = [rec.val_loss, e];
      last = rec;
      lines.push(JSON.stringify(rec));
    }
    Deno.writeFileSync(join(runDir, "metrics.jsonl"), enc.encode(lines.join("\n") + "\n"));
    const status = i % 97 === 0 ? "running" : i % 31 === 0 ? "failed" : "completed";
    const { epoch: _e, step: _s, time: _t, ...lastValues } = last;
    const info = {
      format: 1,
      id,
      experiment: "default",
      status,
      config: {
        epochs,
        batchSize: 32,
        learningRate: lr,
        imageSize: 32,
        seed: i % 5,
        params: { width, dropout, optimizer, lrSchedule: "plateau", augment: i % 2 === 0 },
        experimentSource: "default",
        description: "small convnet on 8 classes of generated shapes",
        callbacks: ["TerminateOnNaN", "ReduceLROnPlateau", "EarlyStopping", "ProgressBar"],
      },
      backend: { name: "native", reason: "oneDNN found" },
      versions: { convdeck: "0.1.0", deno: "2.5.0", tfjs: "4.22.0" },
      createdAt: new Date(start).toISOString(),
      updatedAt: new Date(start + epochs * 4000).toISOString(),
      ...(status !== "running" ? { endedAt: new Date(start + epochs * 4000).toISOString() } : {}),
      epochs,
      steps: epochs * 75,
      test: { accuracy: bestAcc - 0.01, examples: 600 },
      best: {
        val_acc: { value: bestAcc, epoch: bestAccEpoch },
        val_loss: { value: bestLoss, epoch: bestLossEpoch },
      },
      last: lastValues,
    };
    Deno.writeFileSync(join(runDir, "run.json"), enc.encode(JSON.stringify(info, null, 2)));
    if (i % 10 === 0) {
      const meta = {
        tags: i % 20 === 0 ? ["baseline"] : ["sweep"],
        archived: i % 50 === 0,
        revision: 1,
      };
      Deno.writeFileSync(join(runDir, "meta.json"), enc.encode(JSON.stringify(meta)));
    }
  }
  Deno.writeTextFileSync(marker, "");
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

/** CPU time (user + system) this process used, in ms. */
function cpuMs(): number {
  const u = cpuUsage();
  return (u.user + u.system) / 1000;
}

/** Wall ms of `f` (CPU ms of this process in `lastCpu`: on a loaded machine, wall >> CPU). */
let lastCpu = 0;
async function time<T>(f: () => Promise<T>): Promise<[number, T]> {
  const t = performance.now(), c = cpuMs();
  const v = await f();
  lastCpu = cpuMs() - c;
  return [performance.now() - t, v];
}

/** Runs the benchmark and prints a table of figures. */
export async function benchRunsScale(o: {
  runs?: number;
  epochs?: number;
  dir?: string;
  browser?: boolean;
} = {}): Promise<void> {
  const n = o.runs ?? 10_000, epochs = o.epochs ?? 100;
  const dir = o.dir ?? join(Deno.env.get("TMPDIR") ?? "/tmp", `convdeck-bench-runs-${n}x${epochs}`);
  const [gen] = await time(() => Promise.resolve(generateRuns(dir, n, epochs)));
  console.log(`\n## Runs table at scale: ${n} runs x ${epochs} epochs in ${dir}`);
  console.log(
    `generated (or found) in ${(gen / 1000).toFixed(1)} s; load average ${
      Deno.loadavg().map((x) => x.toFixed(2)).join(" ")
    } on ${navigator.hardwareConcurrency} cores`,
  );
  const saved = join(dir, ".convdeck-index.json");
  await Deno.remove(saved).catch(() => {});
  /** [label, wall ms, CPU ms of this process (undefined: the work is in Chromium)]. */
  const rows: [string, number, number | undefined][] = [];
  /** Median wall and CPU ms of `n` runs of `f`. */
  const med = async (n: number, f: () => Promise<unknown>): Promise<[number, number]> => {
    const walls: number[] = [], cpus: number[] = [];
    for (let k = 0; k < n; k++) {
      walls.push((await time(f))[0]);
      cpus.push(lastCpu);
    }
    return [median(walls), median(cpus)];
  };
  // 1. A new process, no saved index: every run.json read once.
  const cold = new RunIndex(dir);
  const [tCold, all] = await time(() => cold.summaries());
  rows.push([
    `first list, no saved index (${cold.lastRefresh.read} run.json read)`,
    tCold,
    lastCpu,
  ]);
  await cold.flush();
  // 2. A new process with the saved index: stats only.
  const fresh = new RunIndex(dir);
  const [tFirstQuery, first] = await time(async () =>
    queryTable(await fresh.rows(), { q: BENCH_QUERY }, await fresh.columns())
  );
  rows.push([
    `first query after start, saved index (${fresh.lastRefresh.read} read)`,
    tFirstQuery,
    lastCpu,
  ]);
  // 3. Warm: the same index again (a stat of every run folder, nothing read).
  rows.push([
    `warm query + sort (median of 5)`,
    ...await med(5, async () =>
      queryTable(
        await fresh.rows(),
        { q: BENCH_QUERY, sort: "best.val_acc", desc: true },
        await fresh.columns(),
      )),
  ]);
  rows.push([
    `warm group by optimizer (median of 3)`,
    ...await med(
      3,
      async () => queryTable(await fresh.rows(), { group: "optimizer" }, await fresh.columns()),
    ),
  ]);
  // 4. The API, as the page asks it.
  const app = createDashboardApp({ runsDir: dir });
  const url = `/api/runs?q=${encodeURIComponent(BENCH_QUERY)}&limit=50`;
  await app.request(url);
  rows.push([
    `warm GET /api/runs?q=... (median of 5)`,
    ...await med(5, async () => await (await app.request(url)).json()),
  ]);
  console.log(`${all.length} runs, ${first.matched} match "${BENCH_QUERY}"`);
  // 5. Chromium: the table's first render.
  if (o.browser ?? true) {
    const hasChromium = await Deno.stat(CHROMIUM_PATH).then(() => true, () => false);
    if (!hasChromium) console.log(`Chromium: skipped (${CHROMIUM_PATH} not found)`);
    else {
      const ac = new AbortController();
      const browser = await launchChromium();
      const page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
      const server = serveDashboard({ runsDir: dir, port: 0, signal: ac.signal });
      try {
        const loads: number[] = [];
        for (let k = 0; k < 4; k++) {
          await page.goto("about:blank");
          const t = performance.now();
          await page.goto(server.url);
          await page.waitForSelector("[data-testid=run-table] tbody tr", { timeout: 60_000 });
          loads.push(performance.now() - t);
        }
        rows.push([
          `page: first render, opened as the server starts (saved index)`,
          loads[0],
          undefined,
        ]);
        rows.push([
          `page: table render, warm server (median of 3)`,
          median(loads.slice(1)),
          undefined,
        ]);
      } finally {
        await browser.close();
        ac.abort();
        await server.server.finished;
      }
    }
  }
  const w = Math.max(...rows.map(([l]) => l.length));
  console.log(`| ${"what".padEnd(w)} | wall ms | CPU ms |`);
  console.log(`| ${"-".repeat(w)} | ------- | ------ |`);
  for (const [label, ms, cpu] of rows) {
    console.log(
      `| ${label.padEnd(w)} | ${ms.toFixed(0).padStart(7)} | ${
        (cpu === undefined ? "-" : cpu.toFixed(0)).padStart(6)
      } |`,
    );
  }
  console.log(
    `load average after: ${Deno.loadavg().map((x) => x.toFixed(2)).join(" ")} ` +
      "(CPU ms: this process's CPU time, what the work costs on an idle core)",
  );
  console.log("goals: warm query < 300 ms, page < 1000 ms");
}

if (import.meta.main) {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      runs: { type: "string" },
      epochs: { type: "string" },
      dir: { type: "string" },
      "no-browser": { type: "boolean" },
    },
  });
  await benchRunsScale({
    runs: values.runs ? Number(values.runs) : undefined,
    epochs: values.epochs ? Number(values.epochs) : undefined,
    dir: values.dir,
    browser: !values["no-browser"],
  });
}
