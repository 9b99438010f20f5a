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

/** A parsed location hash. */
export type Route =
  | { page: "list" }
  | { page: "run"; id: string }
  | { page: "compare"; ids: string[] };

/** Parses `#/run/<id>`, `#/compare?runs=a,b` or anything else (the list). */
export function parseRoute(hash: string): Route {
  const h = hash.replace(/^#/, "");
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
        <a href="#/" class="brand">convdeck</a>
      </header>
      {r.page === "run"
        ? <RunPage key={r.id} id={r.id} />
        : r.page === "compare"
        ? <ComparePage ids={r.ids} />
        : <RunList />}
    </>
  );
}

const root = typeof document === "undefined" ? null : document.getElementById("app");
if (root) render(<App />, root);
