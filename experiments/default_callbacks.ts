/**
 * The default callback set of the ready experiments.
 *
 * @module
 */
import type { Callback } from "../core/callback.ts";
import type { TrainOptions } from "../core/experiment.ts";

/** Tuning of {@link defaultCallbacks}. */
export interface DefaultCallbackOptions {
  /** ReduceLROnPlateau patience (epochs). */
  reduceLrPatience?: number;
  /** EarlyStopping patience (epochs). */
  earlyStoppingPatience?: number;
}

/** The full default callback set (filled in when the callbacks land). */
export function defaultCallbacks(_o: TrainOptions, _d: DefaultCallbackOptions = {}): Callback[] {
  return [];
}
