/**
 * A runs folder for the runs table, the `runs` CLI and their browser tests: five finished runs
 * with different learning rates, optimizers and widths (two tagged `baseline`), one archived,
 * and a `running` run whose training process was killed (a heartbeat naming a dead pid).
 *
 * @module
 */
import { join } from "node:path";
import { writeFakeRun, writeJsonAtomic } from "./fake_run.ts";
import { thisHost } from "../../core/run/lock.ts";

/** Ids of the fixture's runs. */
export const FIXTURE_IDS = {
  lrSmall: "default-20261101-100000",
  lrMid: "default-20261101-110000",
  lrBig: "default-20261101-120000",
  sgd: "default-20261101-130000",
  archived: "default-20261101-140000",
  killed: "default-20261101-150000",
} as const;

/** A pid no process has (Linux pids stay below 2^22). */
export const DEAD_PID = 2 ** 22 + 4321;

/** Writes the fixture into `root` and returns it. */
export async function writeRunsFixture(root: string): Promise<string> {
  const runs: [string, number, string, number, number][] = [
    [FIXTURE_IDS.lrSmall, 0.001, "adam", 16, 12],
    [FIXTURE_IDS.lrMid, 0.005, "adam", 32, 10],
    [FIXTURE_IDS.lrBig, 0.05, "adam", 16, 6],
    [FIXTURE_IDS.sgd, 0.01, "sgd", 32, 8],
    [FIXTURE_IDS.archived, 0.002, "rmsprop", 16, 4],
  ];
  let hour = 10;
  for (const [id, lr, optimizer, width, epochs] of runs) {
    const dir = await writeFakeRun(root, {
      id,
      experiment: "default",
      epochs,
      startTime: Date.UTC(2026, 10, 1, hour++),
      config: {
        epochs,
        batchSize: 32,
        learningRate: lr,
        imageSize: 32,
        seed: 1,
        params: { width, optimizer, dropout: 0 },
      },
    });
    // Distinct results: the small learning rate wins.
    const info = JSON.parse(await Deno.readTextFile(join(dir, "run.json")));
    info.best.val_acc.value = 0.95 - lr * 5;
    info.test = { accuracy: 0.94 - lr * 5, examples: 600 };
    info.last = { val_acc: 0.9 - lr * 5, val_loss: 0.4 + lr, images_per_s: 700 + width };
    await writeJsonAtomic(join(dir, "run.json"), info);
  }
  const meta = (id: string, m: Record<string, unknown>) =>
    writeJsonAtomic(join(root, id, "meta.json"), { tags: [], archived: false, revision: 1, ...m });
  await meta(FIXTURE_IDS.lrSmall, { tags: ["baseline"], name: "small lr" });
  await meta(FIXTURE_IDS.lrMid, { tags: ["baseline", "wide"] });
  await meta(FIXTURE_IDS.archived, { archived: true, note: "a bad idea" });
  const killed = await writeFakeRun(root, {
    id: FIXTURE_IDS.killed,
    experiment: "default",
    status: "running",
    epochs: 3,
    startTime: Date.UTC(2026, 10, 1, 15),
    config: {
      epochs: 20,
      batchSize: 32,
      learningRate: 0.003,
      imageSize: 32,
      seed: 1,
      params: { width: 16, optimizer: "adam", dropout: 0.3 },
    },
  });
  const now = Date.now();
  await Deno.writeTextFile(
    join(killed, "heartbeat"),
    JSON.stringify({ host: thisHost(), pid: DEAD_PID, token: "t", since: now, time: now }),
  );
  return root;
}
