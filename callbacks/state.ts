/**
 * Saving and restoring every callback's state (for checkpoints and resume).
 *
 * @module
 */
import type { Callback } from "../core/callback.ts";

/**
 * Returns `{ [callback.name]: callback.getState() }` for the callbacks that have state,
 * checked to be plain JSON (so what is restored equals what was saved). Throws when two
 * stateful callbacks share a name or a state does not survive JSON.
 *
 * @example
 * ```ts
 * import { collectCallbackStates } from "./state.ts";
 * import { EarlyStopping } from "./early_stopping.ts";
 * const states = collectCallbackStates([new EarlyStopping()]);
 * // { EarlyStopping: { monitor: { best: null, warned: false }, wait: 0, ... } }
 * ```
 */
export function collectCallbackStates(callbacks: readonly Callback[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const cb of callbacks) {
    if (!cb.getState) continue;
    if (cb.name in out) {
      throw new Error(
        `callback state: two callbacks are named "${cb.name}"; give each a unique name option.`,
      );
    }
    const state = cb.getState();
    try {
      out[cb.name] = JSON.parse(JSON.stringify(state ?? null));
    } catch (e) {
      throw new Error(
        `callback state: ${cb.name}.getState() did not return plain JSON (${
          (e as Error).message
        }).`,
      );
    }
  }
  return out;
}

/**
 * Gives each callback its saved state (by name). Returns the names of saved states that no
 * callback took (e.g. a callback removed since), so the caller can warn about them.
 */
export function restoreCallbackStates(
  callbacks: readonly Callback[],
  states: Readonly<Record<string, unknown>>,
): string[] {
  const used = new Set<string>();
  for (const cb of callbacks) {
    if (!cb.setState || !(cb.name in states)) continue;
    cb.setState(states[cb.name]);
    used.add(cb.name);
  }
  return Object.keys(states).filter((k) => !used.has(k));
}
