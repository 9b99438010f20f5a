/**
 * Per-kernel time profile of a backend: wraps every registered kernel of the backend with a
 * timer. Used by `deno task bench --profile` to see what dominates a training step.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs-core";

/** Accumulated milliseconds and call count per kernel name. */
export type KernelProfile = Map<string, { ms: number; calls: number }>;

/**
 * Wraps every kernel registered for `backendName` with a timer accumulating into the returned
 * profile. Call `stop()` to unwrap. Timing is synchronous (right for wasm and cpu, whose kernels
 * finish before returning).
 */
export function profileKernels(backendName: string): { profile: KernelProfile; stop(): void } {
  const profile: KernelProfile = new Map();
  const restore: (() => void)[] = [];
  for (const config of tf.getKernelsForBackend(backendName)) {
    const original = config.kernelFunc;
    const name = config.kernelName;
    const mutable = config as { kernelFunc: tf.KernelFunc };
    mutable.kernelFunc = (args) => {
      const t0 = performance.now();
      const out = original(args);
      const entry = profile.get(name) ?? { ms: 0, calls: 0 };
      entry.ms += performance.now() - t0;
      entry.calls++;
      profile.set(name, entry);
      return out;
    };
    restore.push(() => mutable.kernelFunc = original);
  }
  return { profile, stop: () => restore.forEach((f) => f()) };
}

/** The profile as text lines, largest total first, with each kernel's share. */
export function formatProfile(profile: KernelProfile, steps: number, top = 40): string[] {
  const rows = [...profile.entries()].sort((a, b) => b[1].ms - a[1].ms);
  const total = rows.reduce((s, [, v]) => s + v.ms, 0);
  return rows.slice(0, top).map(([name, v]) =>
    `${name.padEnd(24)} ${(v.ms / steps).toFixed(1).padStart(9)} ms/step ` +
    `${(100 * v.ms / total).toFixed(1).padStart(5)}%  ${v.calls / steps} calls/step`
  );
}
