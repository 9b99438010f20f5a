/**
 * Test fixtures: writes run directories in the format of core/run/format.ts (run.json by
 * write-then-rename, metrics/events as whole appended lines, optionally a torn last line), plus
 * optional `viz/` and `evaluation.json`, without a trainer.
 *
 * @module
 */
import { join } from "node:path";
import type { MetricsRecord, RunEvent, RunInfo, RunStatus } from "../../core/run/format.ts";
import type { VizIndex } from "../../core/run/viz_format.ts";
import type { EvaluationReport } from "../../core/run/evaluation_format.ts";
import { encodePng } from "../../core/viz/png.ts";
import { buildMosaic } from "../../core/viz/mosaic.ts";
import { jet, viridis } from "../../core/viz/colormap.ts";

/** Options of {@link writeFakeRun}. */
export interface FakeRunOptions {
  /** Run id (directory name). */
  id: string;
  /** Experiment name (default `fake`). */
  experiment?: string;
  /** Status (default `completed`). */
  status?: RunStatus;
  /** Why it stopped early. */
  stopReason?: string;
  /** Epoch records to write (default 5). */
  epochs?: number;
  /** Batch records per epoch (default 0). */
  batchesPerEpoch?: number;
  /** Append a half-written line at the end of metrics.jsonl and events.jsonl. */
  tornLastLine?: boolean;
  /** Add a malformed (but complete) line in the middle of metrics.jsonl. */
  malformedLine?: boolean;
  /** Extra events (in addition to the default lr_changed / checkpoint_saved). */
  events?: RunEvent[];
  /** Config / hyperparameters (default a small set). */
  config?: Record<string, unknown>;
  /** Write viz/index.json with filters, activations and Grad-CAM PNGs. */
  viz?: boolean;
  /** Write evaluation.json. */
  evaluation?: boolean;
  /** Start time (ms) of the run (default 2025-01-01). */
  startTime?: number;
}

/** Deterministic loss/accuracy curves: train improves, val bottoms out (overfits) later. */
export function fakeEpochRecord(epoch: number, step: number, time: number): MetricsRecord {
  const loss = 2.5 * Math.exp(-epoch / 6) + 0.1;
  const valLoss = 2.4 * Math.exp(-epoch / 5) + 0.3 + 0.01 * Math.max(0, epoch - 10) ** 1.5;
  return {
    epoch,
    step,
    time,
    loss: round(loss),
    acc: round(1 - loss / 3),
    val_loss: round(valLoss),
    val_acc: round(1 - valLoss / 3.2),
    lr: epoch < 8 ? 1e-3 : 1e-4,
  };
}

function round(x: number): number {
  return Math.round(x * 1e5) / 1e5;
}

/** Writes `value` as JSON to `file` via a temporary file and rename (as the writer does). */
export async function writeJsonAtomic(file: string, value: unknown): Promise<void> {
  const tmp = `${file}.${crypto.randomUUID()}.tmp`;
  await Deno.writeTextFile(tmp, JSON.stringify(value, null, 2));
  await Deno.rename(tmp, file);
}

/** Appends whole JSON lines to `file`. */
export async function appendLines(file: string, values: unknown[]): Promise<void> {
  if (values.length === 0) return;
  await Deno.writeTextFile(file, values.map((v) => JSON.stringify(v)).join("\n") + "\n", {
    append: true,
  });
}

