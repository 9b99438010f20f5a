/**
 * The client's routes and view state, kept in the location hash so that a view (a filtered,
 * sorted, grouped runs table; a comparison with its metric and axes) can be shared as a link:
 * `#/?q=lr%20<%200.01&sort=best.val_acc&desc=1&group=optimizer&cols=id,lr`,
 * `#/run/<id>`, `#/compare?runs=a,b&metric=val_loss&x=wall&log=1&smooth=0.6`.
 *
 * @module
 */

/** A parsed location hash. */
export type Route =
  | { page: "list"; params: Record<string, string> }
  | { page: "run"; id: string }
  | { page: "compare"; ids: string[]; params: Record<string, string> }
  | { page: "sweeps" }
  | { page: "sweep"; id: string };

function paramsOf(query: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of new URLSearchParams(query)) out[k] = v;
  return out;
}

/**
 * Parses `#/run/<id>`, `#/compare?runs=a,b&...`, `#/sweeps`, `#/sweep/<id>` or anything else
 * (the list, with its state).
 */
export function parseRoute(hash: string): Route {
  const h = hash.replace(/^#/, "");
  if (h === "/sweeps") return { page: "sweeps" };
  const sweep = /^\/sweep\/([^/?]+)/.exec(h);
  if (sweep) return { page: "sweep", id: decodeURIComponent(sweep[1]) };
  const run = /^\/run\/([^/?]+)/.exec(h);
  if (run) return { page: "run", id: decodeURIComponent(run[1]) };
  const cmp = /^\/compare\?(.*)$/.exec(h);
  if (cmp) {
    const params = paramsOf(cmp[1].replace(/runs=[^&]*/, ""));
    const runs = /(?:^|&)runs=([^&]*)/.exec(cmp[1]);
    return {
      page: "compare",
      ids: (runs?.[1] ?? "").split(",").filter(Boolean).map(decodeURIComponent),
      params,
    };
  }
  const q = h.indexOf("?");
  return { page: "list", params: q >= 0 ? paramsOf(h.slice(q + 1)) : {} };
}

/** The runs table's view state. */
export interface ListState {
  /** The query. */
  q: string;
  /** Sort column ("" = newest first). */
  sort: string;
  /** Descending. */
  desc: boolean;
  /** Group-by column ("" = none). */
  group: string;
  /** Show archived runs. */
  archived: boolean;
  /** Visible columns (null = the default set). */
  cols: string[] | null;
  /** 0-based page. */
  page: number;
}

/** The list state in `params` (missing values take the defaults). */
export function listStateOf(params: Record<string, string>): ListState {
  return {
    q: params.q ?? "",
    sort: params.sort ?? "",
    desc: params.desc === "1",
    group: params.group ?? "",
    archived: params.archived === "1",
    cols: params.cols ? params.cols.split(",").filter(Boolean) : null,
    page: Math.max(0, Number(params.page) || 0),
  };
}

/** The hash of the list in state `s` (defaults left out). */
export function listHash(s: ListState): string {
  const p = new URLSearchParams();
  if (s.q) p.set("q", s.q);
  if (s.sort) p.set("sort", s.sort);
  if (s.desc) p.set("desc", "1");
  if (s.group) p.set("group", s.group);
  if (s.archived) p.set("archived", "1");
  if (s.cols) p.set("cols", s.cols.join(","));
  if (s.page) p.set("page", String(s.page));
  const q = p.toString();
  return q ? `#/?${q}` : "#/";
}

/** The hash of the comparison of `ids` with view `params`. */
export function compareHash(ids: readonly string[], params: Record<string, string> = {}): string {
  const p = new URLSearchParams(params);
  const rest = p.toString();
  return `#/compare?runs=${ids.map(encodeURIComponent).join(",")}${rest ? `&${rest}` : ""}`;
}
