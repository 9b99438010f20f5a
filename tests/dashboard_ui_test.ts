import { basename } from "node:path";
import assert from "node:assert/strict";
import { smoothEma } from "../dashboard/ui/smooth.ts";
import { eventMarkers, extraKeys, metricSeries, stepsPerEpoch } from "../dashboard/ui/curves.ts";
import { parseRoute } from "../dashboard/ui/main.tsx";
import { listHash, listStateOf } from "../dashboard/ui/url_state.ts";
import { axisScale, brushedIds } from "../dashboard/ui/parallel_coords.tsx";
import { compareSeries, differingKeys, metricKeysOf } from "../dashboard/ui/compare_page.tsx";
import { buildUi } from "../dashboard/build_ui.ts";
import { runColor } from "../dashboard/ui/palette.ts";
import { integerTicks } from "../dashboard/ui/ticks.ts";
import { pathToFileURL } from "node:url";

Deno.test("smoothEma: 0 is identity, debiased, NaN/null pass through", () => {
  assert.deepEqual(smoothEma([1, 2, 3], 0), [1, 2, 3]);
  const s = smoothEma([2, 2, null, 2], 0.9);
  assert.ok(Math.abs((s[0] as number) - 2) < 1e-12, "debiased first value");
  assert.equal(s[2], null);
  assert.ok(Math.abs((s[3] as number) - 2) < 1e-12);
  const spike = smoothEma([0, 0, 10, 0], 0.5);
  assert.ok((spike[2] as number) < 10 && (spike[2] as number) > 0);
});

Deno.test("metricSeries: training points, validation line, batch series at fractional epochs", () => {
  const epochs = [0, 1].map((e) => ({
    epoch: e,
    step: (e + 1) * 4,
    time: 0,
    loss: 1 - e * 0.1,
    val_loss: 1.1 - e * 0.05,
  }));
  const batches = [0, 1, 2, 3].map((b) => ({
    epoch: 0,
    step: b + 1,
    time: 0,
    batch: b,
    loss: 1 + b,
  }));
  assert.equal(stepsPerEpoch(epochs, batches), 4);
  const s = metricSeries("loss", epochs, batches, 0);
  assert.deepEqual(s.map((x) => x.label), ["batch loss", "training loss", "validation loss"]);
  assert.deepEqual(s[0].x, [0.25, 0.5, 0.75, 1]);
  assert.deepEqual(s[1].x, [1, 2]);
  assert.equal(s[1].points, true);
  assert.deepEqual(s[2].y, [1.1, 1.05]);
  assert.deepEqual(metricSeries("acc", epochs, [], 0), []);
  assert.deepEqual(extraKeys([{ epoch: 0, step: 0, time: 0, loss: 1, gap: 2, val_gap: 3 }]), [
    "gap",
  ]);
  const m = eventMarkers([
    { type: "lr_changed", epoch: 4, step: 0, time: 0 },
    { type: "train_begin", epoch: 0, step: 0, time: 0 },
    { type: "checkpoint_saved", epoch: 2, step: 0, time: 0 },
  ]);
  assert.deepEqual(m.map((x) => [x.x, x.label, x.style]), [
    [5, "lr_changed", "line"],
    [3, "checkpoint_saved", "tick"],
  ]);
});

Deno.test("parseRoute: run pages with encoded ids, comparison, fallback to the list", () => {
  assert.deepEqual(parseRoute(""), { page: "list", params: {} });
  assert.deepEqual(parseRoute("#/run/a%2Fb"), { page: "run", id: "a/b" });
  assert.deepEqual(parseRoute("#/compare?runs=a,b%2Cc"), {
    page: "compare",
    ids: ["a", "b,c"],
    params: {},
  });
  assert.deepEqual(parseRoute("#/compare?runs=a,b&metric=val_acc&x=wall"), {
    page: "compare",
    ids: ["a", "b"],
    params: { metric: "val_acc", x: "wall" },
  });
  // The list's view state round-trips through the URL.
  const state = {
    q: "lr < 0.01 and tag = baseline",
    sort: "best.val_acc",
    desc: true,
    group: "optimizer",
    archived: true,
    cols: ["name", "learningRate"],
    page: 2,
  };
  const route = parseRoute(listHash(state));
  assert.equal(route.page, "list");
  assert.deepEqual(listStateOf((route as { params: Record<string, string> }).params), state);
  assert.equal(listHash(listStateOf({})), "#/");
  assert.deepEqual(parseRoute("#/sweeps"), { page: "sweeps" });
  assert.deepEqual(parseRoute("#/sweep/lr-1a2b3c4d"), { page: "sweep", id: "lr-1a2b3c4d" });
});

Deno.test("the committed client bundle is what `deno task build-ui` produces", async () => {
  const tmp = await Deno.makeTempDir();
  const built = await buildUi(pathToFileURL(tmp + "/"));
  for (const [name, file] of Object.entries(built)) {
    const committed = await Deno.readFile(
      new URL(`../dashboard/ui/dist/${basename(file)}`, import.meta.url),
    );
    const fresh = await Deno.readFile(file);
    assert.ok(
      committed.length === fresh.length && committed.every((b, i) => b === fresh[i]),
      `dashboard/ui/dist/${basename(file)} (${name}) is out of date: run \`deno task build-ui\``,
    );
  }
});

