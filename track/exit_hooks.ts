/**
 * Ends live tracked runs once when the process does: an unhandled error or rejection as
 * `failed` (with the message), Ctrl-C / SIGTERM as `stopped`, a script that exits without
 * `finish()` as `completed` (or `failed` for a non-zero exit code). Deno: `addEventListener`
 * and `Deno.addSignalListener`; Node: `process.on`. Writes synchronously: exit handlers cannot
 * wait.
 *
 * @module
 */
import process from "node:process";
import type { RunRecorder } from "../core/run/recorder.ts";

const live = new Set<RunRecorder>();
let installed = false;

type DenoLike = {
  addSignalListener(signal: string, fn: () => void): void;
  exit(code: number): never;
  exitCode?: number;
};

function endAll(status: "failed" | "stopped" | "completed", reason?: string): void {
  for (const rec of [...live]) {
    live.delete(rec);
    try {
      rec.finishSync(
        status,
        reason === undefined
          ? {}
          : status === "failed"
          ? { error: reason }
          : { stopReason: reason },
      );
    } catch (err) {
      console.error(`convdeck track: could not end run ${rec.id}: ${(err as Error).message}`);
    }
  }
}

function message(err: unknown): string {
  return err instanceof Error ? `${err.name}: ${err.message}` : String(err);
}

function install(): void {
  if (installed) return;
  installed = true;
  const deno = (globalThis as { Deno?: DenoLike }).Deno;
  if (deno) {
    globalThis.addEventListener("error", (e) => endAll("failed", message((e as ErrorEvent).error)));
    globalThis.addEventListener(
      "unhandledrejection",
      (e) => endAll("failed", message((e as PromiseRejectionEvent).reason)),
    );
    for (const sig of ["SIGINT", "SIGTERM"]) {
      deno.addSignalListener(sig, () => {
        if (live.size === 0) deno.exit(sig === "SIGINT" ? 130 : 143);
        endAll("stopped", `${sig === "SIGINT" ? "Ctrl-C" : "SIGTERM"} (${sig})`);
        deno.exit(sig === "SIGINT" ? 130 : 143);
      });
    }
    globalThis.addEventListener("unload", () => {
      const code = deno.exitCode ?? 0;
      endAll(code === 0 ? "completed" : "failed", code === 0 ? undefined : `exit code ${code}`);
    });
    return;
  }
  const fatal = (err: unknown) => {
    endAll("failed", message(err));
    console.error(err);
    process.exit(1);
  };
  process.on("uncaughtException", fatal);
  process.on("unhandledRejection", fatal);
  for (const sig of ["SIGINT", "SIGTERM"] as const) {
    process.on(sig, () => {
      endAll("stopped", `${sig === "SIGINT" ? "Ctrl-C" : "SIGTERM"} (${sig})`);
      process.exit(sig === "SIGINT" ? 130 : 143);
    });
  }
  process.on("exit", (code) => {
    endAll(code === 0 ? "completed" : "failed", code === 0 ? undefined : `exit code ${code}`);
  });
}

/** Watches `rec` until it finishes (installs the process hooks the first time). */
export function watchRun(rec: RunRecorder): void {
  install();
  live.add(rec);
}

/** Stops watching `rec` (it finished). */
export function forgetRun(rec: RunRecorder): void {
  live.delete(rec);
}
