/**
 * Before a resumed process appends to a run: a torn last line of the JSON-lines files gets
 * its newline (so the next record starts on its own line) and temporary files left by a crash
 * are removed. Shared by the trainer's writer and the tracking client; `node:` APIs only.
 *
 * @example
 * ```ts
 * import { repairAfterCrash } from "./repair.ts";
 * await repairAfterCrash(await Deno.makeTempDir());
 * ```
 *
 * @module
 */
import { open, readdir, rm } from "node:fs/promises";
import { join } from "node:path";
import { RUN_FILES } from "./format.ts";

/** Ends torn last lines of `metrics.jsonl`/`events.jsonl` and removes crash leftovers. */
export async function repairAfterCrash(dir: string): Promise<void> {
  for (const name of [RUN_FILES.metrics, RUN_FILES.events]) {
    const file = await open(join(dir, name), "r+").catch(() => undefined);
    if (!file) continue;
    try {
      const { size } = await file.stat();
      if (size > 0) {
        const last = new Uint8Array(1);
        await file.read(last, 0, 1, size - 1);
        if (last[0] !== 0x0a) await file.write("\n", size);
      }
    } finally {
      await file.close();
    }
  }
  for (const e of await readdir(dir, { withFileTypes: true })) {
    if (e.isFile() && /\.\d+\.[0-9a-f]{8}\.tmp$/.test(e.name)) {
      await rm(join(dir, e.name), { force: true }).catch(() => {});
    }
  }
}
