/**
 * "What each layer detects": the stored filter patterns of a run (computed by the `Visualize`
 * callback at chosen epochs or by `deno task patterns`), with a set picker (epoch or
 * checkpoint), a layer picker, the pattern grid (a click picks a filter), the filter's
 * top-activating validation patches, and its receptive field drawn as a box on the validation
 * image of its best patch.
 *
 * @module
 */
import { useSignal } from "@preact/signals";
import { useEffect } from "preact/hooks";
import type { VizLayerPatterns, VizPatternSet } from "../../core/run/viz_format.ts";
import { getJson, runUrl, type VizIndex } from "./api.ts";
import { fileUrl, Tile } from "./viz_view.tsx";

/** A pattern set's name in the picker: `epoch 5 (callback)` or `checkpoint best`. */
export function patternSetLabel(s: VizPatternSet): string {
  const when = s.epoch === null ? "" : `epoch ${s.epoch + 1}`;
  if (s.source === "patterns") {
    return `${s.checkpoint ? `checkpoint ${s.checkpoint}` : "deno task patterns"}${
      when ? ` (${when})` : ""
    }`;
  }
  return when || "callback";
}

/** Rows of tiles and figures (inline too, so they lay out even without the stylesheet). */
const ROW = { display: "flex", flexWrap: "wrap", gap: "8px", alignItems: "flex-start" } as const;

/** Formats an activation value for captions. */
function num(v: number): string {
  return Math.abs(v) >= 100 ? v.toFixed(0) : Math.abs(v) >= 1 ? v.toFixed(2) : v.toFixed(3);
}

function fieldText(l: VizLayerPatterns): string {
  const f = l.receptiveField;
  if (f.global) return "the whole image";
  return `${f.size[0]}×${f.size[1]} px, ${f.jump[0]} px apart`;
}

