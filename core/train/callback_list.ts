/**
 * The one fan-out of training events to callbacks, and the one place their state is saved and
 * restored (as Keras's `CallbackList`): hooks are awaited in list order, a failing hook is a
 * {@linkcode CallbackError} naming the callback, names are unique, states are plain JSON.
 *
 * @example
 * ```ts
 * import { CallbackList } from "./callback_list.ts";
 * const list = new CallbackList([{ name: "printer", onEpochEnd: (e) => console.log(e) }]);
 * const states = list.state(); // {} (printer has no state)
 * list.restore(states);
 * ```
 *
 * @module
 */
import type { Callback } from "./callback.ts";

/** Thrown when a callback hook fails; names the callback and the hook. */
export class CallbackError extends Error {
  /** Creates the error. */
  constructor(readonly callback: string, readonly hook: string, cause: unknown) {
    super(
      `Callback "${callback}" failed in ${hook}: ${
        cause instanceof Error ? cause.message : String(cause)
      }`,
      { cause },
    );
    this.name = "CallbackError";
  }
}

/** The hooks a {@linkcode CallbackList} fans out (every `Callback` method but state). */
export type Hook = Exclude<keyof Callback, "name" | "getState" | "setState">;

/** The arguments of hook `H`. */
export type HookArgs<H extends Hook> = Parameters<NonNullable<Callback[H]>>;

/** An ordered list of callbacks with unique names. */
export class CallbackList {
  /** The callbacks, in call order. */
  readonly callbacks: readonly Callback[];

  /** Checks that the callbacks have unique names (errors, events and state use them). */
  constructor(callbacks: readonly Callback[]) {
    const seen = new Set<string>();
    for (const cb of callbacks) {
      if (seen.has(cb.name)) {
        throw new Error(
          `callback state: two callbacks are named "${cb.name}"; give each a unique name option.`,
        );
      }
      seen.add(cb.name);
    }
    this.callbacks = [...callbacks];
  }

  /** Calls `hook` on every callback that has it, in order, awaiting each. */
  async call<H extends Hook>(hook: H, ...args: HookArgs<H>): Promise<void> {
    for (const cb of this.callbacks) {
      const fn = cb[hook] as ((...a: unknown[]) => unknown) | undefined;
      if (typeof fn !== "function") continue;
      try {
        await fn.apply(cb, args);
      } catch (err) {
        throw new CallbackError(cb.name, hook, err);
      }
    }
  }

  /**
   * `{ [name]: getState() }` for the callbacks that have state, checked to be plain JSON (so
   * what is restored equals what was saved).
   */
  state(): Record<string, unknown> {
    const out: Record<string, unknown> = {};
    for (const cb of this.callbacks) {
      if (!cb.getState) continue;
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

  /** `{ [name]: bytes }` of the callbacks that have binary state now. */
  async binaryState(): Promise<Record<string, Uint8Array>> {
    const out: Record<string, Uint8Array> = {};
    for (const cb of this.callbacks) {
      const bytes = await cb.getBinaryState?.();
      if (bytes) out[cb.name] = bytes;
    }
    return out;
  }

  /** Gives each callback its saved binary state (by name). */
  async restoreBinary(states: Readonly<Record<string, Uint8Array>>): Promise<void> {
    for (const cb of this.callbacks) {
      const bytes = states[cb.name];
      if (bytes && cb.setBinaryState) await cb.setBinaryState(bytes);
    }
  }

  /**
   * Gives each callback its saved state (by name). Returns the names of saved states that no
   * callback took (e.g. a callback removed since), so the caller can warn about them.
   */
  restore(states: Readonly<Record<string, unknown>>): string[] {
    const used = new Set<string>();
    for (const cb of this.callbacks) {
      if (!cb.setState || !(cb.name in states)) continue;
      cb.setState(states[cb.name]);
      used.add(cb.name);
    }
    return Object.keys(states).filter((k) => !used.has(k));
  }
}
