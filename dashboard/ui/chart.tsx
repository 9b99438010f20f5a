/**
 * A uPlot line chart as a Preact component, with vertical event markers.
 *
 * @module
 */
import { useEffect, useRef } from "preact/hooks";
import uPlot from "uplot";
import { integerTicks } from "./ticks.ts";

/** One line of a chart. */
export interface ChartSeries {
  label: string;
  x: readonly number[];
  y: readonly (number | null)[];
  color: string;
  /** Draw points (like the book's "bo" training curves). */
  points?: boolean;
  dash?: number[];
  width?: number;
}

/** A vertical marker (an event). */
export interface ChartMarker {
  x: number;
  label: string;
  color: string;
  /** `line` (default): dashed across the plot; `tick`: a short mark on the x axis (frequent events). */
  style?: "line" | "tick";
}

/** Props of {@link Chart}. */
export interface ChartProps {
  id: string;
  title: string;
  series: ChartSeries[];
  markers?: ChartMarker[];
  logY?: boolean;
  xLabel?: string;
  /** The x values count something (epochs, steps): ticks on whole numbers only (default). */
  integerX?: boolean;
  height?: number;
}

function buildData(series: ChartSeries[]): uPlot.AlignedData {
  if (series.length === 0) return [[]];
  const tables = series.map((s) =>
    [s.x as number[], s.y as (number | null)[]] as uPlot.AlignedData
  );
  if (tables.length === 1) return tables[0];
  return uPlot.join(tables);
}

/** Renders `series` (each with its own x values) in one uPlot chart. */
export function Chart(props: ChartProps) {
  const host = useRef<HTMLDivElement>(null);
  const plot = useRef<uPlot | null>(null);
  const markers = useRef<ChartMarker[]>(props.markers ?? []);
  markers.current = props.markers ?? [];
  const shape = props.series.map((s) => s.label).join("|") + (props.logY ? "log" : "");
  const points = props.series.reduce((n, s) => n + s.x.length, 0);

  useEffect(() => {
    const el = host.current!;
    const width = Math.max(300, el.clientWidth || 600);
    const opts: uPlot.Options = {
      title: props.title,
      width,
      height: props.height ?? 260,
      scales: { x: { time: false }, y: props.logY ? { distr: 3 } : {} },
      axes: [
        props.integerX === false ? { label: props.xLabel ?? "epoch" } : {
          label: props.xLabel ?? "epoch",
          // Epochs and steps are counted: 1 2 3, never 1.2 1.4 (about one tick per 60 px).
          splits: (u: uPlot, _axis: number, min: number, max: number) =>
            integerTicks(min, max, u.bbox.width / devicePixelRatio / 60),
          values: (_u: uPlot, vals: number[]) => vals.map((v) => String(v)),
        },
        props.logY
          ? {
            values: (_u: uPlot, vals: number[]) =>
              vals.map((v) => (v == null ? "" : v.toExponential(0))),
            size: 60,
          }
          : {},
      ],
      series: [
        {},
        ...props.series.map((s) => ({
          label: s.label,
          stroke: s.color,
          width: s.width ?? 2,
          dash: s.dash,
          spanGaps: true,
          points: { show: s.points ?? false, size: 6, fill: s.color },
        })),
      ],
      hooks: {
        draw: [(u: uPlot) => {
          const ctx = u.ctx;
          ctx.save();
          for (const m of markers.current) {
            const x = u.valToPos(m.x, "x", true);
            if (!Number.isFinite(x)) continue;
            ctx.strokeStyle = m.color;
            const bottom = u.bbox.top + u.bbox.height;
            ctx.beginPath();
            if (m.style === "tick") {
              ctx.setLineDash([]);
              ctx.lineWidth = 3 * devicePixelRatio;
              ctx.moveTo(x, bottom);
              ctx.lineTo(x, bottom - 8 * devicePixelRatio);
            } else {
              ctx.setLineDash([4, 4]);
              ctx.lineWidth = 1.5 * devicePixelRatio;
              ctx.moveTo(x, u.bbox.top);
              ctx.lineTo(x, bottom);
            }
            ctx.stroke();
          }
          ctx.restore();
        }],
      },
    };
    const u = new uPlot(opts, buildData(props.series), el);
    plot.current = u;
    const ro = new ResizeObserver(() => {
      const w = el.clientWidth;
      if (w > 0 && Math.abs(w - u.width) > 4) u.setSize({ width: w, height: u.height });
    });
    ro.observe(el);
    return () => {
      ro.disconnect();
      u.destroy();
      plot.current = null;
    };
  }, [shape, props.title]);

  useEffect(() => {
    const u = plot.current;
    if (!u) return;
    u.setData(buildData(props.series));
    (globalThis as unknown as { __chartUpdatedAt?: number }).__chartUpdatedAt = Date.now();
  }, [props.series, props.markers]);

  return (
    <div class="chart" data-testid={`chart-${props.id}`} data-points={points}>
      <div ref={host} />
    </div>
  );
}
