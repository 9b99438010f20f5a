/**
 * What a script logged through the tracking API (`run.logImage`, `run.logArtifact`): each
 * image name with a step slider, and the artifacts as download links. Derived from the run's
 * `image_logged` / `artifact_logged` events (kept live), so it needs no request of its own.
 *
 * @module
 */
import { useSignal } from "@preact/signals";
import type { RunEvent } from "./api.ts";
import { fileUrl } from "./viz_view.tsx";

/** Logged images by name, each a list of { step, file } in step order. */
export function loggedImages(
  events: readonly RunEvent[],
): Map<string, { step: number; file: string }[]> {
  const out = new Map<string, Map<number, string>>();
  for (const e of events) {
    if (e.type !== "image_logged" || typeof e.name !== "string" || typeof e.file !== "string") {
      continue;
    }
    const step = typeof e.step === "number" ? e.step : 0;
    if (!out.has(e.name)) out.set(e.name, new Map());
    out.get(e.name)!.set(step, e.file);
  }
  return new Map(
    [...out].map((
      [name, m],
    ) => [name, [...m].sort((a, b) => a[0] - b[0]).map(([step, file]) => ({ step, file }))]),
  );
}

/** Logged artifacts, the newest write of each name, in name order. */
export function loggedArtifacts(events: readonly RunEvent[]): { name: string; file: string }[] {
  const out = new Map<string, string>();
  for (const e of events) {
    if (e.type === "artifact_logged" && typeof e.name === "string" && typeof e.file === "string") {
      out.set(e.name, e.file);
    }
  }
  return [...out].sort((a, b) => a[0].localeCompare(b[0])).map(([name, file]) => ({ name, file }));
}

function ImageSeries(props: { id: string; name: string; items: { step: number; file: string }[] }) {
  const at = useSignal<number | null>(null); // null: follow the newest
  const i = at.value === null ? props.items.length - 1 : Math.min(at.value, props.items.length - 1);
  const item = props.items[i];
  return (
    <figure class="logged-image" data-testid={`logged-image-${props.name}`}>
      <figcaption>
        <b>{props.name}</b> step <span data-testid="logged-image-step">{item.step}</span>
        {props.items.length > 1 && (
          <input
            type="range"
            min={0}
            max={props.items.length - 1}
            value={i}
            aria-label={`${props.name}: step`}
            data-testid="logged-image-slider"
            onInput={(e) => (at.value = Number((e.target as HTMLInputElement).value))}
          />
        )}
      </figcaption>
      <img
        src={fileUrl(props.id, item.file)}
        alt={`${props.name} at step ${item.step}`}
        style="display:block;min-width:160px;max-width:100%;image-rendering:pixelated"
      />
    </figure>
  );
}

/** The logged images and artifacts of run `id` (nothing when it logged none). */
export function LoggedView({ id, events }: { id: string; events: readonly RunEvent[] }) {
  const images = loggedImages(events);
  const artifacts = loggedArtifacts(events);
  if (images.size === 0 && artifacts.length === 0) return null;
  return (
    <section data-testid="logged">
      <h2>Logged</h2>
      {[...images].map(([name, items]) => (
        <ImageSeries key={name} id={id} name={name} items={items} />
      ))}
      {artifacts.length > 0 && (
        <ul class="artifacts" data-testid="logged-artifacts">
          {artifacts.map((a) => (
            <li key={a.name}>
              <a href={fileUrl(id, a.file)} download={a.name}>{a.name}</a>
            </li>
          ))}
        </ul>
      )}
    </section>
  );
}
