/**
 * "Try it": drop or pick images and see what the run's model says about each: the top-k
 * classes with bars, the Grad-CAM overlay with a layer picker (a new layer asks the server
 * again for that image), and the activation maps of that layer; a bad file shows its own
 * error. Images go to `POST /api/runs/:id/predict` with the page's token and are kept only in
 * this page (blob URLs); the server writes nothing.
 *
 * @module
 */
import { useSignal } from "@preact/signals";
import { useEffect } from "preact/hooks";
import { getJson, runUrl, sendForm } from "./api.ts";
import type {
  PredictedActivationsView,
  PredictedImage,
  PredictInfoResponse,
  PredictResponse,
} from "../api_types.ts";

/** One image on the page: its file, what the server said, and the layer shown. */
interface Item {
  key: number;
  file: File;
  url: string;
  layer: string;
  busy: boolean;
  result?: PredictedImage;
  error?: string;
}

const TOP_K = 5;
const SIZE = 224;
let nextKey = 0;

function sizeText(bytes: number): string {
  if (bytes < 1024 * 1024) return `${Math.ceil(bytes / 1024)} KB`;
  return `${Number((bytes / (1024 * 1024)).toFixed(1))} MB`;
}

/** Display width of an activation mosaic: integer upscaling, at most 640 px wide. */
function mosaicWidth(a: PredictedActivationsView): number {
  const w = a.cols * a.tileW + (a.cols - 1);
  return w * Math.max(1, Math.min(16, Math.floor(640 / w)));
}

/** Asks the server about `files` with the conv layer `layer` (one request). */
function request(id: string, files: File[], layer: string): Promise<PredictResponse> {
  const form = new FormData();
  for (const f of files) form.append("image", f, f.name);
  const q = `?topK=${TOP_K}` + (layer ? `&layer=${encodeURIComponent(layer)}` : "");
  return sendForm<PredictResponse>(runUrl(id, "/predict" + q), form);
}

/** One image's card: the image, top-k bars, Grad-CAM with its layer picker, activation maps. */
function Prediction(
  { item, layers, onLayer, onRemove }: {
    item: Item;
    layers: string[];
    onLayer: (layer: string) => void;
    onRemove: () => void;
  },
) {
  const r = item.result;
  const failed = item.error ?? (r && !r.ok ? r.error : undefined);
  return (
    <section class="prediction" data-testid="prediction" data-name={item.file.name}>
      <h3>
        {item.file.name}{" "}
        <button type="button" class="button" onClick={onRemove} title="remove from the page">
          ×
        </button>
        {item.busy && <span class="note" data-testid="predict-busy">working…</span>}
      </h3>
      {failed && (
        <p class="error" data-testid="predict-error">
          {item.file.name}: {failed}
        </p>
      )}
      <div class="viz-grid">
        {!failed && (
          <figure>
            <img src={item.url} class="upload" width={SIZE} height={SIZE} alt={item.file.name} />
            <figcaption>your image</figcaption>
          </figure>
        )}
        {r?.ok && (
          <figure>
            <table class="topk" data-testid="topk">
              <tbody>
                {r.top.map((t, i) => (
                  <tr key={t.class} class={i === 0 ? "first" : ""}>
                    <td>{t.name}</td>
                    <td class="bar-cell">
                      <span class="bar" style={{ width: `${Math.max(1, t.prob * 160)}px` }} />
                    </td>
                    <td class="num">{(t.prob * 100).toFixed(1)}%</td>
                  </tr>
                ))}
              </tbody>
            </table>
            <figcaption>top {r.top.length} classes</figcaption>
          </figure>
        )}
        {r?.ok && r.gradCam && (
          <figure>
            <div class="stack" style={{ width: `${SIZE}px`, height: `${SIZE}px` }}>
              <img
                class="smooth"
                src={r.gradCam.png}
                width={SIZE}
                height={SIZE}
                alt={`Grad-CAM at ${r.gradCam.layer}`}
                data-testid="predict-gradcam"
                data-layer={r.gradCam.layer}
              />
            </div>
            <figcaption data-testid="predict-gradcam-caption">
              Grad-CAM for <b>{r.top[0].name}</b> at{" "}
              <select
                value={item.layer || r.gradCam.layer}
                disabled={item.busy}
                data-testid="predict-layer"
                onChange={(e) => onLayer((e.target as HTMLSelectElement).value)}
              >
                {layers.map((l) => <option key={l} value={l}>{l}</option>)}
              </select>{" "}
              (red = where the evidence for it is)
            </figcaption>
          </figure>
        )}
        {r?.ok && r.gradCamError && <p class="note">No Grad-CAM: {r.gradCamError}</p>}
      </div>
      {r?.ok && r.activations?.map((a) => (
        <div key={a.layer}>
          <h4>
            Activation maps of {a.layer} ({a.count} of {a.shape[2]} channels, {a.shape[0]}×
            {a.shape[1]})
          </h4>
          <img
            class="mosaic"
            src={a.png}
            style={{ width: `${mosaicWidth(a)}px` }}
            alt={`activations of ${a.layer}`}
            data-testid="predict-activations"
          />
        </div>
      ))}
    </section>
  );
}

