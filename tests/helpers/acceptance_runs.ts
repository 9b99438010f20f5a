/**
 * The runs folder the dashboard's acceptance test serves: the runs-table fixture (finished
 * runs, one archived, one crashed), a sweep with its trials, and one run trained for real (3
 * epochs on a tiny image folder, with checkpoints, visualisations and an evaluation), renamed
 * to a fixed id and its times pinned, so that every page renders the same pixels each time.
 *
 * @module
 */
import { join } from "node:path";
import type { Experiment } from "../../core/experiment/experiment.ts";
import { runExperiment } from "../../core/experiment/run_experiment.ts";
import { loadImageFolder } from "../../core/data/image_folder.ts";
import { smallConvnet } from "../../core/models/small_convnet.ts";
import { ModelCheckpoint } from "../../callbacks/model_checkpoint.ts";
import { Visualize } from "../../callbacks/visualize.ts";
import { writeSampleImageFolder } from "../data_fixtures.ts";
import { FOLDER_OPTIONS } from "./predict_runs.ts";
import { FIXTURE_IDS, writeRunsFixture } from "./runs_fixture.ts";
import { RUN_FILES } from "../../core/run/format.ts";
import { HEARTBEAT_STALE_MS } from "../../core/run/lock.ts";
import { writeFakeSweep } from "./fake_sweep.ts";
import { writeFakeEvaluation, writeJsonAtomic } from "./fake_run.ts";

/** The trained run's id. */
export const TRAINED_ID = "tiny-trained";

/** What {@linkcode writeAcceptanceRuns} made. */
export interface AcceptanceRuns {
  /** The runs folder. */
  runsDir: string;
  /** The trained run's test images (for "Try it"). */
  testImages: string[];
}

/** Pins every time stamp of a JSON-lines file to `base` plus its line number (seconds). */
async function pinTimes(path: string, base: number): Promise<void> {
  const lines = (await Deno.readTextFile(path)).split("\n").filter((l) => l !== "");
  const out = lines.map((l, i) => {
    const rec = JSON.parse(l);
    if (typeof rec.time === "number") rec.time = base + i * 1000;
    if (typeof rec.epoch_seconds === "number") rec.epoch_seconds = 1;
    for (const k of ["cpu_percent", "rss_mb", "load_1m", "images_per_s"]) {
      if (typeof rec[k] === "number") rec[k] = 100;
    }
    if (typeof rec.path === "string") rec.path = rec.path.replace(/^.*\/checkpoints\//, "");
    return JSON.stringify(rec);
  });
  await Deno.writeTextFile(path, out.join("\n") + "\n");
}

/** Writes the acceptance runs folder under `root` (`root/runs`, `root/sweeps`). */
export async function writeAcceptanceRuns(root: string): Promise<AcceptanceRuns> {
  const runsDir = join(root, "runs");
  await writeRunsFixture(runsDir);
  // The killed run's heartbeat is old: the dashboard's server may not look into /proc (Deno
  // asks --allow-all for /proc/<pid>), so a dead process shows once its heartbeat is stale.
  const hbPath = join(runsDir, FIXTURE_IDS.killed, RUN_FILES.heartbeat);
  const hb = JSON.parse(await Deno.readTextFile(hbPath));
  hb.since = hb.time = Date.now() - 10 * HEARTBEAT_STALE_MS;
  await Deno.writeTextFile(hbPath, JSON.stringify(hb));
  await writeFakeSweep(root);
  // An evaluation where one class had no test image: shown as "no images", not 0%.
  const report = await writeFakeEvaluation(join(runsDir, FIXTURE_IDS.lrMid));
  report.perClass[2] = { ...report.perClass[2], count: 0, accuracy: 0 };
  report.confusion[2] = [0, 0, 0];
  report.examples = 20;
  await writeJsonAtomic(join(runsDir, FIXTURE_IDS.lrMid, "evaluation.json"), report);
  const dataDir = join(root, "folder-data");
  await writeSampleImageFolder(dataDir, { classes: 3, perClass: 8, maxSide: 48 });
  const experiment: Experiment = {
    name: "tinyfolder",
    description: "acceptance test: image folder",
    defaults: { epochs: 3, batchSize: 8, learningRate: 3e-3, imageSize: 16, seed: 1 },
    dataset: () => loadImageFolder(dataDir, FOLDER_OPTIONS),
    model: (shape, k) => smallConvnet(shape, k, [4, 8, 8]),
    callbacks: () => [
      new ModelCheckpoint({ filepath: "best", saveBestOnly: true }),
      new Visualize({ every: 1, count: 2 }),
    ],
  };
  const { run } = await runExperiment({ experiment, backend: "cpu", runsDir, log: () => {} });
  const dir = join(runsDir, TRAINED_ID);
  await Deno.rename(run.dir, dir);
  const infoPath = join(dir, "run.json");
  const info = JSON.parse(await Deno.readTextFile(infoPath));
  const start = Date.UTC(2026, 10, 2, 9, 0, 0);
  Object.assign(info, {
    id: TRAINED_ID,
    createdAt: new Date(start).toISOString(),
    updatedAt: new Date(start + 60_000).toISOString(),
    endedAt: new Date(start + 60_000).toISOString(),
  });
  await writeJsonAtomic(infoPath, info);
  await pinTimes(join(dir, "metrics.jsonl"), start);
  await pinTimes(join(dir, "events.jsonl"), start);
  const testImages: string[] = [];
  for await (const e of Deno.readDir(join(dataDir, "test"))) {
    if (!e.isDirectory) continue;
    for await (const f of Deno.readDir(join(dataDir, "test", e.name))) {
      testImages.push(join(dataDir, "test", e.name, f.name));
    }
  }
  return { runsDir, testImages: testImages.sort() };
}
