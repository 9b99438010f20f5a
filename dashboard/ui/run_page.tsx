/**
 * A run's page: live curves, events, model summary, hyperparameters, and the "what it
 * learned" and evaluation views.
 *
 * @module
 */
import { useSignal } from "@preact/signals";
import { useEffect } from "preact/hooks";
import { getJson, type RunDetail, runUrl } from "./api.ts";
import { formatDuration } from "./format.ts";
import { useLiveRun } from "./live_run.ts";
import { CurvesView } from "./curves_view.tsx";
import { VizView } from "./viz_view.tsx";
import { PatternsView } from "./patterns_view.tsx";
import { EvalView } from "./eval_view.tsx";
import { PredictView } from "./predict_view.tsx";
import { CrashedBanner, RunMetaEditor } from "./run_meta.tsx";

/** Renders the page of run `id`, kept live over Server-Sent Events. */
export function RunPage({ id }: { id: string }) {
  const run = useLiveRun(id);
  const { detail, error, live } = run;
  const tab = useSignal<"curves" | "learned" | "evaluation" | "predict">("curves");
  const runningNow = detail.value?.info.status === "running";
  // A crash writes nothing, so the live stream cannot tell: while run.json says running, ask
  // the server every 5 s for the derived state (crashed, with the resume command).
  useEffect(() => {
    if (!runningNow) return;
    const timer = setInterval(async () => {
      try {
        const fresh = await getJson<RunDetail>(runUrl(id));
        const d = detail.value;
        if (d && fresh.summary.status !== d.summary.status) {
          detail.value = { ...d, summary: fresh.summary };
        }
      } catch { /* the page shows load errors; a missed poll is retried */ }
    }, 5000);
    return () => clearInterval(timer);
  }, [id, runningNow]);

  if (error.value) {
    return (
      <main>
        <p class="error">{error.value}</p>
      </main>
    );
  }
  const d = detail.value;
  if (!d) {
    return (
      <main>
        <p>Loading…</p>
      </main>
    );
  }
  const info = d.info;
  // The derived state: a run.json that still says running while its process is gone.
  const status = info.status === "running" && d.summary.status === "crashed"
    ? "crashed"
    : info.status;
  return (
    <main>
      <p>
        <a href="#/">← all runs</a>
      </p>
      <h1 data-testid="run-title">
        {d.summary.name
          ? (
            <>
              {d.summary.name} <span class="note">{info.id}</span>
            </>
          )
          : info.id}
      </h1>
      <p class="meta">
        <span class={`status ${status}`} data-testid="run-status">{status}</span> experiment{" "}
        <b>{info.experiment}</b> · {info.epochs} epochs · {info.steps} steps ·{" "}
        {formatDuration(d.summary.durationMs)}
        {info.stopReason ? ` · stopped: ${info.stopReason}` : ""}
        {info.error ? ` · error: ${info.error}` : ""}
        {" · "}
        <span class={live.value ? "live on" : "live"}>{live.value ? "live" : "offline"}</span>
      </p>
      {status === "crashed" && <CrashedBanner summary={d.summary} />}
      <RunMetaEditor key={id} id={id} summary={d.summary} />
      <nav class="tabs">
        {(["curves", "learned", "evaluation", "predict"] as const).map((t) => (
          <button
            key={t}
            type="button"
            class={tab.value === t ? "active" : ""}
            onClick={() => (tab.value = t)}
            data-testid={`tab-${t}`}
          >
            {t === "curves"
              ? "Curves"
              : t === "learned"
              ? "What it learned"
              : t === "evaluation"
              ? "Evaluation"
              : "Try it"}
          </button>
        ))}
      </nav>
      {tab.value === "curves" && <CurvesView id={id} run={run} />}
      {tab.value === "learned" && (
        <>
          <PatternsView id={id} />
          <VizView id={id} />
        </>
      )}
      {tab.value === "evaluation" && <EvalView id={id} />}
      {tab.value === "predict" && <PredictView id={id} />}
    </main>
  );
}