/** Builds the run.json content of a fake run. */
export function fakeRunInfo(o: FakeRunOptions, epochs: number, steps: number): RunInfo {
  const start = o.startTime ?? Date.UTC(2025, 0, 1);
  const status = o.status ?? "completed";
  const info: RunInfo = {
    format: 1,
    id: o.id,
    experiment: o.experiment ?? "fake",
    status,
    config: o.config ?? { epochs, batchSize: 32, learningRate: 1e-3, imageSize: 32, seed: 1 },
    backend: { name: "cpu", reason: "test fixture" },
    versions: { convdeck: "0.1.0", tfjs: "4.22.0" },
    createdAt: new Date(start).toISOString(),
    updatedAt: new Date(start + epochs * 60_000).toISOString(),
    epochs,
    steps,
  };
  if (o.stopReason !== undefined) info.stopReason = o.stopReason;
  if (status !== "running") info.endedAt = new Date(start + epochs * 60_000).toISOString();
  if (epochs > 0) {
    const recs = Array.from({ length: epochs }, (_, e) => fakeEpochRecord(e, 0, 0));
    const best = (k: string, min: boolean) => {
      let bi = 0;
      recs.forEach((r, i) => {
        const v = r[k]!, b = recs[bi][k]!;
        if (min ? v < b : v > b) bi = i;
      });
      return { value: recs[bi][k]!, epoch: bi };
    };
    info.best = {
      val_loss: best("val_loss", true),
      val_acc: best("val_acc", false),
      loss: best("loss", true),
      acc: best("acc", false),
    };
  }
  return info;
}

/**
 * Writes a complete fake run directory under `runsDir` and returns its path.
 *
 * @example
 * ```ts
 * import { writeFakeRun } from "./fake_run.ts";
 * const dir = await writeFakeRun(await Deno.makeTempDir(), { id: "a", epochs: 3 });
 * console.log(dir);
 * ```
 */
export async function writeFakeRun(runsDir: string, o: FakeRunOptions): Promise<string> {
  const dir = join(runsDir, o.id);
  await Deno.mkdir(dir, { recursive: true });
  const epochs = o.epochs ?? 5;
  const perEpoch = o.batchesPerEpoch ?? 0;
  const start = o.startTime ?? Date.UTC(2025, 0, 1);
  const metrics: MetricsRecord[] = [];
  const stepsPerEpoch = Math.max(perEpoch, 10);
  for (let e = 0; e < epochs; e++) {
    for (let b = 0; b < perEpoch; b++) {
      const step = e * stepsPerEpoch + b + 1;
      const base = 2.5 * Math.exp(-(e + b / perEpoch) / 6) + 0.1;
      metrics.push({
        epoch: e,
        step,
        time: start + step * 100,
        batch: b,
        loss: round(base + 0.2 * Math.sin(step * 12.9898)),
        acc: round(Math.min(1, 1 - base / 3)),
      });
    }
    metrics.push(fakeEpochRecord(e, (e + 1) * stepsPerEpoch, start + (e + 1) * 60_000));
  }
  const metricsFile = join(dir, "metrics.jsonl");
  await Deno.writeTextFile(metricsFile, "");
  if (o.malformedLine && metrics.length > 1) {
    const half = Math.floor(metrics.length / 2);
    await appendLines(metricsFile, metrics.slice(0, half));
    await Deno.writeTextFile(metricsFile, '{"epoch": 1, "loss": oops}\n', { append: true });
    await appendLines(metricsFile, metrics.slice(half));
  } else {
    await appendLines(metricsFile, metrics);
  }
  const events: RunEvent[] = [
    { type: "train_begin", epoch: 0, step: 0, time: start },
  ];
  if (epochs > 8) {
    events.push({
      type: "lr_changed",
      epoch: 7,
      step: 8 * stepsPerEpoch,
      time: start,
      from: 1e-3,
      to: 1e-4,
    });
  }
  if (epochs > 2) {
    events.push({
      type: "checkpoint_saved",
      epoch: 2,
      step: 3 * stepsPerEpoch,
      time: start,
      name: "best",
    });
  }
  events.push(...(o.events ?? []));
  const eventsFile = join(dir, "events.jsonl");
  await Deno.writeTextFile(eventsFile, "");
  await appendLines(eventsFile, events);
  if (o.tornLastLine) {
    await Deno.writeTextFile(metricsFile, '{"epoch": 99, "step": 1, "ti', { append: true });
    await Deno.writeTextFile(eventsFile, '{"type": "lr_ch', { append: true });
  }
  await Deno.writeTextFile(
    join(dir, "model.txt"),
    [
      'Model: "sequential"',
      "Layer (type)            Output shape         Param #",
      "conv2d (Conv2D)         [null,8,8,4]         112",
      "dense (Dense)           [null,3]             15",
      "Total params: 127",
    ].join("\n") + "\n",
  );
  if (o.viz) await writeFakeViz(dir, Math.max(1, Math.min(epochs, 3)));
  if (o.evaluation) await writeFakeEvaluation(dir);
  await writeJsonAtomic(
    join(dir, "run.json"),
    fakeRunInfo(o, epochs, epochs * stepsPerEpoch),
  );
  return dir;
}

