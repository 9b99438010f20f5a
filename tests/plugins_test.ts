import assert from "node:assert/strict";
import { join } from "node:path";
import { loadPlugin, parsePluginArg, PluginError } from "../core/experiment/plugins.ts";
import { runExperiment } from "../core/experiment/run_experiment.ts";
import { CallbackError } from "../core/train/trainer.ts";
import { tinyExperiment } from "./helpers/tiny_experiment.ts";

async function writeModule(source: string): Promise<string> {
  const dir = await Deno.makeTempDir();
  const path = join(dir, "plugin.ts");
  await Deno.writeTextFile(path, source);
  return path;
}

Deno.test("parsePluginArg: path alone, path with JSON options, bad JSON", () => {
  assert.deepEqual(parsePluginArg("./p.ts"), { path: "./p.ts" });
  assert.deepEqual(parsePluginArg('./p.ts {"target": 0.9}'), {
    path: "./p.ts",
    options: { target: 0.9 },
  });
  assert.throws(() => parsePluginArg("./p.ts {target: 1}"), /options are not valid JSON/);
});

Deno.test("the shipped example plugin loads with options and validates them", async () => {
  const cb = await loadPlugin({
    path: "experiments/plugins/stop_at_target.ts",
    options: { target: 0.5 },
  });
  assert.equal(cb.name, "stop_at_target");
  await assert.rejects(
    loadPlugin({ path: "experiments/plugins/stop_at_target.ts", options: { target: "x" } }),
    /stop_at_target.ts: its factory threw: "target" must be a number/,
  );
});

Deno.test("plugin errors name the plugin and the fix", async () => {
  await assert.rejects(loadPlugin({ path: "./nope/missing.ts" }), (e: Error) => {
    assert(e instanceof PluginError);
    assert.match(e.message, /Callback plugin \.\/nope\/missing\.ts: cannot read .*missing\.ts/);
    return true;
  });
  const noDefault = await writeModule("export const x = 1;");
  await assert.rejects(loadPlugin({ path: noDefault }), /has no default export/);
  const notCallback = await writeModule("export default { hello: 1 };");
  await assert.rejects(
    loadPlugin({ path: notCallback }),
    /not a valid Callback: it has no `name` string; it defines none of the hooks/,
  );
  const badHook = await writeModule('export default { name: "x", onEpochEnd: 3 };');
  await assert.rejects(loadPlugin({ path: badHook }), /`onEpochEnd` is not a function/);
  const syntax = await writeModule("export default {{{");
  await assert.rejects(loadPlugin({ path: syntax }), /plugin\.ts: failed to load/);
  const objWithOptions = await writeModule('export default { name: "x", onEpochEnd() {} };');
  await assert.rejects(
    loadPlugin({ path: objWithOptions, options: { a: 1 } }),
    /options were given but the default export is an object/,
  );
});

Deno.test("a plugin hook that throws fails the run with the plugin's name", async () => {
  const path = await writeModule(
    'export default () => ({ name: "exploding", onEpochEnd() { throw new Error("kaboom"); } });',
  );
  const runsDir = await Deno.makeTempDir();
  await assert.rejects(
    runExperiment({
      experiment: tinyExperiment(),
      runsDir,
      backend: "wasm",
      log: () => {},
      plugins: [{ path }],
      overrides: { epochs: 1 },
    }),
    (e: Error) =>
      e instanceof CallbackError && /"exploding" failed in onEpochEnd: kaboom/.test(e.message),
  );
});
