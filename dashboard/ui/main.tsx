/// <reference lib="dom" />
/**
 * The dashboard client's entry point: a hash router over the run list, run pages and the
 * comparison page. Bundled into `dist/app.js` by `deno task build-ui`.
 *
 * @module
 */
import { render } from "preact";
import { useSignal } from "@preact/signals";
import { useEffect } from "preact/hooks";
import { RunList } from "./run_list.tsx";
import { RunPage } from "./run_page.tsx";
import { ComparePage } from "./compare_page.tsx";
import { SweepList, SweepPage } from "./sweep_page.tsx";

/** A parsed location hash. */
export type Route =
  | { page: "list" }
  | { page: "run"; id: string }
  | { page: "compare"; ids: string[] }
  | { page: "sweeps" }
  | { page: "sweep"; id: string };

/**
 * Parses `#/run/<id>`, `#/compare?runs=a,b`, `#/sweeps`, `#/sweep/<id>` or anything else (the
 * list).
 */
export function parseRoute(hash: string): Route {
  const h = hash.replace(/^#/, "");
  if (h === "/sweeps") return { page: "sweeps" };
  const sweep = /^\/sweep\/([^/?]+)/.exec(h);
  if (sweep) return { page: "sweep", id: decodeURIComponent(sweep[1]) };
  const run = /^\/run\/([^/?]+)/.exec(h);
  if (run) return { page: "run", id: decodeURIComponent(run[1]) };
  const cmp = /^\/compare\?runs=(.*)$/.exec(h);
  if (cmp) {
    return {
      page: "compare",
      ids: cmp[1].split(",").filter(Boolean).map(decodeURIComponent),
    };
  }
  return { page: "list" };
}

function App() {
  const route = useSignal(parseRoute(location.hash));
  useEffect(() => {
    const on = () => (route.value = parseRoute(location.hash));
    addEventListener("hashchange", on);
    return () => removeEventListener("hashchange", on);
  }, []);
  const r = route.value;
  return (
    <>
      <header>
        <a href="#/" class="brand">convdeck</a> <a href="#/sweeps" class="nav">sweeps</a>
      </header>
      {r.page === "run"
        ? <RunPage key={r.id} id={r.id} />
        : r.page === "compare"
        ? <ComparePage ids={r.ids} />
        : r.page === "sweeps"
        ? <SweepList />
        : r.page === "sweep"
        ? <SweepPage key={r.id} id={r.id} />
        : <RunList />}
    </>
  );
}

const root = typeof document === "undefined" ? null : document.getElementById("app");
if (root) render(<App />, root);
