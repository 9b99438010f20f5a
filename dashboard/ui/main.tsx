/// <reference lib="dom" />
/**
 * The dashboard client's entry point: a hash router (`url_state.ts`) over the runs table, run
 * pages and the comparison page. Bundled into `dist/app.js` by `deno task build-ui`.
 *
 * @module
 */
import { render } from "preact";
import { useSignal } from "@preact/signals";
import { useEffect } from "preact/hooks";
import { RunList } from "./run_list.tsx";
import { RunPage } from "./run_page.tsx";
import { ComparePage } from "./compare_page.tsx";
import { parseRoute } from "./url_state.ts";

export { parseRoute, type Route } from "./url_state.ts";
import { SweepList, SweepPage } from "./sweep_page.tsx";

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
        ? <ComparePage ids={r.ids} params={r.params} />
        : r.page === "sweeps"
        ? <SweepList />
        : r.page === "sweep"
        ? <SweepPage key={r.id} id={r.id} />
        : <RunList params={r.params} />}
    </>
  );
}

const root = typeof document === "undefined" ? null : document.getElementById("app");
if (root) render(<App />, root);
