/**
 * Predicting with a run from the dashboard, a Hono sub-app mounted at `/api/runs`:
 *
 * - `GET /:id/predict`: the weights, class names, conv layers, preprocessing and upload
 *   limits (loads the model, so a run without weights answers 422 saying so);
 * - `POST /:id/predict?topK=5&layer=NAME&activations=1`: a `multipart/form-data` upload of
 *   one or more image files; per image the top-k classes, every class's probability, the
 *   Grad-CAM overlay for the top class at conv layer `layer` (default the last), and that
 *   layer's activation maps, PNGs as data URLs. A bad image is a per-image error naming it.
 *
 * The POST is state-changing, so `origin_check.ts` (Origin and the page's token) answers it
 * first; the body is capped (413 saying the limit) before it is parsed; images are decoded
 * in memory with sharp's pixel limit and never written anywhere. Models stay loaded in a
 * {@linkcode PredictorPool} (LRU, disposed on eviction) and predictions run one at a time.
 *
 * @example
 * ```ts ignore
 * import { Hono } from "hono";
 * import { predictApi } from "./predict.ts";
 * import { RunStore } from "../run_store.ts";
 * import { PredictorPool } from "../predictor_pool.ts";
 * const app = new Hono().route("/api/runs", predictApi(new RunStore("runs"), new PredictorPool()));
 * const form = new FormData();
 * form.append("image", new File([await Deno.readFile("cat.png")], "cat.png"));
 * const res = await app.request("/api/runs/default-20261201-101010/predict?topK=3", {
 *   method: "POST",
 *   body: form,
 * });
 * console.log((await res.json()).results[0].top);
 * ```
 *
 * @module
 */
import { Buffer } from "node:buffer";
import { Hono } from "hono";
import { bodyLimit } from "hono/body-limit";
import { HTTPException } from "hono/http-exception";
import type { Predictor, PredictResult } from "../../core/infer/predict.ts";
import type {
  PredictedImage,
  PredictInfoResponse,
  PredictLimits,
  PredictResponse,
} from "../api_types.ts";
import type { RunStore } from "../run_store.ts";
import type { PredictorPool } from "../predictor_pool.ts";
import { intParam, oneOf } from "./params.ts";
import { assertTrained } from "../../core/run/checkpoints.ts";

/**
 * Default upload limits (see {@linkcode PredictLimits}): 16 images of 8 MB, 32 MB per
 * request, 40 megapixels per image.
 *
 * @example
 * ```ts
 * import { DEFAULT_PREDICT_LIMITS } from "./predict.ts";
 * const limits = { ...DEFAULT_PREDICT_LIMITS, maxImages: 4 };
 * ```
 */
export const DEFAULT_PREDICT_LIMITS: PredictLimits = {
  maxImages: 16,
  maxImageBytes: 8 * 1024 * 1024,
  maxUploadBytes: 32 * 1024 * 1024,
  maxPixels: 40_000_000,
};

/** `700 KB`, `8 MB`, `12.5 MB`. */
function mb(bytes: number): string {
  if (bytes < 1024 * 1024) return `${Math.ceil(bytes / 1024)} KB`;
  return `${Number((bytes / (1024 * 1024)).toFixed(1))} MB`;
}

function dataUrl(png: Uint8Array): string {
  return "data:image/png;base64," + Buffer.from(png.buffer, png.byteOffset, png.byteLength)
    .toString("base64");
}

/** The JSON view of one result: PNG bytes become data URLs; the raw heatmap stays behind. */
function view(r: PredictResult): PredictedImage {
  if (!r.ok) return { ok: false, name: r.name, error: r.error };
  return {
    ok: true,
    name: r.name,
    top: r.top,
    probabilities: r.probabilities,
    ...(r.gradCam
      ? {
        gradCam: {
          layer: r.gradCam.layer,
          class: r.gradCam.class,
          png: dataUrl(r.gradCam.png),
          width: r.gradCam.width,
          height: r.gradCam.height,
        },
      }
      : {}),
    ...(r.gradCamError ? { gradCamError: r.gradCamError } : {}),
    ...(r.activations
      ? { activations: r.activations.map(({ png, ...rest }) => ({ ...rest, png: dataUrl(png) })) }
      : {}),
  };
}

