/**
 * Metric logs passed to callbacks, keyed like Keras: `loss`, `acc`, `val_loss`, `val_acc`,
 * `lr`, plus anything a callback adds. Values are plain numbers (never tensors); a value may be
 * `NaN` when training diverged.
 *
 * Callbacks receive a frozen copy, so one callback can never change what the next
 * one sees (Keras shares one mutable dict).
 */
export type Logs = Readonly<Record<string, number>>;

/** Returns a frozen shallow copy of `logs`, the form in which callbacks receive them. */
export function freezeLogs(logs: Record<string, number>): Logs {
  return Object.freeze({ ...logs });
}
