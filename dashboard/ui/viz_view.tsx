/**
 * "What the network learned": filters, activation heatmaps over the image, and Grad-CAM, with
 * layer, filter, image and epoch pickers.
 *
 * @module
 */
import { useSignal } from "@preact/signals";
import { useEffect } from "preact/hooks";
import { getJson, runUrl, type VizIndex } from "./api.ts";
import type { VizMosaic } from "../../core/run/viz_format.ts";

/** URL of a file (relative to the run directory) served by `/files/`. */
export function fileUrl(id: string, rel: string): string {
  return runUrl(id, "/files/" + rel.split("/").map(encodeURIComponent).join("/"));
}

/** Display width of a mosaic: integer upscaling (crisp pixels), at most 900 px wide. */
function mosaicWidth(m: VizMosaic): number {
  const w = m.cols * m.tileW + (m.cols - 1) * m.gap;
  return w * Math.max(1, Math.min(16, Math.floor(900 / w)));
}

/** One tile of a mosaic PNG, cropped with CSS and scaled to `width` x `height`. */
export function Tile(
  props: {
    id: string;
    mosaic: VizMosaic;
    index: number;
    width: number;
    height: number;
    opacity?: number;
    overlay?: boolean;
    testid?: string;
  },
) {
  const m = props.mosaic;
  const sx = props.width / m.tileW, sy = props.height / m.tileH;
  const col = props.index % m.cols, row = Math.floor(props.index / m.cols);
  const fullW = m.cols * m.tileW + (m.cols - 1) * m.gap;
  const fullH = m.rows * m.tileH + (m.rows - 1) * m.gap;
  return (
    <div
      class={props.overlay ? "tile overlay" : "tile"}
      data-testid={props.testid}
      style={{
        width: `${props.width}px`,
        height: `${props.height}px`,
        opacity: props.opacity ?? 1,
        backgroundImage: `url("${fileUrl(props.id, m.file)}")`,
        backgroundSize: `${fullW * sx}px ${fullH * sy}px`,
        backgroundPosition: `${-col * (m.tileW + m.gap) * sx}px ${-row * (m.tileH + m.gap) * sy}px`,
      }}
    />
  );
}

