/**
 * Lays out equally sized tiles in a grid image (RGB bytes), one pixel apart.
 *
 * @module
 */

/** A laid-out mosaic image. */
export interface MosaicImage {
  /** RGB bytes, row-major. */
  data: Uint8Array;
  /** Image width in pixels. */
  width: number;
  /** Image height in pixels. */
  height: number;
  /** Tiles per row. */
  cols: number;
  /** Rows of tiles. */
  rows: number;
}

/** Where the tiles of a tiled picture lie: what an index entry records of its layout. */
export interface TileLayout {
  /** Tiles per row. */
  cols: number;
  /** Rows of tiles. */
  rows: number;
  /** Tile width in pixels (without the gap). */
  tileW: number;
  /** Tile height in pixels. */
  tileH: number;
  /** Tiles drawn (the last row may be partial). */
  count: number;
}

/**
 * Just the {@linkcode TileLayout} fields of a rendered picture (which holds its pixels too).
 *
 * @example
 * ```ts
 * import { tileLayout } from "./mosaic.ts";
 * const m = { data: new Uint8Array(0), cols: 2, rows: 1, tileW: 3, tileH: 3, count: 2 };
 * console.log(tileLayout(m)); // { cols: 2, rows: 1, tileW: 3, tileH: 3, count: 2 }
 * ```
 */
export function tileLayout(m: TileLayout): TileLayout {
  return { cols: m.cols, rows: m.rows, tileW: m.tileW, tileH: m.tileH, count: m.count };
}

/**
 * Builds a mosaic of `count` tiles of `tileW` x `tileH` pixels, `cols` per row, `gap` pixels
 * apart (gaps are white). `pixel(tile, x, y)` returns the RGB colour of a tile pixel.
 *
 * @example
 * ```ts
 * import { buildMosaic } from "./mosaic.ts";
 * const m = buildMosaic(4, 3, 3, 2, 1, (t) => [t * 60, 0, 0]);
 * console.log(m.width, m.height); // 7 7
 * ```
 */
export function buildMosaic(
  count: number,
  tileW: number,
  tileH: number,
  cols: number,
  gap: number,
  pixel: (tile: number, x: number, y: number) => readonly [number, number, number],
): MosaicImage {
  const c = Math.max(1, Math.min(cols, count));
  const rows = Math.max(1, Math.ceil(count / c));
  const width = c * tileW + (c - 1) * gap;
  const height = rows * tileH + (rows - 1) * gap;
  const data = new Uint8Array(width * height * 3).fill(255);
  for (let t = 0; t < count; t++) {
    const ox = (t % c) * (tileW + gap);
    const oy = Math.floor(t / c) * (tileH + gap);
    for (let y = 0; y < tileH; y++) {
      for (let x = 0; x < tileW; x++) {
        const [r, g, b] = pixel(t, x, y);
        const i = ((oy + y) * width + ox + x) * 3;
        data[i] = r;
        data[i + 1] = g;
        data[i + 2] = b;
      }
    }
  }
  return { data, width, height, cols: c, rows };
}
