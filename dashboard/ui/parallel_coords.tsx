/**
 * A reusable parallel-coordinates chart (SVG): one vertical axis per dimension (numbers on a
 * linear or log scale, anything else as evenly spaced categories), one polyline per item.
 * Dragging along an axis brushes a range; items outside any brush are faded and reported
 * through `onBrush`, so a page can filter its table (the comparison page does; the sweeps
 * page reuses it). Double-click an axis to clear its brush.
 *
 * @module
 */
import { useRef, useState } from "preact/hooks";

/** One axis. */
export interface PcDimension {
  /** Key (also `data-axis` on the axis element). */
  key: string;
  /** Label above the axis. */
  label?: string;
  /** Use a log scale (numbers > 0 only). */
  log?: boolean;
}

/** One line. */
export interface PcItem {
  /** Identifier passed back by `onBrush`. */
  id: string;
  /** Line colour. */
  color: string;
  /** Value per dimension key (missing: the line skips that axis). */
  values: Record<string, number | string | boolean | null | undefined>;
  /** Draw dashed (e.g. a pruned trial). */
  dashed?: boolean;
  /** Draw thicker (e.g. the best trial). */
  bold?: boolean;
}

/** A brushed range of one axis, in axis fractions (0 = bottom, 1 = top). */
export interface PcBrush {
  /** Lower end (0..1). */
  lo: number;
  /** Upper end (0..1). */
  hi: number;
}

/** Props of {@linkcode ParallelCoords}. */
export interface ParallelCoordsProps {
  /** The axes, left to right. */
  dimensions: PcDimension[];
  /** The lines. */
  items: PcItem[];
  /** Called with the ids inside every brush (all ids when nothing is brushed). */
  onBrush?: (ids: string[], brushes: Record<string, PcBrush>) => void;
  /** Width in pixels (default 900). */
  width?: number;
  /** Height in pixels (default 320). */
  height?: number;
  /** `data-testid` of the chart (default `parallel-coords`). */
  testId?: string;
}

type Scale = {
  pos: (v: unknown) => number | undefined;
  ticks: { at: number; text: string }[];
};

function fmt(v: number): string {
  if (v === 0) return "0";
  const a = Math.abs(v);
  return a >= 1e4 || a < 1e-3 ? v.toExponential(1) : String(Number(v.toPrecision(3)));
}

/** The scale of one dimension over `items`: a value to a fraction 0..1 of the axis. */
export function axisScale(dim: PcDimension, items: readonly PcItem[]): Scale {
  const vals = items.map((i) => i.values[dim.key]).filter((v) => v !== null && v !== undefined);
  const nums = vals.filter((v): v is number => typeof v === "number" && Number.isFinite(v));
  if (nums.length === vals.length && nums.length > 0) {
    const log = dim.log && nums.every((v) => v > 0);
    const f = (v: number) => (log ? Math.log10(v) : v);
    let lo = Math.min(...nums.map(f)), hi = Math.max(...nums.map(f));
    if (lo === hi) {
      lo -= 0.5;
      hi += 0.5;
    }
    const pos = (v: unknown) =>
      typeof v === "number" && Number.isFinite(v) && (!log || v > 0)
        ? (f(v) - lo) / (hi - lo)
        : undefined;
    const ticks = [0, 0.25, 0.5, 0.75, 1].map((t) => {
      const raw = lo + t * (hi - lo);
      return { at: t, text: fmt(log ? 10 ** raw : raw) };
    });
    return { pos, ticks };
  }
  const cats = [...new Set(vals.map(String))].sort();
  const at = (i: number) => (cats.length === 1 ? 0.5 : i / (cats.length - 1));
  return {
    pos: (v) => {
      if (v === null || v === undefined) return undefined;
      const i = cats.indexOf(String(v));
      return i < 0 ? undefined : at(i);
    },
    ticks: cats.map((c, i) => ({ at: at(i), text: c })),
  };
}

/**
 * Whether a dimension's numbers read better on a log axis: a rate-like parameter (learning
 * rate, weight decay), or positive values spanning two decades or more.
 *
 * @example
 * ```ts
 * import { autoLog } from "./parallel_coords.tsx";
 * console.log(autoLog("learningRate", [0.001, 0.01]), autoLog("width", [16, 32])); // true false
 * ```
 */
export function autoLog(key: string, values: readonly unknown[]): boolean {
  const nums = values.filter((v) => v !== null && v !== undefined);
  if (nums.length === 0 || !nums.every((v) => typeof v === "number" && v > 0)) return false;
  if (/learning_?rate|^lr$|weight_?decay/i.test(key)) return true;
  const n = nums as number[];
  return Math.max(...n) / Math.min(...n) >= 100;
}

/** Ids of `items` inside every brush. */
export function brushedIds(
  dims: readonly PcDimension[],
  items: readonly PcItem[],
  brushes: Record<string, PcBrush>,
): string[] {
  const scales = new Map(dims.map((d) => [d.key, axisScale(d, items)]));
  return items.filter((it) =>
    Object.entries(brushes).every(([k, b]) => {
      const p = scales.get(k)?.pos(it.values[k]);
      return p !== undefined && p >= b.lo - 1e-9 && p <= b.hi + 1e-9;
    })
  ).map((it) => it.id);
}