function errMsg(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/**
 * A run that cannot be predicted with (no weights, only the untrained starting point, no class
 * names ...) is a 422 saying why.
 */
async function withPredictor<T>(
  pool: PredictorPool,
  dir: string,
  fn: (p: Predictor) => Promise<T>,
): Promise<T> {
  let loaded = false;
  try {
    return await pool.use(dir, (p) => {
      loaded = true;
      try {
        assertTrained(
          p.weights,
          "wait until its first epoch ends (a stopped run: resume it, see its page)",
        );
      } catch (err) {
        throw new HTTPException(422, { message: `cannot predict with this run: ${errMsg(err)}` });
      }
      return fn(p);
    });
  } catch (err) {
    if (loaded || err instanceof HTTPException) throw err;
    throw new HTTPException(422, {
      message: `cannot predict with this run: ${(err as Error).message}`,
    });
  }
}

/** The uploaded image files of a multipart body, in order, checked against `limits`. */
async function uploadedImages(
  req: { parseBody(o: { all: true }): Promise<Record<string, unknown>> },
  limits: PredictLimits,
): Promise<{ name: string; bytes: Uint8Array }[]> {
  let body: Record<string, unknown>;
  try {
    body = await req.parseBody({ all: true });
  } catch {
    throw new HTTPException(400, { message: "the upload is not a readable multipart/form-data" });
  }
  const files = Object.values(body).flat().filter((v): v is File => v instanceof File);
  if (files.length === 0) {
    throw new HTTPException(400, {
      message: "no image in the upload: send multipart/form-data with one or more image files",
    });
  }
  if (files.length > limits.maxImages) {
    throw new HTTPException(413, {
      message: `${files.length} images in one upload; the limit is ${limits.maxImages}`,
    });
  }
  const named = files.map((f, i) => ({
    file: f,
    name: (f.name || `image ${i + 1}`).slice(0, 200),
  }));
  const big = named.find((f) => f.file.size > limits.maxImageBytes);
  if (big) {
    throw new HTTPException(413, {
      message: `${big.name} is ${mb(big.file.size)}; the limit is ${
        mb(limits.maxImageBytes)
      } per image`,
    });
  }
  return await Promise.all(
    named.map(async (f) => ({ name: f.name, bytes: new Uint8Array(await f.file.arrayBuffer()) })),
  );
}

/**
 * The predict API over `store`, with models kept in `pool` (see the module doc). `limits`
 * override {@linkcode DEFAULT_PREDICT_LIMITS}.
 *
 * @example
 * ```ts
 * import { Hono } from "hono";
 * import { predictApi } from "./predict.ts";
 * import { RunStore } from "../run_store.ts";
 * import { PredictorPool } from "../predictor_pool.ts";
 * const app = new Hono().route(
 *   "/api/runs",
 *   predictApi(new RunStore("runs"), new PredictorPool({ capacity: 2 }), { maxImages: 4 }),
 * );
 * ```
 */
export function predictApi(
  store: RunStore,
  pool: PredictorPool,
  limits: Partial<PredictLimits> = {},
): Hono {
  const lim: PredictLimits = { ...DEFAULT_PREDICT_LIMITS, ...limits };
  return new Hono()
    .get("/:id/predict", async (c) => {
      const id = c.req.param("id");
      const dir = await store.dir(id);
      const body = await withPredictor(pool, dir, (p) => {
        const { height, width, channels, description } = p.preprocessing;
        const info: PredictInfoResponse = {
          run: id,
          weights: { name: p.weights.name, kind: p.weights.kind },
          classNames: p.classNames,
          convLayers: p.convLayers,
          inputShape: [height, width, channels],
          preprocessing: description,
          notes: p.notes,
          limits: lim,
        };
        return Promise.resolve(info);
      });
      return c.json(body);
    })
    .post(
      "/:id/predict",
      bodyLimit({
        maxSize: lim.maxUploadBytes,
        onError: () => {
          throw new HTTPException(413, {
            message: `upload too large: at most ${mb(lim.maxUploadBytes)} per request (${
              mb(lim.maxImageBytes)
            } per image, ${lim.maxImages} images)`,
          });
        },
      }),
      async (c) => {
        const id = c.req.param("id");
        const dir = await store.dir(id);
        const topK = intParam(c, "topK", 5, 1000);
        if (topK < 1) throw new HTTPException(400, { message: "topK must be at least 1" });
        const layer = c.req.query("layer") || undefined;
        const activations = oneOf(c, "activations", ["0", "1"] as const, "1") === "1";
        const images = await uploadedImages(c.req, lim);
        const started = performance.now();
        const body = await withPredictor(pool, dir, async (p) => {
          const convs = p.convLayers;
          if (layer !== undefined && !convs.includes(layer)) {
            throw new HTTPException(400, {
              message: `no conv layer "${layer.slice(0, 80)}" in the model; its conv layers: ${
                convs.join(", ")
              }`,
            });
          }
          const camLayer = layer ?? convs.at(-1);
          const results = await p.predict(images, {
            topK,
            maxPixels: lim.maxPixels,
            gradCam: convs.length > 0 ? { layer: camLayer } : false,
            activations: activations && camLayer ? { layers: [camLayer] } : false,
          });
          const res: PredictResponse = {
            run: id,
            weights: { name: p.weights.name, kind: p.weights.kind },
            results: results.map(view),
            ms: Math.round(performance.now() - started),
          };
          return res;
        });
        return c.json(body);
      },
    );
}
