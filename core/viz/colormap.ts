/**
 * Colormaps for heatmaps: `viridis` ("cold" blue to "hot" yellow, as in the book's activation
 * plots) and `jet` (Grad-CAM overlays, as in keras.io's example).
 *
 * @module
 */

/** RGB bytes. */
export type Rgb = [number, number, number];

const VIRIDIS: Rgb[] = [
  [68, 1, 84],
  [72, 40, 120],
  [62, 74, 137],
  [49, 104, 142],
  [38, 130, 142],
  [31, 158, 137],
  [53, 183, 121],
  [109, 205, 89],
  [180, 222, 44],
  [253, 231, 37],
];

const JET: Rgb[] = [
  [0, 0, 131],
  [0, 60, 170],
  [5, 255, 255],
  [255, 255, 0],
  [250, 0, 0],
  [128, 0, 0],
];

function interpolate(stops: Rgb[], t: number): Rgb {
  const x = Number.isFinite(t) ? Math.min(1, Math.max(0, t)) : 0;
  const pos = x * (stops.length - 1);
  const i = Math.min(stops.length - 2, Math.floor(pos));
  const f = pos - i;
  const a = stops[i], b = stops[i + 1];
  return [
    Math.round(a[0] + (b[0] - a[0]) * f),
    Math.round(a[1] + (b[1] - a[1]) * f),
    Math.round(a[2] + (b[2] - a[2]) * f),
  ];
}

/** Viridis colour for `t` in 0..1 (clamped; NaN gives the coldest colour). */
export function viridis(t: number): Rgb {
  return interpolate(VIRIDIS, t);
}

/** Jet colour for `t` in 0..1 (clamped; NaN gives the coldest colour). */
export function jet(t: number): Rgb {
  return interpolate(JET, t);
}
