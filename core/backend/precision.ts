/**
 * The compute precision a run asks for (`--precision fp32|bf16|auto`) and what it gets on the
 * backend in use: `bf16` mixed precision runs the native backend's convolutions and matrix
 * products in bfloat16 with float32 accumulation (the weights, the optimizer state and the
 * loss stay float32); `auto` picks it only where the CPU has native bf16 (AVX512-BF16 or AMX,
 * as oneDNN reports it); `fp32` everywhere else. The names only (no imports): options and
 * run files check them; core/backend/select.ts applies them (`applyPrecision`).
 *
 * @example
 * ```ts
 * import { PRECISIONS } from "./precision.ts";
 * console.log(PRECISIONS.includes("bf16")); // true
 * ```
 *
 * @module
 */
/** A precision that cannot run here (bad name, backend or CPU): the message says the fix. */
export class PrecisionError extends Error {
  /** The error's name. */
  override name = "PrecisionError";
}

/** A precision a user can ask for. */
export type Precision = "fp32" | "bf16" | "auto";

/** The precision a run computes in. */
export type ResolvedPrecision = Exclude<Precision, "auto">;

/** Every accepted {@linkcode Precision}, for flag validation. */
export const PRECISIONS: readonly Precision[] = ["fp32", "bf16", "auto"];

/**
 * The `--precision` flag's value, checked: undefined when not given; throws a
 * {@linkcode PrecisionError} naming the accepted values otherwise.
 *
 * @example
 * ```ts
 * import { precisionFlag } from "./precision.ts";
 * console.log(precisionFlag("bf16")); // bf16
 * ```
 */
export function precisionFlag(v: string | undefined): Precision | undefined {
  if (v !== undefined && !PRECISIONS.includes(v as Precision)) {
    throw new PrecisionError(`--precision must be one of ${PRECISIONS.join(", ")}, got "${v}"`);
  }
  return v as Precision | undefined;
}
