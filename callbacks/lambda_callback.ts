/**
 * LambdaCallback: a callback made of plain functions.
 *
 * @module
 */
import { type Callback, CALLBACK_HOOKS } from "../core/train/callback.ts";

/** The hooks of a {@link LambdaCallback}, all optional: those of `Callback`, plus a name. */
export interface LambdaHooks extends Pick<Callback, (typeof CALLBACK_HOOKS)[number]> {
  /** Name used in errors and events. Default `LambdaCallback`. */
  name?: string;
}

const HOOKS = CALLBACK_HOOKS;

/**
 * Wraps functions as a callback (Keras's `LambdaCallback`); only the hooks given are defined,
 * so the trainer skips the others. Unknown keys are an error (a typo like `onEpochEnds` would
 * otherwise never run).
 *
 * @example
 * ```ts
 * import { LambdaCallback } from "./lambda_callback.ts";
 * const cb = new LambdaCallback({
 *   name: "printer",
 *   onEpochEnd: (epoch, logs) => console.log(epoch + 1, logs.val_loss),
 * });
 * ```
 */
export class LambdaCallback implements Callback {
  readonly name: string;
  onTrainBegin?: LambdaHooks["onTrainBegin"];
  onEpochBegin?: LambdaHooks["onEpochBegin"];
  onBatchBegin?: LambdaHooks["onBatchBegin"];
  onBatchEnd?: LambdaHooks["onBatchEnd"];
  onEpochEnd?: LambdaHooks["onEpochEnd"];
  onTrainEnd?: LambdaHooks["onTrainEnd"];
  getState?: LambdaHooks["getState"];
  setState?: LambdaHooks["setState"];

  /** Creates the callback from hook functions. */
  constructor(hooks: LambdaHooks) {
    this.name = hooks.name ?? "LambdaCallback";
    for (const key of Object.keys(hooks)) {
      if (key === "name") continue;
      if (!(HOOKS as readonly string[]).includes(key)) {
        throw new Error(`${this.name}: unknown hook "${key}"; hooks are ${HOOKS.join(", ")}.`);
      }
      const fn = hooks[key as (typeof HOOKS)[number]];
      if (fn === undefined) continue;
      if (typeof fn !== "function") {
        throw new Error(`${this.name}: hook "${key}" must be a function.`);
      }
      // deno-lint-ignore no-explicit-any
      (this as any)[key] = fn;
    }
  }
}