Deno.test("parallel coordinates: numeric (log) and categorical scales, brushing selects items", () => {
  const items = [
    { id: "a", color: "", values: { lr: 0.001, opt: "adam", acc: 0.9 } },
    { id: "b", color: "", values: { lr: 0.01, opt: "sgd", acc: 0.8 } },
    { id: "c", color: "", values: { lr: 0.1, opt: "adam", acc: 0.5 } },
  ];
  const lr = axisScale({ key: "lr", log: true }, items);
  assert.equal(lr.pos(0.001), 0);
  assert.ok(Math.abs(lr.pos(0.01)! - 0.5) < 1e-12, "log scale: 0.01 halfway");
  const opt = axisScale({ key: "opt" }, items);
  assert.deepEqual([opt.pos("adam"), opt.pos("sgd")], [0, 1]);
  const dims = [{ key: "lr", log: true }, { key: "opt" }, { key: "acc" }];
  assert.deepEqual(brushedIds(dims, items, {}), ["a", "b", "c"]);
  assert.deepEqual(brushedIds(dims, items, { acc: { lo: 0.6, hi: 1 } }), ["a", "b"]);
  assert.deepEqual(brushedIds(dims, items, { acc: { lo: 0.6, hi: 1 }, opt: { lo: 0, hi: 0.2 } }), [
    "a",
  ]);
});

Deno.test("comparison: metric keys found, x as epoch/step/wall minutes, differing hyperparameters", () => {
  const epochs = [0, 1].map((e) => ({
    epoch: e,
    step: (e + 1) * 10,
    time: 60_000 * (e + 1),
    val_loss: 1 - e / 10,
    images_per_s: 100,
  }));
  const runs = [{ id: "a", epochs, start: 0 }];
  assert.deepEqual(metricKeysOf(runs), ["images_per_s", "val_loss"]);
  assert.deepEqual(compareSeries(runs, "val_loss", "epoch")[0].x, [1, 2]);
  assert.deepEqual(compareSeries(runs, "val_loss", "step")[0].x, [10, 20]);
  assert.deepEqual(compareSeries(runs, "val_loss", "wall")[0].x, [1, 2]);
  const s = (cells: Record<string, unknown>) => ({ cells }) as never;
  assert.deepEqual(
    differingKeys([s({ lr: 1, w: 2, o: "a" }), s({ lr: 2, w: 2, o: "a" })], ["lr", "w", "o"]),
    ["lr"],
  );
});

Deno.test("run details: the experiment's params are flattened into the hyperparameters table", async () => {
  const { flatConfig } = await import("../dashboard/ui/run_details.tsx");
  assert.deepEqual(flatConfig({ lr: 1, params: { width: 8, optimizer: "sgd" }, data: "x" }), [
    ["lr", 1],
    ["params.width", 8],
    ["params.optimizer", "sgd"],
    ["data", "x"],
  ]);
});

Deno.test("run colours: 20 distinguishable colours (CIELAB ΔE > 25 between any two and the faded grey)", () => {
  const lab = (hex: string) => {
    const [r, g, b] = [1, 3, 5].map((i) => {
      const c = parseInt(hex.slice(i, i + 2), 16) / 255;
      return c <= 0.04045 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4;
    });
    const t = (v: number) => (v > 0.008856 ? Math.cbrt(v) : 7.787 * v + 16 / 116);
    const x = t((0.4124 * r + 0.3576 * g + 0.1805 * b) / 0.95047);
    const y = t(0.2126 * r + 0.7152 * g + 0.0722 * b);
    const z = t((0.0193 * r + 0.1192 * g + 0.9505 * b) / 1.08883);
    return [116 * y - 16, 500 * (x - y), 200 * (y - z)];
  };
  const colours = Array.from({ length: 20 }, (_, i) => runColor(i));
  assert.equal(new Set(colours).size, 20);
  const all = [...colours, "#cccccc"];
  for (let i = 0; i < all.length; i++) {
    for (let j = i + 1; j < all.length; j++) {
      const [a, b] = [lab(all[i]), lab(all[j])];
      const d = Math.hypot(a[0] - b[0], a[1] - b[1], a[2] - b[2]);
      assert.ok(d > 25, `${all[i]} and ${all[j]}: ΔE ${d.toFixed(1)}`);
    }
  }
  assert.equal(runColor(20), runColor(0));
});

Deno.test("epoch and step axes tick on whole numbers only", () => {
  assert.deepEqual(integerTicks(1, 3, 10), [1, 2, 3]);
  assert.deepEqual(integerTicks(0.4, 3.2, 12), [1, 2, 3]);
  assert.deepEqual(integerTicks(1, 12, 18), [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]);
  assert.deepEqual(integerTicks(0, 100, 5), [0, 20, 40, 60, 80, 100]);
  for (const [lo, hi, n] of [[1, 2, 20], [0, 7, 30], [3, 250, 9], [0, 123456, 7]]) {
    const t = integerTicks(lo, hi, n);
    assert.ok(t.length > 0 && t.every(Number.isInteger), JSON.stringify(t));
    assert.ok(t.length <= n + 1, `${t.length} ticks for room ${n}`);
  }
});
