/**
 * Screenshot baselines: a page's PNG compared with the committed one in `tests/baselines/`
 * within a pixel tolerance (fast-png decodes both). `CONVDECK_UPDATE_BASELINES=1` (what
 * `deno task baseline-ui` sets) writes the new screenshots as the baselines instead, to be
 * reviewed in the diff.
 *
 * @module
 */
import { decode, encode } from "fast-png";
import { join } from "node:path";

/** The folder of the committed baselines. */
export const BASELINE_DIR: string = new URL("../baselines/", import.meta.url).pathname;

/** Whether this run writes the baselines instead of comparing. */
export const UPDATE_BASELINES: boolean = Deno.env.get("CONVDECK_UPDATE_BASELINES") === "1";

/** How two screenshots differ. */
export interface PixelDiff {
  /** Pixels whose largest channel difference is above the threshold. */
  differing: number;
  /** All pixels. */
  total: number;
  /** A PNG of the differences (red where they differ), same size as `a`. */
  diffPng: Uint8Array;
}

function rgba(png: Uint8Array) {
  const img = decode(png);
  const channels = img.channels;
  const data = img.data as Uint8Array;
  return { width: img.width, height: img.height, channels, data };
}

/**
 * Compares two PNGs pixel by pixel; a pixel differs when a channel differs by more than
 * `threshold` (0-255). Images of different sizes differ everywhere outside their overlap.
 */
export function diffPngs(a: Uint8Array, b: Uint8Array, threshold = 48): PixelDiff {
  const x = rgba(a), y = rgba(b);
  const width = Math.max(x.width, y.width), height = Math.max(x.height, y.height);
  const out = new Uint8Array(width * height * 4);
  let differing = 0;
  for (let row = 0; row < height; row++) {
    for (let col = 0; col < width; col++) {
      const o = (row * width + col) * 4;
      let diff = 255;
      if (row < x.height && col < x.width && row < y.height && col < y.width) {
        diff = 0;
        const i = (row * x.width + col) * x.channels, j = (row * y.width + col) * y.channels;
        for (let c = 0; c < 3; c++) diff = Math.max(diff, Math.abs(x.data[i + c] - y.data[j + c]));
      }
      const gray = row < x.height && col < x.width ? x.data[(row * x.width + col) * x.channels] : 0;
      if (diff > threshold) {
        differing++;
        out.set([255, 0, 0, 255], o);
      } else out.set([gray, gray, gray, 80], o);
    }
  }
  return { differing, total: width * height, diffPng: encode({ width, height, data: out }) };
}

/**
 * Checks screenshot `png` against baseline `name` (`tests/baselines/<name>.png`): returns an
 * error message when more than `tolerance` (a fraction of the pixels) differ, writing the
 * screenshot and a diff image next to a temporary path named in the message; `undefined` when
 * it matches (or when updating baselines, after writing it).
 */
export async function checkBaseline(
  name: string,
  png: Uint8Array,
  tolerance = 0.01,
): Promise<string | undefined> {
  const path = join(BASELINE_DIR, `${name}.png`);
  if (UPDATE_BASELINES) {
    await Deno.mkdir(BASELINE_DIR, { recursive: true });
    await Deno.writeFile(path, png);
    return undefined;
  }
  let base: Uint8Array;
  try {
    base = await Deno.readFile(path);
  } catch {
    return `no baseline tests/baselines/${name}.png: run deno task baseline-ui and review it`;
  }
  const d = diffPngs(base, png);
  if (d.differing / d.total <= tolerance) return undefined;
  const dir = await Deno.makeTempDir({ prefix: `convdeck-baseline-${name}-` });
  await Deno.writeFile(join(dir, "actual.png"), png);
  await Deno.writeFile(join(dir, "diff.png"), d.diffPng);
  return `${name}: ${d.differing} of ${d.total} pixels (${
    (100 * d.differing / d.total).toFixed(2)
  }%) differ from tests/baselines/${name}.png (tolerance ${
    (100 * tolerance).toFixed(2)
  }%); see ${dir}/actual.png and diff.png, or re-baseline with deno task baseline-ui`;
}
