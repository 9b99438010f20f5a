/**
 * Mosaics with a short caption under each tile (a filter index and an activation value), drawn
 * with a 3x5-pixel font so the PNG says what each tile is without a legend. Tiles smaller than
 * `minTile` pixels are enlarged by a whole factor (nearest neighbour: the pixels stay visible).
 *
 * @module
 */
import { buildMosaic, type MosaicImage } from "./mosaic.ts";

/** 3x5 glyphs, rows top to bottom, 3 bits each (4 = left column). */
const GLYPHS: Record<string, number[]> = {
  "0": [7, 5, 5, 5, 7],
  "1": [2, 6, 2, 2, 7],
  "2": [7, 1, 7, 4, 7],
  "3": [7, 1, 3, 1, 7],
  "4": [5, 5, 7, 1, 1],
  "5": [7, 4, 7, 1, 7],
  "6": [7, 4, 7, 5, 7],
  "7": [7, 1, 2, 2, 2],
  "8": [7, 5, 7, 5, 7],
  "9": [7, 5, 7, 1, 7],
  ".": [0, 0, 0, 0, 2],
  "-": [0, 0, 7, 0, 0],
  "+": [0, 2, 7, 2, 0],
  "e": [0, 7, 7, 4, 7],
  "#": [5, 7, 5, 7, 5],
  "k": [4, 5, 6, 5, 5],
  " ": [0, 0, 0, 0, 0],
};

/** Height in pixels of the caption strip under each tile. */
export const LABEL_HEIGHT = 7;

/** Width in pixels of `text` in the caption font (characters it lacks draw as spaces). */
export function labelWidth(text: string): number {
  return Math.max(0, text.length * 4 - 1);
}

/** A labelled mosaic and its layout. */
export interface LabelledMosaic extends MosaicImage {
  /** Tile width in pixels (after enlarging). */
  tileW: number;
  /** Tile height in pixels, caption strip included. */
  tileH: number;
  /** Height of the caption strip at the bottom of each tile. */
  labelH: number;
  /** The whole factor tiles were enlarged by. */
  scale: number;
  /** Gap between tiles in pixels. */
  gap: number;
  /** Tiles drawn. */
  count: number;
}

/**
 * Lays out `count` tiles of `tileW` x `tileH` pixels with a caption under each, `cols` per row.
 * `pixel(tile, x, y)` gives a tile pixel's RGB in the tile's own coordinates; `label(tile)` its
 * caption (digits, `.`, `-`, `+`, `e`, `#`, `k`, space; cut to the tile's width).
 *
 * @example
 * ```ts
 * import { labelledMosaic } from "./tile_labels.ts";
 * const m = labelledMosaic(2, 8, 8, 2, (t) => [t * 200, 0, 0], (t) => `#${t}`, { minTile: 16 });
 * console.log(m.scale, m.tileW, m.tileH); // 2 16 23
 * ```
 */
export function labelledMosaic(
  count: number,
  tileW: number,
  tileH: number,
  cols: number,
  pixel: (tile: number, x: number, y: number) => readonly [number, number, number],
  label: (tile: number) => string,
  options: { minTile?: number; gap?: number } = {},
): LabelledMosaic {
  const minTile = options.minTile ?? 32;
  const scale = Math.max(1, Math.ceil(minTile / Math.max(1, Math.min(tileW, tileH))));
  const w = tileW * scale;
  const h = tileH * scale + LABEL_HEIGHT;
  const gap = options.gap ?? 2;
  const labels = Array.from({ length: count }, (_, t) => label(t));
  const white = [255, 255, 255] as const;
  const ink = [40, 40, 40] as const;
  const m = buildMosaic(count, w, h, cols, gap, (t, x, y) => {
    if (y < tileH * scale) return pixel(t, Math.floor(x / scale), Math.floor(y / scale));
    const ly = y - tileH * scale - 1; // one blank row above the text
    if (ly < 0 || ly >= 5) return white;
    const text = labels[t];
    const lx = x - 1;
    if (lx < 0) return white;
    const ch = text[Math.floor(lx / 4)];
    const col = lx % 4;
    if (ch === undefined || col === 3) return white;
    const rows = GLYPHS[ch] ?? GLYPHS[" "];
    return (rows[ly] >> (2 - col)) & 1 ? ink : white;
  });
  return { ...m, tileW: w, tileH: h, labelH: LABEL_HEIGHT, scale, gap, count };
}

/**
 * A compact number for a caption: 3 significant digits, exponent form outside 0.01..9999
 * (`12.3`, `0.456`, `1.2e-5`).
 *
 * @example
 * ```ts
 * import { shortNumber } from "./tile_labels.ts";
 * console.log(shortNumber(12.345), shortNumber(0.000012)); // 12.3 1.2e-5
 * ```
 */
export function shortNumber(v: number): string {
  if (!Number.isFinite(v)) return "-";
  if (v === 0) return "0";
  const a = Math.abs(v);
  if (a >= 0.01 && a < 1e4) return String(Number(v.toPrecision(3)));
  const [m, e] = v.toExponential(1).split("e");
  return `${m.replace(/\.0$/, "")}e${Number(e)}`;
}