/**
 * Writes run `id`, resumed once: epochs 0-1 in its first 20 s, its process killed, resumed
 * 50 minutes later (a `resumed` event at 3000 s), 2 epochs more, ended at 3030 s. Alive 50 s
 * (`RESUMED_ALIVE_MS`), 3030 s from start to end. `status`: its run.json status (default completed).
 *
 * @example
 * ```ts
 * import { writeResumedRun } from "./fake_run.ts";
 * const dir = await writeResumedRun(await Deno.makeTempDir(), "resumed");
 * console.log(dir);
 * ```
 */
export async function writeResumedRun(
  runsDir: string,
  id: string,
  status: RunStatus = "completed",
): Promise<string> {
  const t0 = Date.UTC(2026, 0, 1, 10);
  const dir = await writeFakeRun(runsDir, { id, epochs: 0, startTime: t0, status });
  const s = (x: number) => t0 + x * 1000;
  const metrics = [[0, 10], [1, 20], [2, 3010], [3, 3020]].map(([epoch, t]) =>
    JSON.stringify({ epoch, step: (epoch + 1) * 10, time: s(t), loss: 1, val_acc: 0.5 })
  );
  await Deno.writeTextFile(join(dir, "metrics.jsonl"), metrics.join("\n") + "\n");
  const events = [
    { type: "train_begin", epoch: 0, step: 0, time: s(0) },
    { type: "resumed", epoch: 2, step: 20, time: s(3000) },
    { type: "train_end", epoch: 3, step: 40, time: s(3030) },
  ];
  await Deno.writeTextFile(
    join(dir, "events.jsonl"),
    events.map((e) => JSON.stringify(e)).join("\n") + "\n",
  );
  const info = JSON.parse(await Deno.readTextFile(join(dir, "run.json")));
  await writeJsonAtomic(join(dir, "run.json"), {
    ...info,
    epochs: 4,
    createdAt: new Date(s(0)).toISOString(),
    updatedAt: new Date(s(3030)).toISOString(),
    ...(status === "running" ? {} : { endedAt: new Date(s(3030)).toISOString() }),
  });
  return dir;
}

/** How long the run of {@linkcode writeResumedRun} was alive: 0-20 s and 3000-3030 s. */
export const RESUMED_ALIVE_MS = 50_000;

/** Its wall time from start to end, dead gap included. */
export const RESUMED_WALL_MS = 3_030_000;

/** Appends one epoch record (as the trainer would) and returns it. */
export async function appendEpoch(
  runDir: string,
  epoch: number,
  values: Record<string, number> = {},
): Promise<MetricsRecord> {
  const rec = { ...fakeEpochRecord(epoch, (epoch + 1) * 10, Date.now()), ...values };
  await appendLines(join(runDir, "metrics.jsonl"), [rec]);
  return rec;
}

async function writePng(
  dir: string,
  rel: string,
  data: Uint8Array,
  w: number,
  h: number,
  ch: 1 | 3 | 4,
) {
  const file = join(dir, rel);
  await Deno.mkdir(join(file, ".."), { recursive: true });
  await Deno.writeFile(file, encodePng(data, w, h, ch));
}