/** The pattern sets of a run (nothing while it has none). */
export function PatternsView({ id }: { id: string }) {
  const loaded = useSignal<VizPatternSet[]>([]);
  const setIdx = useSignal(-1);
  const layer = useSignal("");
  const picked = useSignal(0);
  useEffect(() => {
    let stop = false;
    const load = async () => {
      try {
        const v = await getJson<VizIndex>(runUrl(id, "/viz"));
        if (stop) return;
        const sets = v.patterns ?? [];
        if (sets.length !== loaded.value.length) {
          loaded.value = sets;
          setIdx.value = sets.length - 1;
        }
      } catch {
        // The visualisations below show the error.
      }
      if (!stop) setTimeout(load, 10000);
    };
    load();
    return () => {
      stop = true;
    };
  }, [id]);
  const sets = loaded.value;
  const set = sets[Math.max(0, Math.min(setIdx.value, sets.length - 1))];
  if (!set || set.layers.length === 0) return null;
  const lay = set.layers.find((l) => l.layer === layer.value) ?? set.layers[0];
  const fi = Math.min(picked.value, lay.filters.length - 1);
  const f = lay.filters[fi];
  const tileSize = Math.max(48, Math.min(96, lay.patterns.tileW));
  const tileScale = tileSize / lay.patterns.tileW;
  const patches = lay.patches;
  const row = patches?.items[fi] ?? [];
  const best = row[0];
  const bestImage = best && best.image >= 0 ? set.images[best.image] : undefined;
  const boxSize = 224;
  const same = sets.filter((s) => s !== set && s.layers.some((l) => l.layer === lay.layer));
  return (
    <section class="patterns" data-testid="patterns">
      <h2>What each layer detects</h2>
      <div class="controls">
        <label>
          Patterns at{" "}
          <select
            value={sets.indexOf(set)}
            data-testid="pattern-set"
            onChange={(e) => (setIdx.value = Number((e.target as HTMLSelectElement).value))}
          >
            {sets.map((s, i) => <option key={i} value={i}>{patternSetLabel(s)}</option>)}
          </select>
        </label>{" "}
        <label>
          Layer{" "}
          <select
            value={lay.layer}
            data-testid="pattern-layer"
            onChange={(e) => {
              layer.value = (e.target as HTMLSelectElement).value;
              picked.value = 0;
            }}
          >
            {set.layers.map((l) => <option key={l.layer} value={l.layer}>{l.layer}</option>)}
          </select>
        </label>{" "}
        <span class="note">
          receptive field {fieldText(lay)} · {set.steps} steps of gradient ascent from noise ·{" "}
          {lay.seconds.toFixed(1)} s
        </span>
      </div>
      <p class="note">
        Each tile is the input that{" "}
        {lay.layer}'s filter answers to most (its number and mean activation below it). Click a tile
        for the validation patches that activate it most.
      </p>
      <div class="pattern-grid" data-testid="pattern-grid" style={ROW}>
        {lay.filters.map((ff, i) => (
          <button
            type="button"
            key={`${lay.layer}-${ff.filter}`}
            class={i === fi ? "pattern picked" : "pattern"}
            title={`filter ${ff.filter}: activation ${num(ff.activation)} (noise: ${
              num(ff.start)
            })`}
            data-testid={`pattern-${ff.filter}`}
            onClick={() => (picked.value = i)}
          >
            <Tile
              id={id}
              mosaic={lay.patterns}
              index={i}
              width={tileSize}
              height={lay.patterns.tileH * tileScale}
            />
          </button>
        ))}
      </div>
      {f && (
        <div class="viz-grid pattern-detail" data-testid="pattern-detail" style={ROW}>
          <figure>
            <Tile
              id={id}
              mosaic={lay.patterns}
              index={fi}
              width={160}
              height={(lay.patterns.tileH - lay.patterns.labelH) * 160 / lay.patterns.tileW}
            />
            <figcaption>
              {lay.layer} filter <b>{f.filter}</b>: mean activation {num(f.activation)} (from{" "}
              {num(f.start)} on the starting noise)
            </figcaption>
          </figure>
          {patches && (
            <figure>
              <div class="patch-row" data-testid="patch-row" style={ROW}>
                {row.map((p, j) => (
                  <div key={j} title={`activation ${num(p.activation)}`}>
                    <Tile
                      id={id}
                      mosaic={patches}
                      index={fi * patches.k + j}
                      width={64}
                      height={patches.tileH * 64 / patches.tileW}
                    />
                  </div>
                ))}
              </div>
              <figcaption style={{ maxWidth: "none" }}>
                The {row.length} validation patches (each{" "}
                {fieldText(lay)}: the filter's receptive field) that activate filter {f.filter}{" "}
                most, strongest first
              </figcaption>
            </figure>
          )}
          {bestImage && best && (
            <figure>
              <div
                class="stack"
                style={{ position: "relative", width: `${boxSize}px`, height: `${boxSize}px` }}
              >
                <img
                  src={fileUrl(id, bestImage.file)}
                  width={boxSize}
                  height={boxSize}
                  alt=""
                  style={{ position: "absolute", left: 0, top: 0, imageRendering: "pixelated" }}
                />
                <div
                  class="field-box"
                  data-testid="field-box"
                  style={{
                    position: "absolute",
                    border: "2px solid #ff1744",
                    boxSizing: "border-box",
                    left: `${best.window[1] * boxSize / bestImage.width}px`,
                    top: `${best.window[0] * boxSize / bestImage.height}px`,
                    width: `${best.window[3] * boxSize / bestImage.width}px`,
                    height: `${best.window[2] * boxSize / bestImage.height}px`,
                  }}
                />
              </div>
              <figcaption>
                The receptive field of {lay.layer} ({fieldText(lay)}) where filter {f.filter}{" "}
                answers most in this validation image
              </figcaption>
            </figure>
          )}
        </div>
      )}
      <h3>Every layer, early to deep</h3>
      <div class="viz-grid" data-testid="pattern-layers" style={ROW}>
        {set.layers.map((l) => (
          <figure key={l.layer}>
            <img
              class="mosaic"
              src={fileUrl(id, l.patterns.file)}
              style={{ width: "280px", imageRendering: "pixelated", cursor: "pointer" }}
              alt={`patterns of ${l.layer}`}
              onClick={() => {
                layer.value = l.layer;
                picked.value = 0;
              }}
            />
            <figcaption>{l.layer}: receptive field {fieldText(l)}</figcaption>
          </figure>
        ))}
      </div>
      {same.length > 0 && (
        <>
          <h3>{lay.layer} at other times</h3>
          <div class="viz-grid" style={ROW}>
            {same.map((s) => {
              const other = s.layers.find((l) => l.layer === lay.layer)!;
              return (
                <figure key={sets.indexOf(s)}>
                  <img
                    class="mosaic"
                    src={fileUrl(id, other.patterns.file)}
                    style={{ width: "360px" }}
                    alt={`${lay.layer} ${patternSetLabel(s)}`}
                  />
                  <figcaption>{patternSetLabel(s)}</figcaption>
                </figure>
              );
            })}
          </div>
        </>
      )}
    </section>
  );
}
