/**
 * What differs between Deno and Node for the run files' writers, in one place: letting a
 * timer not keep the process alive (file APIs and their errors are core/fs's). Private to
 * `core/run/`.
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