/** Writes a small synthetic viz/ folder (2 images, 2 conv layers, `epochs` epochs). */
export async function writeFakeViz(dir: string, epochs: number): Promise<VizIndex> {
  const size = 16;
  const index: VizIndex = { format: 1, classNames: ["cat", "dog", "fox"], images: [], epochs: [] };
  for (let i = 0; i < 2; i++) {
    const px = new Uint8Array(size * size * 3);
    for (let p = 0; p < size * size; p++) {
      px[p * 3] = (p * 7 + i * 80) % 256;
      px[p * 3 + 1] = (p * 3) % 256;
      px[p * 3 + 2] = 128;
    }
    const file = `viz/images/${i}.png`;
    await writePng(dir, file, px, size, size, 3);
    index.images.push({ file, label: i, width: size, height: size });
  }
  for (let e = 0; e < epochs; e++) {
    const ep: VizIndex["epochs"][number] = {
      epoch: e,
      step: e * 10,
      filters: [],
      activations: [],
      gradcam: [],
    };
    const layers = [{ name: "conv2d", ch: 4, hw: 8 }, { name: "conv2d_1", ch: 8, hw: 4 }];
    for (const [li, l] of layers.entries()) {
      const m = buildMosaic(l.ch, 3, 3, 8, 1, (t, x, y) => viridis(((t + x + y + e) % 5) / 4));
      const file = `viz/epoch-${e}/filters-${l.name}.png`;
      await writePng(dir, file, m.data, m.width, m.height, 3);
      ep.filters.push({
        layer: l.name,
        kind: li === 0 ? "rgb" : "grid",
        shape: [3, 3, li === 0 ? 3 : 4, l.ch],
        file,
        cols: m.cols,
        rows: m.rows,
        tileW: 3,
        tileH: 3,
        count: l.ch,
        gap: 1,
      });
      for (let i = 0; i < index.images.length; i++) {
        const a = buildMosaic(
          l.ch,
          l.hw,
          l.hw,
          8,
          1,
          (t, x, y) => viridis(Math.abs(Math.sin((x + 1) * (y + 1) * (t + 1) * (e + 1) * (i + 1)))),
        );
        const afile = `viz/epoch-${e}/act-${i}-${l.name}.png`;
        await writePng(dir, afile, a.data, a.width, a.height, 3);
        ep.activations.push({
          image: i,
          layer: l.name,
          shape: [l.hw, l.hw, l.ch],
          file: afile,
          cols: a.cols,
          rows: a.rows,
          tileW: l.hw,
          tileH: l.hw,
          count: l.ch,
          gap: 1,
        });
      }
    }
    for (let i = 0; i < index.images.length; i++) {
      const hw = 4;
      const rgba = new Uint8Array(hw * hw * 4);
      for (let p = 0; p < hw * hw; p++) {
        const [r, g, b] = jet(p / (hw * hw - 1));
        rgba.set([r, g, b, 102], p * 4);
      }
      const gfile = `viz/epoch-${e}/gradcam-${i}.png`;
      await writePng(dir, gfile, rgba, hw, hw, 4);
      ep.gradcam.push({
        image: i,
        file: gfile,
        layer: "conv2d_1",
        predicted: (i + e) % 3,
        prob: 0.8,
        label: i,
      });
    }
    index.epochs.push(ep);
  }
  await Deno.mkdir(join(dir, "viz"), { recursive: true });
  await writeJsonAtomic(join(dir, "viz", "index.json"), index);
  return index;
}

/** Writes a small evaluation.json with one wrong-image PNG. */
export async function writeFakeEvaluation(dir: string): Promise<EvaluationReport> {
  const px = new Uint8Array(8 * 8 * 3).fill(200);
  await writePng(dir, "viz/wrong/0.png", px, 8, 8, 3);
  const report: EvaluationReport = {
    format: 1,
    split: "test",
    checkpoint: "best",
    createdAt: new Date(Date.UTC(2025, 0, 2)).toISOString(),
    examples: 30,
    accuracy: 0.7,
    loss: 0.8,
    classNames: ["cat", "dog", "fox"],
    perClass: [
      { class: 0, name: "cat", count: 10, accuracy: 0.9 },
      { class: 1, name: "dog", count: 10, accuracy: 0.6 },
      { class: 2, name: "fox", count: 10, accuracy: 0.6 },
    ],
    confusion: [[9, 1, 0], [2, 6, 2], [1, 3, 6]],
    wrong: [{ index: 4, label: 1, predicted: 0, prob: 0.97, file: "viz/wrong/0.png" }],
  };
  await writeJsonAtomic(join(dir, "evaluation.json"), report);
  return report;
}
