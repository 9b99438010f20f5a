/**
 * A minimal parallel-coordinates view of a sweep: one vertical axis per parameter plus the
 * metric, one line per trial (pruned trials dashed, the best one thick). Kept apart from the
 * sweep page so the shared `parallel_coords.tsx` component can replace it: the page passes
 * plain axes and lines, nothing sweep-specific.
 *
 * @module
 */

/** One axis: its label and each line's value (a number, or a category as text). */
export interface ParallelAxis {
  label: string;
  values: readonly (number | string | boolean | null)[];
}

/** How to draw each line (same order as the axes' values). */
export interface ParallelLine {
  key: string;
  color: string;
  dashed?: boolean;
  bold?: boolean;
}

/** Props of {@link SweepParallel}. */
export interface SweepParallelProps {
  axes: readonly ParallelAxis[];
  lines: readonly ParallelLine[];
  height?: number;
}

/** An axis mapped to 0..1, with the labels of its ends. */
interface Scaled {
  pos: (number | null)[];
  low: string;
  high: string;
}

const short = (v: number) => (Number.isInteger(v) ? String(v) : v.toPrecision(3));

/** Maps an axis's values to 0..1 (numbers linearly, log when they span decades; categories evenly). */
function scaleAxis(values: readonly (number | string | boolean | null)[]): Scaled {
  const nums = values.filter((v): v is number => typeof v === "number" && Number.isFinite(v));
  if (nums.length === values.filter((v) => v !== null).length && nums.length > 0) {
    const lo = Math.min(...nums), hi = Math.max(...nums);
    const log = lo > 0 && hi / lo >= 100;
    const f = (v: number) => (log ? Math.log(v) : v);
    const a = f(lo), b = f(hi);
    return {
      pos: values.map((
        v,
      ) => (typeof v === "number" ? (b === a ? 0.5 : (f(v) - a) / (b - a)) : null)),
      low: short(lo) + (log ? " (log)" : ""),
      high: short(hi),
    };
  }
  const cats = [...new Set(values.filter((v) => v !== null).map(String))].sort();
  return {
    pos: values.map((v) =>
      v === null ? null : cats.length < 2 ? 0.5 : cats.indexOf(String(v)) / (cats.length - 1)
    ),
    low: cats[0] ?? "",
    high: cats.at(-1) ?? "",
  };
}

/** Renders the axes and lines as SVG. */
export function SweepParallel(props: SweepParallelProps) {
  const height = props.height ?? 240;
  const width = Math.max(360, props.axes.length * 150);
  const pad = { top: 24, bottom: 8, side: 50 };
  const x = (i: number) =>
    pad.side + (props.axes.length < 2 ? 0 : (i * (width - 2 * pad.side)) / (props.axes.length - 1));
  const y = (t: number) => pad.top + (1 - t) * (height - pad.top - pad.bottom);
  const scaled = props.axes.map((a) => scaleAxis(a.values));
  return (
    <svg class="parallel" data-testid="sweep-parallel" width={width} height={height}>
      {props.axes.map((a, i) => (
        <g key={a.label}>
          <line x1={x(i)} x2={x(i)} y1={y(0)} y2={y(1)} stroke="#bbb" />
          <text x={x(i)} y={12} text-anchor="middle" font-size="12">{a.label}</text>
          <text x={x(i) + 4} y={y(1) + 10} font-size="10" fill="#666">{scaled[i].high}</text>
          <text x={x(i) + 4} y={y(0) - 3} font-size="10" fill="#666">{scaled[i].low}</text>
        </g>
      ))}
      {props.lines.map((l, j) => {
        const pts = scaled.map((s, i) => (s.pos[j] === null ? null : `${x(i)},${y(s.pos[j]!)}`));
        if (pts.some((p) => p === null)) return null;
        return (
          <polyline
            key={l.key}
            points={pts.join(" ")}
            fill="none"
            stroke={l.color}
            stroke-width={l.bold ? 3 : 1.5}
            stroke-dasharray={l.dashed ? "4 3" : undefined}
          >
            <title>{l.key}</title>
          </polyline>
        );
      })}
    </svg>
  );
}
