/**
 * Conv kernels as pictures: the first layer's filters as RGB tiles, deeper layers' filters as
 * strips of per-input-channel kernels.
 *
 * @module
 */
import { buildMosaic, type MosaicImage } from "./mosaic.ts";
import { viridis } from "./colormap.ts";

/** A rendered filter mosaic with its layout. */
export interface FilterMosaic extends MosaicImage {
  /** `rgb` (3 input channels) or `grid` (one grey-scale kernel per input channel). */
  kind: "rgb" | "grid";
  /** Tile width (a whole filter). */
  tileW: number;
  /** Tile height. */
  tileH: number;
  /** Filters drawn. */
  count: number;
}

/**
 * Renders a conv kernel of shape `[kh, kw, in, out]` (row-major, as tfjs stores it). With 3
 * input channels each filter is one RGB tile (normalised per filter); otherwise each filter is
 * a strip of `min(in, maxInputs)` kernels, 1 pixel apart, coloured with viridis (normalised
 * per filter). At most `maxFilters` filters, `cols` per row.
 *
 * @example
 * ```ts
 * import { renderFilters } from "./filters.ts";
 * const m = renderFilters(new Float32Array(3 * 3 * 3 * 2).map((_, i) => i), [3, 3, 3, 2]);
 * console.log(m.kind, m.count); // rgb 2
 * ```
 */
export function renderFilters(
  kernel: Float32Array,
  shape: readonly number[],
  options: { maxFilters?: number; maxInputs?: number; cols?: number } = {},
): FilterMosaic {
  const [kh, kw, cin, cout] = shape;
  if (shape.length !== 4 || kernel.length !== kh * kw * cin * cout) {
    throw new Error(`renderFilters: kernel of ${kernel.length} values does not match [${shape}]`);
  }
  const count = Math.min(cout, options.maxFilters ?? 64);
  const at = (y: number, x: number, i: number, o: number) =>
    kernel[((y * kw + x) * cin + i) * cout + o];
  const ranges = Array.from({ length: count }, (_, o) => {
    let lo = Infinity, hi = -Infinity;
    for (let y = 0; y < kh; y++) {
      for (let x = 0; x < kw; x++) {
        for (let i = 0; i < cin; i++) {
          const v = at(y, x, i, o);
          if (v < lo) lo = v;
          if (v > hi) hi = v;
        }
      }
    }
    return [lo, hi - lo || 1] as const;
  });
  const norm = (v: number, o: number) => (v - ranges[o][0]) / ranges[o][1];
  if (cin === 3) {
    const m = buildMosaic(count, kw, kh, options.cols ?? 8, 1, (o, x, y) => [
      Math.round(255 * norm(at(y, x, 0, o), o)),
      Math.round(255 * norm(at(y, x, 1, o), o)),
      Math.round(255 * norm(at(y, x, 2, o), o)),
    ]);
    return { ...m, kind: "rgb", tileW: kw, tileH: kh, count };
  }
  const inputs = Math.min(cin, options.maxInputs ?? 8);
  const tileW = inputs * (kw + 1) - 1;
  const m = buildMosaic(count, tileW, kh, options.cols ?? 4, 2, (o, x, y) => {
    const i = Math.floor(x / (kw + 1));
    const kx = x % (kw + 1);
    if (kx === kw) return [255, 255, 255];
    return viridis(norm(at(y, kx, i, o), o));
  });
  return { ...m, kind: "grid", tileW, tileH: kh, count };
}