/** Renders the chart. */
export function ParallelCoords(props: ParallelCoordsProps) {
  const width = props.width ?? 900;
  const height = props.height ?? 320;
  const dims = props.dimensions;
  // Room for the tick labels left of the first axis and for the last axis's name; names of
  // neighbouring axes alternate between two rows when they are close, and are shortened
  // (the full name in a tooltip) when even that is too narrow.
  const left = 64, right = 64, bottom = 24;
  const spacing = dims.length > 1 ? (width - left - right) / (dims.length - 1) : width;
  const twoRows = spacing < 130;
  const top = twoRows ? 52 : 36;
  const labelChars = Math.max(6, Math.floor((twoRows ? 2 * spacing : spacing) / 7.5) - 1);
  const labelOf = (d: PcDimension, i: number) => {
    const text = d.label ?? d.key;
    // The outer axes' names are centred on them: half a name fits in the margin.
    const end = dims.length > 1 && (i === 0 || i === dims.length - 1);
    const max = end ? Math.min(labelChars, Math.floor((2 * left) / 7.5) - 1) : labelChars;
    return text.length > max ? `${text.slice(0, max - 1)}…` : text;
  };
  const [brushes, setBrushes] = useState<Record<string, PcBrush>>({});
  const [drag, setDrag] = useState<{ key: string; from: number; to: number } | null>(null);
  const svg = useRef<SVGSVGElement>(null);
  const scales = dims.map((d) => axisScale(d, props.items));
  const x = (i: number) =>
    dims.length === 1 ? width / 2 : left + (i * (width - left - right)) / (dims.length - 1);
  const y = (f: number) => top + (1 - f) * (height - top - bottom);
  const frac = (clientY: number) => {
    const r = svg.current!.getBoundingClientRect();
    const py = ((clientY - r.top) / r.height) * height;
    return Math.max(0, Math.min(1, 1 - (py - top) / (height - top - bottom)));
  };
  const inside = new Set(brushedIds(dims, props.items, brushes));
  const update = (next: Record<string, PcBrush>) => {
    setBrushes(next);
    props.onBrush?.(brushedIds(dims, props.items, next), next);
  };
  return (
    <svg
      ref={svg}
      class="pcoords"
      data-testid={props.testId ?? "parallel-coords"}
      viewBox={`0 0 ${width} ${height}`}
      width="100%"
      style={{ maxWidth: `${width}px` }}
      onPointerMove={(e) => drag && setDrag({ ...drag, to: frac(e.clientY) })}
      onPointerUp={() => {
        if (!drag) return;
        const lo = Math.min(drag.from, drag.to), hi = Math.max(drag.from, drag.to);
        const next = { ...brushes };
        if (hi - lo < 0.01) delete next[drag.key];
        else next[drag.key] = { lo, hi };
        setDrag(null);
        update(next);
      }}
    >
      {props.items.map((it) => {
        const pts: string[] = [];
        dims.forEach((d, i) => {
          const p = scales[i].pos(it.values[d.key]);
          if (p !== undefined) pts.push(`${x(i)},${y(p)}`);
        });
        const on = inside.has(it.id);
        return (
          <polyline
            key={it.id}
            data-item={it.id}
            data-selected={on ? "1" : "0"}
            points={pts.join(" ")}
            fill="none"
            stroke={on ? it.color : "#ccc"}
            stroke-width={(on ? 2 : 1) + (it.bold ? 1.5 : 0)}
            stroke-dasharray={it.dashed ? "4 3" : undefined}
            opacity={on ? 0.9 : 0.5}
          >
            <title>{it.id}</title>
          </polyline>
        );
      })}
      {dims.map((d, i) => {
        const b = drag?.key === d.key
          ? { lo: Math.min(drag.from, drag.to), hi: Math.max(drag.from, drag.to) }
          : brushes[d.key];
        return (
          <g key={d.key} data-axis={d.key}>
            <text
              x={x(i)}
              y={twoRows && i % 2 === 1 ? 32 : 14}
              text-anchor="middle"
              class="pc-label"
            >
              {labelOf(d, i)}
              <title>{d.label ?? d.key}{d.log ? " (log scale)" : ""}</title>
            </text>
            <line x1={x(i)} x2={x(i)} y1={y(0)} y2={y(1)} stroke="#333" />
            {scales[i].ticks.map((t) => (
              <text
                key={t.text + t.at}
                x={x(i) - 6}
                y={y(t.at) + 4}
                text-anchor="end"
                class="pc-tick"
              >
                {t.text}
              </text>
            ))}
            {b && (
              <rect
                x={x(i) - 8}
                width={16}
                y={y(b.hi)}
                height={Math.max(1, y(b.lo) - y(b.hi))}
                class="pc-brush"
                data-testid={`brush-${d.key}`}
              />
            )}
            <rect
              class="pc-hit"
              data-testid={`axis-${d.key}`}
              x={x(i) - 14}
              width={28}
              y={y(1)}
              height={y(0) - y(1)}
              fill="transparent"
              style={{ cursor: "ns-resize" }}
              onPointerDown={(e) => {
                (e.target as Element).setPointerCapture?.(e.pointerId);
                const f = frac(e.clientY);
                setDrag({ key: d.key, from: f, to: f });
              }}
              onDblClick={() => {
                const next = { ...brushes };
                delete next[d.key];
                update(next);
              }}
            />
          </g>
        );
      })}
    </svg>
  );
}
