/**
 * Weight quantization in tfjs's own format: the bytes and `weightSpecs` entries that plain
 * `tf.loadLayersModel` dequantizes on load (`quantization: { dtype: "uint8" | "uint16", min,
 * scale }`, value = q * scale + min; or `{ dtype: "float16" }`). tfjs's `encodeWeights` does not
 * quantize, so this writes the quantized bytes and specs itself, with the affine range of
 * tfjs-converter (widened to include 0 and nudged so that 0 is exact).
 *
 * @module
 */

/** The quantizations `deno task export --quantize` takes. */
export const QUANTIZATIONS = ["uint8", "uint16", "float16"] as const;

/** A quantization name, or `float32` for none. */
export type Quantization = typeof QUANTIZATIONS[number];

/** One entry of tfjs's `weightSpecs` (the subset convdeck writes). */
export interface WeightSpec {
  /** Weight name. */
  name: string;
  /** Shape. */
  shape: number[];
  /** Dtype of the tensor after loading. */
  dtype: "float32" | "int32" | "bool" | "string" | "complex64";
  /** How the bytes are stored, when not as `dtype`. */
  quantization?: { dtype: "uint8" | "uint16" | "float16"; min?: number; scale?: number };
}

/** Affine range of tfjs-converter: includes 0, nudged so that 0 is a representable value. */
function affine(values: Float32Array, qmax: number): { min: number; scale: number } {
  let lo = 0, hi = 0;
  for (const v of values) {
    if (v < lo) lo = v;
    if (v > hi) hi = v;
  }
  const scale = hi === lo ? 1 : (hi - lo) / qmax;
  const zero = Math.round(-lo / scale);
  return { min: -zero * scale, scale };
}

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** Float32 to IEEE half bits, round to nearest even (overflow to infinity). */
export function toFloat16Bits(value: number): number {
  f32[0] = value;
  const x = u32[0];
  const sign = (x >>> 16) & 0x8000;
  const exp = (x >>> 23) & 0xff;
  let mant = x & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 : 0); // inf, NaN
  const e = exp - 127 + 15;
  if (e >= 0x1f) return sign | 0x7c00;
  if (e <= 0) {
    if (e < -10) return sign; // underflows to zero
    mant |= 0x800000;
    const shift = 14 - e;
    let half = mant >>> shift;
    const rest = mant & ((1 << shift) - 1);
    const mid = 1 << (shift - 1);
    if (rest > mid || (rest === mid && (half & 1))) half++;
    return sign | half;
  }
  let half = (e << 10) | (mant >>> 13);
  const rest = mant & 0x1fff;
  if (rest > 0x1000 || (rest === 0x1000 && (half & 1))) half++;
  // A carry may round up into the exponent (and to infinity): still the right half.
  return sign | half;
}

/**
 * Quantizes float32 weights: returns the new bytes and specs. Non-float32 weights are kept as
 * they are. `data` is the concatenation of the weights in `specs` order (tfjs layout).
 *
 * @example
 * ```ts
 * import { quantizeWeights } from "./quantize.ts";
 * const specs = [{ name: "w", shape: [3], dtype: "float32" as const }];
 * const q = quantizeWeights(new Float32Array([-1, 0, 1]).buffer, specs, "uint8");
 * console.log(q.data.byteLength, q.specs[0].quantization); // 3 { dtype: "uint8", min: ..., scale: ... }
 * ```
 */
export function quantizeWeights(
  data: ArrayBuffer,
  specs: readonly WeightSpec[],
  quantization: Quantization,
): { data: ArrayBuffer; specs: WeightSpec[] } {
  const parts: Uint8Array[] = [];
  const out: WeightSpec[] = [];
  let offset = 0;
  for (const spec of specs) {
    if (spec.quantization) throw new Error(`weight ${spec.name} is already quantized`);
    const n = spec.shape.reduce((a, b) => a * b, 1);
    const bytes = spec.dtype === "bool" ? n : 4 * n * (spec.dtype === "complex64" ? 2 : 1);
    if (spec.dtype === "string") throw new Error(`weight ${spec.name}: string weights unsupported`);
    const raw = new Uint8Array(data, offset, bytes);
    offset += bytes;
    if (spec.dtype !== "float32") {
      parts.push(raw.slice());
      out.push({ ...spec });
      continue;
    }
    const values = new Float32Array(raw.slice().buffer);
    if (quantization === "float16") {
      const q = new Uint16Array(n);
      for (let i = 0; i < n; i++) q[i] = toFloat16Bits(values[i]);
      parts.push(new Uint8Array(q.buffer));
      out.push({ ...spec, quantization: { dtype: "float16" } });
      continue;
    }
    const qmax = quantization === "uint8" ? 255 : 65535;
    const { min, scale } = affine(values, qmax);
    const q = quantization === "uint8" ? new Uint8Array(n) : new Uint16Array(n);
    for (let i = 0; i < n; i++) {
      q[i] = Math.min(qmax, Math.max(0, Math.round((values[i] - min) / scale)));
    }
    parts.push(new Uint8Array(q.buffer));
    out.push({ ...spec, quantization: { dtype: quantization, min, scale } });
  }
  if (offset !== data.byteLength) {
    throw new Error(`the weights have ${data.byteLength} bytes but their specs cover ${offset}`);
  }
  const total = parts.reduce((a, p) => a + p.length, 0);
  const joined = new Uint8Array(total);
  let at = 0;
  for (const p of parts) {
    joined.set(p, at);
    at += p.length;
  }
  return { data: joined.buffer, specs: out };
}
