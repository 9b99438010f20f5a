/**
 * The runs table: a query filter (the language of `core/run/query.ts`, shared with
 * `deno task runs list`), sort by any column, group by any column with count/mean/min/max,
 * a column chooser (run facts, every hyperparameter, best/last/test metrics, duration, start),
 * paging done by the server, archived runs hidden unless asked, and the whole view state in
 * the URL. Pick runs to compare, or compare the filtered ones.
 *
 * @module
 */
import { useSignal } from "@preact/signals";
import { useEffect } from "preact/hooks";
import type { Cell, ColumnInfo, RunListResponse, RunSummary } from "./api.ts";
import { ApiError, getJson } from "./api.ts";
import { formatDuration, formatValue } from "./format.ts";
import { compareHash, listHash, type ListState, listStateOf } from "./url_state.ts";

/** Rows per page. */
export const PAGE_SIZE = 50;

/**
 * The columns shown when the URL names none: run facts, the hyperparameters whose values
 * differ among `runs` (the page shown; at most 8, the learning rate always), the main metrics.
 */
export function defaultColumns(
  columns: readonly ColumnInfo[],
  runs: readonly { cells: Record<string, Cell> }[] = [],
): string[] {
  const keys = new Set(columns.map((c) => c.key));
  const differs = (k: string) =>
    new Set(runs.map((r) => JSON.stringify(r.cells[k] ?? null))).size > 1;
  const hyper = columns.filter((c) =>
    c.group === "hyperparameter" && (c.key === "learningRate" || differs(c.key))
  ).slice(0, 8).map((c) => c.key);
  return [
    "name",
    ...(runs.length === 0 || differs("experiment") ? ["experiment"] : []),
    "status",
    "tags",
    ...hyper,
    "best.val_loss",
    "best.val_acc",
    "test_acc",
    "model",
    "duration",
    "start",
  ].filter((k) => keys.has(k));
}

/** A cell as text (numbers to 4 significant digits, times as local dates, seconds as durations). */
export function cellText(key: string, v: Cell | undefined): string {
  if (v === null || v === undefined) return "";
  if (Array.isArray(v)) return v.join(", ");
  if (key === "start" && typeof v === "number") return new Date(v).toLocaleString();
  if (key === "duration" && typeof v === "number") return formatDuration(v * 1000);
  if (typeof v === "number") {
    if (Number.isInteger(v)) return String(v);
    return !Number.isFinite(v) || Math.abs(v) < 1e-3
      ? formatValue(v)
      : String(Number(v.toPrecision(4)));
  }
  return String(v);
}

/** The query string of `/api/runs` for view state `s`. */
export function listApiUrl(s: ListState): string {
  const p = new URLSearchParams();
  if (s.q) p.set("q", s.q);
  if (s.sort) p.set("sort", s.sort);
  if (s.sort) p.set("desc", s.desc ? "1" : "0");
  if (s.group) p.set("group", s.group);
  if (s.archived) p.set("archived", "1");
  p.set("offset", String(s.page * PAGE_SIZE));
  p.set("limit", String(PAGE_SIZE));
  return `/api/runs?${p}`;
}

function go(s: ListState) {
  location.hash = listHash(s);
}

