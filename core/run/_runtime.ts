/**
 * What differs between Deno and Node for the run files' writers, in one place: letting a
 * timer not keep the process alive. Private to `core/run/`.
 *
 * @module
 */

/** Lets a timer not keep the process alive: Deno's timers are numbers, Node's objects. */
export function unrefTimer(timer: unknown): void {
  const t = timer as { unref?: () => void };
  if (typeof t?.unref === "function") t.unref();
  else {(globalThis as { Deno?: { unrefTimer(id: number): void } }).Deno?.unrefTimer(
      timer as number,
    );}
}

/**
 * A `node:fs` error as Deno words it: `ENOSPC: no space left on device, write` becomes
 * `No space left on device (ENOSPC, write)`, so messages read the same whichever API failed.
 */
export function plainFsError(err: unknown): unknown {
  const e = err as { code?: unknown; message?: unknown };
  if (!(err instanceof Error) || typeof e.code !== "string") return err;
  const m = /^([A-Z0-9]+): (.*?)(?:, (\w+)(?: .*)?)?$/.exec(err.message);
  if (!m || m[1] !== e.code) return err;
  const text = m[2].charAt(0).toUpperCase() + m[2].slice(1);
  err.message = `${text} (${m[1]}${m[3] ? `, ${m[3]}` : ""})`;
  return err;
}