/**
 * The "Try it" tab of run `id`.
 *
 * @example
 * ```tsx ignore
 * import { PredictView } from "./predict_view.tsx";
 * const tab = <PredictView id="default-20261201-101010" />;
 * ```
 */
export function PredictView({ id }: { id: string }) {
  const info = useSignal<PredictInfoResponse | null>(null);
  const error = useSignal("");
  const items = useSignal<Item[]>([]);
  const dragging = useSignal(false);

  useEffect(() => {
    getJson<PredictInfoResponse>(runUrl(id, "/predict"))
      .then((v) => (info.value = v))
      .catch((err) => (error.value = (err as Error).message));
    return () => {
      for (const it of items.peek()) URL.revokeObjectURL(it.url);
    };
  }, [id]);

  const update = (key: number, change: Partial<Item>) => {
    items.value = items.value.map((it) => (it.key === key ? { ...it, ...change } : it));
  };

  /** Sends `batch` (with each item's layer the same) and files the answers. */
  const send = async (batch: Item[], layer: string) => {
    for (const it of batch) update(it.key, { busy: true });
    try {
      const res = await request(id, batch.map((it) => it.file), layer);
      batch.forEach((it, i) =>
        update(it.key, { busy: false, result: res.results[i], error: undefined, layer })
      );
    } catch (err) {
      for (const it of batch) update(it.key, { busy: false, error: (err as Error).message });
    }
  };

  const add = (files: File[]) => {
    const v = info.value;
    if (!v || files.length === 0) return;
    const added: Item[] = files.map((file) => ({
      key: nextKey++,
      file,
      url: URL.createObjectURL(file),
      layer: "",
      busy: false,
    }));
    const tooBig = added.filter((it) => it.file.size > v.limits.maxImageBytes);
    for (const it of tooBig) {
      it.error = `${sizeText(it.file.size)}; the limit is ${
        sizeText(v.limits.maxImageBytes)
      } per image`;
    }
    items.value = [...added, ...items.value];
    const ok = added.filter((it) => !tooBig.includes(it));
    // Batches within the server's limits, sent one after another.
    const batches: Item[][] = [];
    let cur: Item[] = [], bytes = 0;
    for (const it of ok) {
      if (
        cur.length === v.limits.maxImages ||
        (cur.length > 0 && bytes + it.file.size > v.limits.maxUploadBytes * 0.9)
      ) {
        batches.push(cur);
        cur = [];
        bytes = 0;
      }
      cur.push(it);
      bytes += it.file.size;
    }
    if (cur.length) batches.push(cur);
    (async () => {
      for (const b of batches) await send(b, "");
    })();
  };

  const remove = (key: number) => {
    const it = items.value.find((x) => x.key === key);
    if (it) URL.revokeObjectURL(it.url);
    items.value = items.value.filter((x) => x.key !== key);
  };

  if (error.value) {
    return <p class="error" data-testid="predict-unavailable">{error.value}</p>;
  }
  const v = info.value;
  if (!v) return <p>Loading the model…</p>;
  return (
    <section class="predict viz">
      <p class="note" data-testid="predict-info">
        Weights <code>checkpoints/{v.weights.name}</code> · input {v.inputShape.join("×")}{" "}
        ({v.preprocessing}) · {v.classNames.length} classes · up to {v.limits.maxImages} images of
        {" "}
        {sizeText(v.limits.maxImageBytes)} per upload; images are not stored.
        {v.notes.map((n) => <span key={n}>&nbsp;Note: {n}.</span>)}
      </p>
      <label
        class={dragging.value ? "dropzone over" : "dropzone"}
        data-testid="predict-drop"
        onDragOver={(e) => {
          e.preventDefault();
          dragging.value = true;
        }}
        onDragLeave={() => (dragging.value = false)}
        onDrop={(e) => {
          e.preventDefault();
          dragging.value = false;
          add([...(e.dataTransfer?.files ?? [])]);
        }}
      >
        Drop images here, or pick them:{" "}
        <input
          type="file"
          accept="image/*"
          multiple
          data-testid="predict-input"
          onChange={(e) => {
            const input = e.target as HTMLInputElement;
            add([...(input.files ?? [])]);
            input.value = "";
          }}
        />
      </label>
      {items.value.map((it) => (
        <Prediction
          key={it.key}
          item={it}
          layers={v.convLayers}
          onLayer={(layer) => send([it], layer)}
          onRemove={() => remove(it.key)}
        />
      ))}
    </section>
  );
}