/** Renders the runs table for the list state in the URL (`params`), refreshed every 3 s. */
export function RunList({ params }: { params: Record<string, string> }) {
  const state = listStateOf(params);
  const data = useSignal<RunListResponse | null>(null);
  const error = useSignal("");
  const selected = useSignal<string[]>([]);
  const draft = useSignal(state.q);
  const url = listApiUrl(state);
  useEffect(() => {
    draft.value = state.q;
  }, [state.q]);
  useEffect(() => {
    let stop = false;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const load = async () => {
      try {
        const r = await getJson<RunListResponse>(url);
        if (stop) return;
        data.value = r;
        error.value = "";
      } catch (err) {
        if (stop) return;
        error.value = (err as Error).message;
        // A bad query (a shared link's, say) stays bad: show its error and stop asking.
        if (err instanceof ApiError && err.status >= 400 && err.status < 500) {
          data.value = null;
          return;
        }
      }
      if (!stop) timer = setTimeout(load, 3000);
    };
    load();
    return () => {
      stop = true;
      clearTimeout(timer);
    };
  }, [url]);
  const d = data.value;
  const columns = d?.columns ?? [];
  const visible = state.cols ?? defaultColumns(columns, d?.runs ?? []);
  const kinds = new Map(columns.map((c) => [c.key, c]));
  const toggleSel = (id: string) => {
    const s = selected.value;
    selected.value = s.includes(id) ? s.filter((x) => x !== id) : [...s, id];
  };
  const sortBy = (key: string) =>
    go({ ...state, sort: key, desc: state.sort === key ? !state.desc : true, page: 0 });
  const toggleCol = (key: string) => {
    const cols = visible.includes(key) ? visible.filter((k) => k !== key) : [...visible, key];
    go({ ...state, cols });
  };
  const pages = d
    ? Math.max(1, Math.ceil((d.groups ? d.groupCount ?? 0 : d.matched) / PAGE_SIZE))
    : 1;
  return (
    <main>
      <h1>Runs</h1>
      <form
        class="query"
        onSubmit={(e) => {
          e.preventDefault();
          go({ ...state, q: draft.value.trim(), page: 0 });
        }}
      >
        <input
          type="search"
          data-testid="query"
          placeholder="filter, e.g. lr < 0.01 and val_acc > 0.9 and tag = baseline and status != crashed"
          value={draft.value}
          onInput={(e) => (draft.value = (e.target as HTMLInputElement).value)}
        />
        <button type="submit" data-testid="apply-query">Filter</button>
        <label>
          <input
            type="checkbox"
            data-testid="show-archived"
            checked={state.archived}
            onChange={() => go({ ...state, archived: !state.archived, page: 0 })}
          />{" "}
          show archived
        </label>
        <label>
          Group by{" "}
          <select
            data-testid="group-by"
            value={state.group}
            onChange={(e) =>
              go({ ...state, group: (e.target as HTMLSelectElement).value, page: 0 })}
          >
            <option value="">(none)</option>
            {columns.filter((c) => c.key !== "id" && c.key !== "note").map((c) => (
              <option key={c.key} value={c.key}>{c.key}</option>
            ))}
          </select>
        </label>
        <details class="chooser" data-testid="column-chooser">
          <summary>Columns ({visible.length})</summary>
          <div>
            {(["run", "hyperparameter", "metric"] as const).map((g) => (
              <fieldset key={g}>
                <legend>
                  {g === "run" ? "run" : g === "hyperparameter" ? "hyperparameters" : "metrics"}
                </legend>
                {columns.filter((c) => c.group === g && c.key !== "id").map((c) => (
                  <label key={c.key}>
                    <input
                      type="checkbox"
                      data-column={c.key}
                      checked={visible.includes(c.key)}
                      onChange={() =>
                        toggleCol(c.key)}
                    />{" "}
                    {c.key}
                  </label>
                ))}
              </fieldset>
            ))}
            <button type="button" onClick={() => go({ ...state, cols: null })}>defaults</button>
          </div>
        </details>
      </form>
      {error.value && <pre class="error" data-testid="query-error">{error.value}</pre>}
      {!d ? (error.value ? null : <p>Loading…</p>) : d.total === 0
        ? (
          <p>
            No runs yet. Train one with <code>deno task train</code>.
          </p>
        )
        : (
          <>
            <p data-testid="list-summary">
              {d.groups
                ? `${d.groupCount} groups of ${d.matched} runs`
                : `${d.matched} of ${d.total} runs`}
              {d.archivedHidden > 0 && ` (${d.archivedHidden} archived hidden)`}.{" "}
              <a
                class={selected.value.length < 2 ? "button disabled" : "button"}
                href={selected.value.length < 2 ? undefined : compareHash(selected.value)}
                data-testid="compare-link"
              >
                Compare {selected.value.length} selected
              </a>{" "}
              {!d.groups && d.runs.length >= 2 && (
                <a
                  class="button"
                  data-testid="compare-filtered"
                  href={compareHash(d.runs.slice(0, 20).map((r) => r.id))}
                >
                  Compare these {Math.min(20, d.runs.length)}
                </a>
              )}
            </p>
            {d.groups
              ? <GroupTable d={d} visible={visible} kinds={kinds} state={state} />
              : (
                <div class="table-wrap">
                  <table class="runs" data-testid="run-table">
                    <thead>
                      <tr>
                        <th></th>
                        <th>
                          <SortHeader k="id" state={state} onSort={sortBy} />
                        </th>
                        {visible.map((k) => (
                          <th key={k} class={kinds.get(k)?.kind === "number" ? "num" : ""}>
                            <SortHeader k={k} state={state} onSort={sortBy} />
                          </th>
                        ))}
                      </tr>
                    </thead>
                    <tbody>
                      {d.runs.map((r) => (
                        <RunRow
                          key={r.id}
                          r={r}
                          visible={visible}
                          kinds={kinds}
                          selected={selected.value.includes(r.id)}
                          onToggle={() => toggleSel(r.id)}
                        />
                      ))}
                    </tbody>
                  </table>
                </div>
              )}
            <p class="pager">
              <button
                type="button"
                data-testid="prev-page"
                disabled={state.page === 0}
                onClick={() => go({ ...state, page: state.page - 1 })}
              >
                ← previous
              </button>{" "}
              page {state.page + 1} of {pages}{" "}
              <button
                type="button"
                data-testid="next-page"
                disabled={state.page + 1 >= pages}
                onClick={() => go({ ...state, page: state.page + 1 })}
              >
                next →
              </button>
            </p>
          </>
        )}
    </main>
  );
}

