/**
 * Whether a process of this host lives, from Linux's `/proc/<pid>/stat`: the lock's test of
 * a stale owner. Its own module because it reads a system file (no run file), on `node:fs`,
 * so it runs in Deno and Node.
 *
 * @example
 * ```ts
 * import process from "node:process";
 * import { processAlive } from "./process_alive.ts";
 * console.log(processAlive(process.pid)); // true
 * ```
 *
 * @module
 */
import { readFileSync } from "node:fs";
import process from "node:process";

/**
 * Whether process `pid` exists on this host (Linux `/proc`; elsewhere: assume it does). A
 * zombie (killed, not yet reaped by its parent) counts as gone.
 *
 * @example
 * ```ts
 * import { processAlive } from "./process_alive.ts";
 * console.log(processAlive(2 ** 22 + 1)); // false on Linux (no such pid)
 * ```
 */
export function processAlive(pid: number): boolean {
  if (pid === process.pid) return true;
  if (process.platform !== "linux") return true;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    // "pid (comm) S ...": the state follows the last ")" (comm may contain one); a zombie
    // (killed, not yet reaped) is gone.
    return stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3) !== "Z";
  } catch (err) {
    // Not allowed to look: unknown, so alive (the heartbeat's age still tells).
    return (err as { code?: unknown })?.code !== "ENOENT";
  }
}
