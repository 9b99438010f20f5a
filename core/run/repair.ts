/**
 * Before a resumed process appends to a run: a torn last line of the JSON-lines files gets
 * its newline (so the next record starts on its own line) and temporary files left by a crash
 * are removed. Shared by the trainer's writer and the tracking client; through core/fs (the
 * confinement policy and the one temporary-name scheme), so it runs in Deno and Node.
 *
 * @example
 * ```ts
 * import { repairAfterCrash } from "./repair.ts";
 * await repairAfterCrash(await Deno.makeTempDir());
 * ```
 *
 * @module
 */
import { removeTemps } from "../fs/atomic.ts";
import { type ConfinedFile, openConfinedAppend } from "../fs/confine.ts";
import { RUN_FILES } from "./format.ts";

/** Ends torn last lines of `metrics.jsonl`/`events.jsonl` and removes crash leftovers. */
export async function repairAfterCrash(dir: string): Promise<void> {
  for (const name of [RUN_FILES.metrics, RUN_FILES.events]) {
    let file: ConfinedFile;
    try {
      file = await openConfinedAppend(dir, name, { read: true, create: false });
    } catch {
      continue;
    }
    try {
      const size = (await file.stat()).size;
      if (size > 0) {
        const last = new Uint8Array(1);
        await file.read(last, 0, 1, size - 1);
        if (last[0] !== 0x0a) await file.write(new Uint8Array([0x0a]));
      }
    } finally {
      await file.close();
    }
  }
  await removeTemps(dir);
}