function SortHeader(
  { k, state, onSort }: { k: string; state: ListState; onSort: (k: string) => void },
) {
  const active = state.sort === k;
  return (
    <button
      type="button"
      class="sort"
      data-testid={`sort-${k}`}
      onClick={() => onSort(k)}
      title="sort by this column"
    >
      {k}
      {active ? (state.desc ? " ▼" : " ▲") : ""}
    </button>
  );
}

function RunRow(
  { r, visible, kinds, selected, onToggle }: {
    r: RunSummary;
    visible: string[];
    kinds: Map<string, ColumnInfo>;
    selected: boolean;
    onToggle: () => void;
  },
) {
  return (
    <tr data-run={r.id} class={r.archived ? "archived" : ""}>
      <td>
        <input
          type="checkbox"
          checked={selected}
          onChange={onToggle}
          aria-label={`select ${r.id}`}
        />
      </td>
      <td class="id">
        <a class="run-link" href={`#/run/${encodeURIComponent(r.id)}`}>{r.id}</a>
        {r.metaProblem && <div class="error small" data-testid="meta-problem">{r.metaProblem}</div>}
      </td>
      {visible.map((k) => (
        <td key={k} data-col={k} class={kinds.get(k)?.kind === "number" ? "num" : ""}>
          {k === "status"
            ? (
              <span
                class={`status ${r.status}`}
                title={r.resumeCommand ?? r.error ?? r.stopReason ?? ""}
              >
                {r.status}
              </span>
            )
            : k === "tags"
            ? r.tags.map((t) => <span key={t} class="tag">{t}</span>)
            : cellText(k, r.cells[k])}
        </td>
      ))}
    </tr>
  );
}

function GroupTable(
  { d, visible, kinds, state }: {
    d: RunListResponse;
    visible: string[];
    kinds: Map<string, ColumnInfo>;
    state: ListState;
  },
) {
  const numeric = visible.filter((k) => kinds.get(k)?.kind === "number");
  return (
    <table class="runs groups" data-testid="group-table">
      <thead>
        <tr>
          <th>{state.group}</th>
          <th class="num">count</th>
          {numeric.map((k) => <th key={k} class="num">{k} mean (min–max)</th>)}
        </tr>
      </thead>
      <tbody>
        {d.groups!.map((g) => {
          const value = g.value === null ? "" : String(g.value);
          const filter = g.value === null
            ? ""
            : `${state.group} = ${JSON.stringify(String(g.value).split(",")[0])}`;
          return (
            <tr key={value} data-group={value}>
              <td>
                <a
                  href={listHash({
                    ...state,
                    group: "",
                    q: [state.q && `(${state.q})`, filter].filter(Boolean).join(" and "),
                    page: 0,
                  })}
                >
                  {cellText(state.group, g.value) || "(none)"}
                </a>
              </td>
              <td class="num" data-col="count">{g.count}</td>
              {numeric.map((k) => {
                const a = g.aggregates[k];
                return (
                  <td key={k} class="num" data-col={k}>
                    {a
                      ? (
                        <>
                          {cellText(k, a.mean)}{" "}
                          <span class="note">
                            ({cellText(k, a.min)}–{cellText(k, a.max)})
                          </span>
                        </>
                      )
                      : ""}
                  </td>
                );
              })}
            </tr>
          );
        })}
      </tbody>
    </table>
  );
}
