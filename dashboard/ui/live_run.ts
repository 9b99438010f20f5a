/**
 * A run's data kept live: the detail, metrics and events loaded once, then extended over
 * Server-Sent Events (reloaded when the metrics file is replaced).
 *
 * @module
 */
import { type Signal, useSignal } from "@preact/signals";
import { useEffect } from "preact/hooks";
import {
  getJson,
  type MetricsRecord,
  type MetricsResponse,
  type RunDetail,
  type RunEvent,
  type RunStateEvent,
  runUrl,
} from "./api.ts";

/** What {@linkcode useLiveRun} keeps up to date. */
export interface LiveRun {
  /** `/api/runs/:id` (its `info` replaced by each status event). */
  detail: Signal<RunDetail | null>;
  /** Epoch records. */
  epochs: Signal<MetricsRecord[]>;
  /** Batch records. */
  batches: Signal<MetricsRecord[]>;
  /** Events. */
  events: Signal<RunEvent[]>;
  /** A load error, shown instead of the page. */
  error: Signal<string>;
  /** Whether the live stream is open. */
  live: Signal<boolean>;
  /** Whether the server downsampled the series. */
  downsampled: Signal<boolean>;
}

/** Loads run `id` and follows it live until the component unmounts. */
export function useLiveRun(id: string): LiveRun {
  const detail = useSignal<RunDetail | null>(null);
  const epochs = useSignal<MetricsRecord[]>([]);
  const batches = useSignal<MetricsRecord[]>([]);
  const events = useSignal<RunEvent[]>([]);
  const error = useSignal("");
  const live = useSignal(false);
  const downsampled = useSignal(false);

  useEffect(() => {
    let es: EventSource | null = null;
    let cancelled = false;
    const load = async () => {
      try {
        const [d, m, e] = await Promise.all([
          getJson<RunDetail>(runUrl(id)),
          getJson<MetricsResponse>(runUrl(id, "/metrics?maxPoints=4000")),
          getJson<{ events: RunEvent[]; offset: number }>(runUrl(id, "/events")),
        ]);
        if (cancelled) return;
        detail.value = d;
        epochs.value = m.epochs;
        batches.value = m.batches;
        downsampled.value = m.downsampled;
        events.value = e.events;
        (globalThis as unknown as { __runLoadedAt?: number }).__runLoadedAt = performance.now();
        es = new EventSource(
          runUrl(id, `/stream?metricsSince=${m.offset}&eventsSince=${e.offset}`),
        );
        es.addEventListener("open", () => (live.value = true));
        es.addEventListener("error", () => (live.value = false));
        es.addEventListener("metrics", (ev) => {
          const data = JSON.parse((ev as MessageEvent).data) as {
            records: MetricsRecord[];
            reset: boolean;
          };
          if (data.reset) {
            es?.close();
            load();
            return;
          }
          const ne = data.records.filter((r) => r.batch === undefined);
          const nb = data.records.filter((r) => r.batch !== undefined);
          if (ne.length) epochs.value = [...epochs.value, ...ne];
          if (nb.length) batches.value = [...batches.value, ...nb];
        });
        es.addEventListener("events", (ev) => {
          const data = JSON.parse((ev as MessageEvent).data) as { events: RunEvent[] };
          events.value = [...events.value, ...data.events];
        });
        es.addEventListener("state", (ev) => {
          // The derived state (a crash is seen by the server, from the heartbeat).
          const state = JSON.parse((ev as MessageEvent).data) as RunStateEvent;
          const d = detail.value;
          if (!d) return;
          const { crashReason: _c, resumeCommand: _r, ...rest } = d.summary;
          detail.value = { ...d, summary: { ...rest, ...state } };
        });
        es.addEventListener("status", (ev) => {
          const info = JSON.parse((ev as MessageEvent).data);
          if (detail.value) detail.value = { ...detail.value, info };
        });
      } catch (err) {
        error.value = (err as Error).message;
      }
    };
    load();
    return () => {
      cancelled = true;
      es?.close();
    };
  }, [id]);

  return { detail, epochs, batches, events, error, live, downsampled };
}
