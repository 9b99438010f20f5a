/**
 * A runs folder laid out as an attacker (or an unlucky copy) would leave it, for the dashboard's
 * safety tests: a secret file outside the runs folder, and symlinks to it inside runs in place
 * of every run file (`run.json`, `model.txt`, `metrics.jsonl`, `events.jsonl`, `viz/index.json`,
 * `evaluation.json`, `training.csv`), folders linked outside (`checkpoints`, `viz/escape`,
 * `artifacts`, a whole run), a FIFO, a wrong-typed run.json and run ids with odd characters.
 * The secret is one JSON line that every reader would accept, so a reader that followed a link
 * would return it.
 *
 * @module
 */
import { join } from "node:path";
import { writeFakeRun, writeJsonAtomic } from "./fake_run.ts";

/** What {@link leakFixture} made. */
export interface LeakFixture {
  /** The runs folder (absolute). */
  root: string;
  /** The folder outside runs holding the secret (absolute). */
  outside: string;
  /** The marker in every secret file; no response may contain it. */
  marker: string;
  /** Run ids present (valid, damaged and odd). */
  ids: string[];
  /** Removes everything. */
  cleanup(): Promise<void>;
}

/** Files of a run that are replaced by symlinks to the secret in the run `evil`. */
export const LINKED_FILES = [
  "model.txt",
  "metrics.jsonl",
  "events.jsonl",
  "evaluation.json",
  "training.csv",
  "viz/index.json",
] as const;

/** Run ids with characters that need encoding in a URL. */
export const ODD_IDS = ["a b", "ü-run", "a+b", "semi;colon", "q'uote", "pct%41", "x.y", "-dash"];

async function mkfifo(path: string): Promise<void> {
  const out = await new Deno.Command("mkfifo", { args: [path] }).output();
  if (!out.success) throw new Error(`mkfifo ${path} failed`);
}

/** Builds the fixture (see the module doc). */
export async function leakFixture(): Promise<LeakFixture> {
  const base = await Deno.makeTempDir({ prefix: "convdeck-leak-" });
  const root = join(base, "runs");
  const outside = join(base, "outside");
  await Deno.mkdir(root);
  await Deno.mkdir(outside);
  const marker = `SECRET-${crypto.randomUUID()}`;
  const secretLine = JSON.stringify({
    id: marker,
    status: "completed",
    experiment: marker,
    accuracy: 1,
    images: [],
    epochs: [],
    epoch: 0,
    step: 0,
    time: 0,
    type: marker,
    marker,
  }) + "\n";
  const secret = join(outside, "secret.json");
  await Deno.writeTextFile(secret, secretLine);
  await Deno.writeTextFile(join(outside, "run.json"), secretLine);
  await Deno.writeTextFile(join(outside, "model.json"), secretLine);
  await Deno.writeTextFile(join(outside, marker), secretLine);

  const ids: string[] = [];
  const fake = async (id: string, opts: Record<string, unknown> = {}) => {
    await writeFakeRun(root, { id, epochs: 4, batchesPerEpoch: 3, ...opts });
    ids.push(id);
    return join(root, id);
  };
  await fake("good", { viz: true, evaluation: true });
  await fake("live", { status: "running", tornLastLine: true, malformedLine: true });
  for (const id of ODD_IDS) await fake(id);

  // every run file a symlink to the secret; folders linked outside
  const evil = await fake("evil", { viz: true, evaluation: true });
  for (const rel of LINKED_FILES) {
    await Deno.remove(join(evil, rel)).catch(() => {});
    await Deno.symlink(secret, join(evil, rel));
  }
  await Deno.remove(join(evil, "checkpoints"), { recursive: true }).catch(() => {});
  await Deno.symlink(outside, join(evil, "checkpoints"));
  await Deno.symlink(outside, join(evil, "viz", "escape"));
  await Deno.symlink(outside, join(evil, "artifacts"));
  await Deno.symlink(secret, join(evil, "viz", "secret.png"));

  // run.json itself a symlink to the secret
  const linkjson = await fake("linkjson");
  await Deno.remove(join(linkjson, "run.json"));
  await Deno.symlink(secret, join(linkjson, "run.json"));
  // a whole run folder linked outside
  await Deno.symlink(outside, join(root, "linkrun"));
  ids.push("linkrun");
  // FIFOs in place of run.json and metrics.jsonl
  const fifo = await fake("fifo");
  await Deno.remove(join(fifo, "run.json"));
  await mkfifo(join(fifo, "run.json"));
  const fifoMetrics = await fake("fifo-metrics");
  await Deno.remove(join(fifoMetrics, "metrics.jsonl"));
  await mkfifo(join(fifoMetrics, "metrics.jsonl"));
  // wrong-typed fields
  const typed = await fake("typed");
  const info = JSON.parse(await Deno.readTextFile(join(typed, "run.json")));
  await writeJsonAtomic(join(typed, "run.json"), {
    ...info,
    createdAt: 5,
    epochs: "many",
    best: { val_loss: "low" },
    backend: 7,
  });
  return {
    root,
    outside,
    marker,
    ids: [...new Set(ids)],
    // The dashboard saves its run index in the background: retry while that write lands.
    cleanup: async () => {
      for (let i = 0;; i++) {
        try {
          return await Deno.remove(base, { recursive: true });
        } catch (err) {
          if (i >= 20) throw err;
          await new Promise((r) => setTimeout(r, 50));
        }
      }
    },
  };
}