/** Renders the visualisations recorded by the `Visualize` callback. */
export function VizView({ id }: { id: string }) {
  const index = useSignal<VizIndex | null>(null);
  const error = useSignal("");
  const epochIdx = useSignal(-1);
  const layer = useSignal("");
  const filter = useSignal(0);
  const image = useSignal(0);
  const opacity = useSignal(0.6);

  useEffect(() => {
    let stop = false;
    const load = async () => {
      try {
        const v = await getJson<VizIndex>(runUrl(id, "/viz"));
        const follow = index.value === null || epochIdx.value === index.value.epochs.length - 1;
        index.value = v;
        if (follow || epochIdx.value < 0) epochIdx.value = v.epochs.length - 1;
      } catch (err) {
        error.value = (err as Error).message;
      }
      if (!stop) setTimeout(load, 5000);
    };
    load();
    return () => {
      stop = true;
    };
  }, [id]);

  const v = index.value;
  if (error.value) return <p class="error">{error.value}</p>;
  if (!v) return <p>Loading…</p>;
  if (v.epochs.length === 0) {
    if (v.patterns?.length) return null; // only filter patterns: shown above
    return (
      <p>
        No visualisations yet. The <code>Visualize</code> callback records them every few epochs.
      </p>
    );
  }
  const ep = v.epochs[Math.max(0, Math.min(epochIdx.value, v.epochs.length - 1))];
  const layers = ep.filters.map((f) => f.layer);
  for (const a of ep.activations) if (!layers.includes(a.layer)) layers.push(a.layer);
  const lay = layers.includes(layer.value) ? layer.value : layers[0];
  const filt = ep.filters.find((f) => f.layer === lay);
  const act = ep.activations.find((a) => a.layer === lay && a.image === image.value);
  const channels = act?.count ?? filt?.count ?? 0;
  const fi = Math.min(filter.value, Math.max(0, channels - 1));
  const img = v.images[image.value];
  const cam = ep.gradcam.find((g) => g.image === image.value);
  const className = (i: number) => v.classNames[i] ?? `class ${i}`;
  const size = 224;

  return (
    <section class="viz">
      <div class="controls">
        <label>
          Epoch {ep.epoch + 1}{" "}
          <input
            type="range"
            min="0"
            max={v.epochs.length - 1}
            value={v.epochs.indexOf(ep)}
            data-testid="epoch-slider"
            onInput={(e) => (epochIdx.value = Number((e.target as HTMLInputElement).value))}
          />
        </label>{" "}
        <label>
          Layer{" "}
          <select
            value={lay}
            data-testid="layer-select"
            onChange={(e) => (layer.value = (e.target as HTMLSelectElement).value)}
          >
            {layers.map((l) => <option key={l} value={l}>{l}</option>)}
          </select>
        </label>{" "}
        <label>
          Filter{" "}
          <input
            type="number"
            min="0"
            max={Math.max(0, channels - 1)}
            value={fi}
            data-testid="filter-input"
            onInput={(e) => (filter.value = Number((e.target as HTMLInputElement).value) || 0)}
          />{" "}
          of {channels}
        </label>{" "}
        <label>
          Image{" "}
          <select
            value={image.value}
            onChange={(e) => (image.value = Number((e.target as HTMLSelectElement).value))}
          >
            {v.images.map((im, i) => (
              <option key={i} value={i}>{`#${i} (${className(im.label)})`}</option>
            ))}
          </select>
        </label>{" "}
        <label>
          Opacity{" "}
          <input
            type="range"
            min="0"
            max="1"
            step="0.05"
            value={opacity.value}
            onInput={(e) => (opacity.value = Number((e.target as HTMLInputElement).value))}
          />
        </label>
      </div>
      <div class="viz-grid">
        {img && act && (
          <figure>
            <div class="stack" style={{ width: `${size}px`, height: `${size}px` }}>
              <img src={fileUrl(id, img.file)} width={size} height={size} alt="" />
              <Tile
                id={id}
                mosaic={act}
                index={fi}
                width={size}
                height={size}
                opacity={opacity.value}
                overlay
                testid="activation-overlay"
              />
            </div>
            <figcaption>
              {lay}, filter {fi}: activation over the image (yellow = strong)
            </figcaption>
          </figure>
        )}
        {img && cam && (
          <figure>
            <div class="stack" style={{ width: `${size}px`, height: `${size}px` }}>
              <img src={fileUrl(id, img.file)} width={size} height={size} alt="" />
              <img
                class="overlay smooth"
                src={fileUrl(id, cam.file)}
                width={size}
                height={size}
                alt="Grad-CAM"
                data-testid="gradcam"
                style={{ opacity: Math.min(1, opacity.value / 0.6) }}
              />
            </div>
            <figcaption data-testid="gradcam-caption">
              Grad-CAM ({cam.layer}): predicted <b>{className(cam.predicted)}</b>{" "}
              ({(cam.prob * 100).toFixed(1)}%), true <b>{className(cam.label)}</b>
              {cam.predicted === cam.label ? " ✓" : " ✗"}
            </figcaption>
          </figure>
        )}
        {filt && (
          <figure>
            <Tile
              id={id}
              mosaic={filt}
              index={Math.min(fi, filt.count - 1)}
              width={size}
              height={size}
              testid="filter-tile"
            />
            <figcaption>
              {lay} filter {Math.min(fi, filt.count - 1)}{" "}
              ({filt.kind === "rgb" ? "RGB kernel" : "kernel per input channel"}, shape{" "}
              {filt.shape.join("×")})
            </figcaption>
          </figure>
        )}
      </div>
      {filt && (
        <>
          <h2>All filters of {lay}</h2>
          <img
            class="mosaic"
            src={fileUrl(id, filt.file)}
            data-testid="filters-mosaic"
            style={{ width: `${mosaicWidth(filt)}px` }}
            alt={`filters of ${lay}`}
          />
        </>
      )}
      {act && (
        <>
          <h2>All activation maps of {lay} for image #{image.value}</h2>
          <img
            class="mosaic"
            src={fileUrl(id, act.file)}
            data-testid="activations-mosaic"
            style={{ width: `${mosaicWidth(act)}px` }}
            alt={`activations of ${lay}`}
          />
        </>
      )}
    </section>
  );
}
