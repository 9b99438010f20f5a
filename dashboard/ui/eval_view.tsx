/**
 * The evaluation view: test accuracy, per-class accuracy, confusion matrix, most confidently
 * wrong images.
 *
 * @module
 */
import { useSignal } from "@preact/signals";
import { useEffect } from "preact/hooks";
import { type EvaluationReport, getJson, runUrl } from "./api.ts";
import { fileUrl } from "./viz_view.tsx";

/** Renders `evaluation.json` of run `id`. */
export function EvalView({ id }: { id: string }) {
  const report = useSignal<EvaluationReport | null>(null);
  const error = useSignal("");
  useEffect(() => {
    getJson<EvaluationReport>(runUrl(id, "/evaluation")).then(
      (r) => (report.value = r),
      (err) => (error.value = (err as Error).message),
    );
  }, [id]);
  if (error.value) return <p class="note">{error.value}</p>;
  const r = report.value;
  if (!r) return <p>Loading…</p>;
  const max = Math.max(1, ...r.confusion.flat());
  return (
    <section class="evaluation" data-testid="evaluation">
      <p class="big">
        {r.split} accuracy <b>{(r.accuracy * 100).toFixed(2)}%</b> on {r.examples} images · loss
        {" "}
        {r.loss.toFixed(4)}
        {r.checkpoint ? ` · checkpoint ${r.checkpoint}` : ""}
      </p>
      <div class="two">
        <div>
          <h2>Per class</h2>
          <table class="kv">
            <tbody>
              {r.perClass.map((c) => (
                <tr key={c.class} data-class={c.name}>
                  <th>{c.name}</th>
                  {c.count === 0
                    ? (
                      // No test image of this class: nothing was measured (not 0%).
                      <td class="note" data-testid="class-no-images">no images</td>
                    )
                    : (
                      <td>
                        <span class="bar" style={{ width: `${c.accuracy * 100}px` }} />{" "}
                        {(c.accuracy * 100).toFixed(1)}% of {c.count}
                      </td>
                    )}
                </tr>
              ))}
            </tbody>
          </table>
        </div>
        <div>
          <h2>Confusion matrix (rows: true, columns: predicted)</h2>
          <table class="confusion">
            <thead>
              <tr>
                <th></th>
                {r.classNames.map((n, i) => <th key={i} title={n}>{n}</th>)}
              </tr>
            </thead>
            <tbody>
              {r.confusion.map((row, i) => (
                <tr key={i}>
                  <th>{r.classNames[i]}</th>
                  {row.map((n, j) => (
                    <td
                      key={j}
                      style={{
                        background: `rgba(${i === j ? "46,125,50" : "211,47,47"},${n / max})`,
                        color: n / max > 0.5 ? "white" : "inherit",
                      }}
                    >
                      {n}
                    </td>
                  ))}
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      </div>
      <h2>Most confidently wrong</h2>
      <div class="wrong">
        {r.wrong.map((w) => (
          <figure key={w.index}>
            {w.file && <img src={fileUrl(id, w.file)} width={112} height={112} alt="" />}
            <figcaption>
              #{w.index}: predicted <b>{r.classNames[w.predicted]}</b>{" "}
              ({(w.prob * 100).toFixed(1)}%), true <b>{r.classNames[w.label]}</b>
            </figcaption>
          </figure>
        ))}
      </div>
    </section>
  );
}
