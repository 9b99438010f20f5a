/**
 * The dashboard's "Download model": `GET /api/runs/:id/export.zip?quantize=float32|uint8|...`
 * answers the run's export (`core/infer/export.ts`, what `deno task export` writes) as a zip,
 * built in memory (the server may not write anywhere). Behind the same Host, Origin and token
 * checks as every route; a run that cannot be exported is a 422 saying why.
 *
 * @module
 */
import { Hono } from "hono";
import { HTTPException } from "hono/http-exception";
import { type Zippable, zipSync } from "fflate";
// Exporting loads the model: make sure a backend exists (cpu registers with the lowest
// priority, so it never replaces the dashboard's own choice).
import "@tensorflow/tfjs-backend-cpu";
import { buildExport, type Quantization, QUANTIZATIONS } from "../../core/infer/export.ts";
import type { RunStore } from "../run_store.ts";
import { oneOf } from "./params.ts";

/** Choices of the `quantize` parameter. */
const CHOICES = ["float32", ...QUANTIZATIONS] as const;

/**
 * The export sub-app, mounted under `/api/runs`.
 *
 * @example
 * ```ts ignore
 * import { Hono } from "hono";
 * import { exportApi } from "./export.ts";
 * import { RunStore } from "../run_store.ts";
 * const app = new Hono().route("/api/runs", exportApi(new RunStore("runs")));
 * const res = await app.request("/api/runs/default-20261201-101010/export.zip?quantize=uint8");
 * console.log(res.headers.get("content-disposition"));
 * ```
 */
export function exportApi(store: RunStore): Hono {
  return new Hono().get("/:id/export.zip", async (c) => {
    const id = c.req.param("id");
    const quantize = oneOf(c, "quantize", CHOICES, "float32");
    const dir = await store.dir(id);
    let files;
    try {
      ({ files } = await buildExport(dir, {
        ...(quantize === "float32" ? {} : { quantize: quantize as Quantization }),
      }));
    } catch (err) {
      throw new HTTPException(422, {
        message: `cannot export this run: ${(err as Error).message}`,
      });
    }
    const folder = `${id}-${quantize}`;
    const entries: Zippable = {};
    for (const [name, bytes] of files) {
      // Weights hardly compress; everything else does.
      entries[`${folder}/${name}`] = [bytes, { level: name.endsWith(".bin") ? 0 : 6 }];
    }
    const zip = zipSync(entries);
    return c.body(zip as Uint8Array<ArrayBuffer>, 200, {
      "Content-Type": "application/zip",
      "Content-Disposition": `attachment; filename="${folder}.zip"`,
      "Cache-Control": "no-store",
    });
  });
}
