/**
 * A run's state as readers show it: run.json's status, except that a run whose run.json says
 * `running` but whose process is gone (its heartbeat, the run lock of `lock.ts`, is stale) is
 * `crashed`. Nothing is written to mark a crash: it is derived each time a run is read, so a
 * run that is resumed is `running` again at once.
 *
 * @example
 * ```ts
 * import { derivedStatus, resumeCommand } from "./state.ts";
 * const info = { status: "running" as const, updatedAt: "2026-01-01T00:00:00Z" };
 * const s = await derivedStatus("runs/default-20260101-000000", info);
 * console.log(s.status, s.status === "crashed" ? resumeCommand("runs/default-20260101-000000") : "");
 * ```
 *
 * @module
 */
import { basename, isAbsolute, relative } from "node:path";
import type { RunInfo, RunStatus } from "./format.ts";
import { crashReasonOf, type Heartbeat, runCrashReason } from "./lock.ts";

/** Every state a reader may show: run.json's statuses plus the derived `crashed`. */
export const DERIVED_STATUSES = ["running", "completed", "stopped", "failed", "crashed"] as const;

/** A run's state as shown. */
export type DerivedStatus = RunStatus | "crashed";

/** What {@linkcode derivedStatus} returns. */
export interface RunState {
  /** `crashed` for a `running` run without a live process, else run.json's status. */
  status: DerivedStatus;
  /** Why a crashed run is judged dead (its pid is gone, its heartbeat is old, or none). */
  crashReason?: "dead-process" | "old-heartbeat" | "no-heartbeat";
}

/**
 * The state of the run in `runDir` whose run.json is `info` (reads the heartbeat if running).
 *
 * @example
 * ```ts
 * import { derivedStatus } from "./state.ts";
 * const s = await derivedStatus("runs/x", { status: "completed", updatedAt: "" });
 * console.log(s.status); // "completed"
 * ```
 */
export async function derivedStatus(
  runDir: string,
  info: Pick<RunInfo, "status" | "updatedAt">,
  now: number = Date.now(),
): Promise<RunState> {
  if (info.status !== "running") return { status: info.status };
  const updated = Date.parse(info.updatedAt);
  const reason = await runCrashReason(runDir, Number.isFinite(updated) ? updated : 0, now);
  return reason ? { status: "crashed", crashReason: reason } : { status: "running" };
}

/**
 * {@linkcode derivedStatus} from a heartbeat already read (`undefined`: none), synchronously.
 *
 * @example
 * ```ts
 * import { derivedStatusOf } from "./state.ts";
 * derivedStatusOf({ status: "running", updatedAt: "2020-01-01T00:00:00Z" }, undefined).status; // "crashed"
 * ```
 */
export function derivedStatusOf(
  info: Pick<RunInfo, "status" | "updatedAt">,
  hb: Heartbeat | undefined,
  now: number = Date.now(),
): RunState {
  if (info.status !== "running") return { status: info.status };
  const updated = Date.parse(info.updatedAt);
  const reason = crashReasonOf(hb, Number.isFinite(updated) ? updated : 0, now);
  return reason ? { status: "crashed", crashReason: reason } : { status: "running" };
}

/**
 * The command that continues a stopped or crashed run (path relative to `cwd` when inside).
 * A run of the tracking API (`tracked`) was started by the user's own script: the answer is
 * to rerun it with `init({ resume })`.
 *
 * @example
 * ```ts
 * import { resumeCommand } from "./state.ts";
 * resumeCommand("runs/default-20261201-101010"); // "deno task train --resume runs/default-20261201-101010"
 * resumeCommand("runs/mlp-20261201-101010", Deno.cwd(), true);
 * // 'rerun your script with init({ resume: "mlp-20261201-101010" })'
 * ```
 */
export function resumeCommand(
  runDir: string,
  cwd: string = Deno.cwd(),
  tracked = false,
): string {
  if (tracked) {
    return `rerun your script with init({ resume: ${JSON.stringify(basename(runDir))} })`;
  }
  const rel = isAbsolute(runDir) ? relative(cwd, runDir) : runDir;
  const path = rel && !rel.startsWith("..") ? rel : runDir;
  return `deno task train --resume ${/^[\w./-]+$/.test(path) ? path : JSON.stringify(path)}`;
}
