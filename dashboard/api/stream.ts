/**
 * Live updates over Server-Sent Events, a Hono sub-app mounted at `/api/runs`:
 * `GET /:id/stream?metricsSince=&eventsSince=` sends `hello`, then `metrics`, `events` and
 * `status` events as the run's files change, a typed `state` event ({@linkcode RunStateEvent})
 * at the start and whenever the derived state changes (a `running` run whose heartbeat stops
 * becomes `crashed`: no file changes, so the stream checks the heartbeat every few seconds) (a long catch-up of metrics in several `metrics`
 * events, all but the last with `more: true`) (polled every `pollMs`), and a `ping` every 15 s.
 * Streams share the store's metrics and events caches: a hundred open streams of one run read
 * its files once, a bounded step at a time (a huge or sparse file is never read whole per
 * stream), and at most {@linkcode MAX_STREAMS} streams are open at once (more get 503).
 *
 * @example
 * ```ts
 * import { Hono } from "hono";
 * import { streamApi } from "./stream.ts";
 * import { RunStore } from "../run_store.ts";
 * const app = new Hono().route("/api/runs", streamApi(new RunStore("runs"), 250));
 * console.log(typeof app.fetch);
 * ```
 *
 * @module
 */
import { Hono } from "hono";
import { basename } from "node:path";
import { type SSEStreamingApi, streamSSE } from "hono/streaming";
import { HTTPException } from "hono/http-exception";
import { RunTail } from "../../core/run/tail.ts";
import { FsError } from "../../core/fs/confine.ts";
import type { RunStore } from "../run_store.ts";
import { intParam } from "./params.ts";
import { derivedStatus } from "../../core/run/state.ts";
import type { RunInfo } from "../../core/run/format.ts";
import type { RunStateEvent } from "../api_types.ts";
import { resumeCommandFor } from "./runs.ts";
import { resumeNeedsOf } from "../../core/run/summary.ts";

/** Metrics records per `metrics` event; a larger catch-up is sent in several (`more: true`). */
const SLICE_RECORDS = 5000;

/**
 * Live streams open at once, over all runs: past it a new stream gets 503 (each stream holds a
 * connection and polls; the page reconnects by itself once others close).
 */
export const MAX_STREAMS = 256;

/** How often a `running` run's heartbeat is looked at for a crash, in ms. */
const STATE_MS = 2_000;

/** How often an idle stream sends a `ping`, in ms. */
const PING_MS = 15_000;

/** The live-stream app over `store`, polling every `pollMs` milliseconds. */
export function streamApi(store: RunStore, pollMs: number, maxStreams = MAX_STREAMS): Hono {
  let open = 0;
  return new Hono().get("/:id/stream", async (c) => {
    const dir = await store.dir(c.req.param("id"));
    if (open >= maxStreams) {
      throw new HTTPException(503, {
        message: `too many live streams open (${maxStreams}): close some dashboard tabs`,
      });
    }
    const tail = new RunTail(
      dir,
      {
        metricsOffset: intParam(c, "metricsSince", 0),
        eventsOffset: intParam(c, "eventsSince", 0),
      },
      store.metrics,
      store.events,
    );
    open++;
    return streamSSE(c, async (stream) => {
      try {
        await follow(stream);
      } finally {
        open--;
      }
    });

    async function follow(stream: SSEStreamingApi): Promise<void> {
      let closed = false;
      stream.onAbort(() => {
        closed = true;
      });
      let lastPing = Date.now();
      let info: RunInfo | undefined;
      let sentState = "";
      let stateAt = 0;
      await stream.writeSSE({ event: "hello", data: JSON.stringify({ pollMs }) });
      while (!closed) {
        let changes;
        try {
          changes = await tail.poll();
        } catch (err) {
          // A run file that may not be read (a FIFO, a symlink): say so once and end the stream.
          const message = err instanceof FsError ? err.message : "the run cannot be read";
          await stream.writeSSE({ event: "error", data: JSON.stringify({ error: message }) });
          break;
        }
        if (changes.metrics) {
          // A long catch-up goes out in slices, each written when the client has taken the
          // previous one: a stream holds one slice at a time, however large the run.
          const { records, ...rest } = changes.metrics;
          for (let i = 0; i === 0 || i < records.length; i += SLICE_RECORDS) {
            const last = i + SLICE_RECORDS >= records.length;
            const slice = records.slice(i, i + SLICE_RECORDS);
            const data = { ...rest, reset: rest.reset && i === 0, records: slice };
            await stream.writeSSE({
              event: "metrics",
              data: JSON.stringify(last ? data : { ...data, more: true }),
            });
          }
        }
        if (changes.events) {
          await stream.writeSSE({
            event: "events",
            data: JSON.stringify(store.relativeDeep(changes.events)),
          });
        }
        if (changes.info) {
          info = changes.info;
          await stream.writeSSE({
            event: "status",
            data: JSON.stringify(store.relativeDeep(changes.info)),
          });
        }
        if (info && (changes.info || Date.now() - stateAt >= STATE_MS)) {
          stateAt = Date.now();
          const state = await derivedStatus(dir, info);
          const data: RunStateEvent = {
            status: state.status,
            ...(state.crashReason ? { crashReason: state.crashReason } : {}),
            ...(state.status === "crashed" || state.status === "stopped"
              ? {
                resumeCommand: resumeCommandFor(
                  store.runsDir,
                  basename(dir),
                  resumeNeedsOf(info.config ?? {}),
                ),
              }
              : {}),
          };
          const text = JSON.stringify(data);
          if (text !== sentState) {
            sentState = text;
            await stream.writeSSE({ event: "state", data: text });
          }
        }
        if (Date.now() - lastPing > PING_MS) {
          lastPing = Date.now();
          await stream.writeSSE({ event: "ping", data: "{}" });
        }
        await stream.sleep(pollMs);
      }
    }
  });
}
