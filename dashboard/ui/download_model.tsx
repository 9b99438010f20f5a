/**
 * The run page's "Download model": the run's export (what `deno task export` writes: the tfjs
 * model, metadata, a page that classifies dropped images, preprocess.js, a README) as a zip,
 * with the weights stored as float32 or quantized.
 *
 * @module
 */
import { useSignal } from "@preact/signals";
import { runUrl } from "./api.ts";

const CHOICES = [
  ["float32", "float32 (exact)"],
  ["float16", "float16 (1/2 size)"],
  ["uint16", "uint16 (1/2 size)"],
  ["uint8", "uint8 (1/4 size)"],
] as const;

/** The download control; `model` is the run's `model` cell (`yes`, `untrained`, `none`). */
export function DownloadModel({ id, model }: { id: string; model: unknown }) {
  const q = useSignal<string>("float32");
  if (model !== "yes") {
    return (
      <p class="download-model note" data-testid="download-model">
        No model to download yet:{" "}
        {model === "untrained" ? "only the untrained starting point is saved" : "no weights saved"}
        ; it appears after the first epoch.
      </p>
    );
  }
  return (
    <p class="download-model" data-testid="download-model">
      <a
        class="button"
        href={runUrl(id, `/export.zip?quantize=${q.value}`)}
        download={`${id}-${q.value}.zip`}
        data-testid="download-model-link"
      >
        Download model
      </a>{" "}
      <select
        aria-label="weights"
        value={q.value}
        onChange={(e) => (q.value = (e.target as HTMLSelectElement).value)}
        data-testid="download-model-quantize"
      >
        {CHOICES.map(([v, label]) => <option key={v} value={v}>{label}</option>)}
      </select>{" "}
      <span class="note">
        tfjs model + metadata + an offline page (index.html) + preprocess.js; see its README
      </span>
    </p>
  );
}
