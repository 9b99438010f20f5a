/**
 * A run's page: live curves, events, model summary, hyperparameters, and the "what it
 * learned" and evaluation views.
 *
 * @module
 */
import { useSignal } from "@preact/signals";
import { formatDuration } from "./format.ts";
import { useLiveRun } from "./live_run.ts";
import { CurvesView } from "./curves_view.tsx";
import { VizView } from "./viz_view.tsx";
import { LoggedView } from "./logged_view.tsx";
import { PatternsView } from "./patterns_view.tsx";
import { EvalView } from "./eval_view.tsx";
import { PredictView } from "./predict_view.tsx";
import { CrashedBanner, RunMetaEditor } from "./run_meta.tsx";
import { DownloadModel } from "./download_model.tsx";

/** Renders the page of run `id`, kept live over Server-Sent Events. */
export function RunPage({ id }: { id: string }) {
  const run = useLiveRun(id);
  const { detail, error, live } = run;
  const tab = useSignal<"curves" | "learned" | "evaluation" | "predict">("curves");
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
        {status === "running" && (
          <>
            {" · "}
            <span class={live.value ? "live on" : "live"} data-testid="run-live">
              {live.value ? "live" : "offline"}
            </span>
          </>
        )}
      </p>
      {status === "crashed" && <CrashedBanner summary={d.summary} />}
      <RunMetaEditor key={id} id={id} summary={d.summary} />
      <DownloadModel id={id} model={d.summary.cells.model} />
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
      {tab.value === "curves" && <LoggedView id={id} events={run.events.value} />}
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
