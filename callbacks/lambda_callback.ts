/**
 * LambdaCallback: a callback made of plain functions.
 *
 * @module
 */
import { type Callback, CALLBACK_HOOKS, type TrainContext } from "../core/train/callback.ts";
import type { Logs } from "../core/train/logs.ts";

/** The hooks of a {@link LambdaCallback}, all optional. */
export interface LambdaHooks {
  /** Name used in errors and events. Default `LambdaCallback`. */
  name?: string;
  /** The `onTrainBegin` hook (see `Callback`). */
  onTrainBegin?(ctx: TrainContext): void | Promise<void>;
  /** The `onEpochBegin` hook (see `Callback`). */
  onEpochBegin?(epoch: number, ctx: TrainContext): void | Promise<void>;
  /** The `onBatchBegin` hook (see `Callback`). */
  onBatchBegin?(batch: number, ctx: TrainContext): void | Promise<void>;
  /** The `onBatchEnd` hook (see `Callback`). */
  onBatchEnd?(batch: number, logs: Logs, ctx: TrainContext): void | Promise<void>;
  /** The `onEpochEnd` hook (see `Callback`). */
  onEpochEnd?(epoch: number, logs: Logs, ctx: TrainContext): void | Promise<void>;
  /** The `onTrainEnd` hook (see `Callback`). */
  onTrainEnd?(logs: Logs, ctx: TrainContext): void | Promise<void>;
  /** The `getState` hook (see `Callback`). */
  getState?(): unknown;
  /** The `setState` hook (see `Callback`). */
  setState?(state: unknown): void;
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
