/**
 * `--precision fp32|bf16|auto` the way users launch it: `deno task train` (deno.json's entry,
 * `deno run -A cli/train.ts`) as a subprocess. The precision a run got is stored in run.json,
 * shown in the runs table, kept on resume; bad values exit 2; bf16 where it cannot run is a
 * clear error (exit 1).
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { NATIVE } from "./native_helpers.ts";
import { nativeBf16Support } from "../core/backend/native/register.ts";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const BF16 = NATIVE.ok && nativeBf16Support().ok;

async function task(name: string, ...args: string[]) {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["task", "-q", name, ...args],
    cwd: ROOT,
  }).output();
  const d = new TextDecoder();
  return { code: out.code, stdout: d.decode(out.stdout), stderr: d.decode(out.stderr) };
}

async function runJson(runs: string): Promise<Record<string, { config: Record<string, unknown> }>> {
  const out: Record<string, { config: Record<string, unknown> }> = {};
  for await (const e of Deno.readDir(runs)) {
    if (e.isDirectory && !e.name.startsWith(".")) {
      out[e.name] = JSON.parse(await Deno.readTextFile(join(runs, e.name, "run.json")));
    }
  }
  return out;
}

Deno.test("train --precision: bad value exits 2; bf16 on wasm is a clear error (exit 1)", async () => {
  const bad = await task("train", "--precision", "fp16", "--epochs", "1");
  assert.equal(bad.code, 2, bad.stderr);
  assert.match(bad.stderr, /--precision must be one of fp32, bf16, auto, got "fp16"/);
  const runs = await Deno.makeTempDir();
  const wasm = await task(
    "train",
    "--backend",
    "wasm",
    "--precision",
    "bf16",
    "--epochs",
    "1",
    "--runs",
    runs,
  );
  assert.equal(wasm.code, 1, wasm.stderr);
  assert.match(wasm.stderr, /--precision bf16 runs on the native \(oneDNN\) backend only/);
  assert.deepEqual(await runJson(runs), {}, "no run folder for a run that could not start");
  await Deno.remove(runs, { recursive: true });
});

Deno.test({
  name: "train --precision bf16: stored in run.json, in the runs table, kept on resume",
  ignore: !BF16,
  fn: async () => {
    const runs = await Deno.makeTempDir();
    const common = ["--backend", "native", "--epochs", "1", "--set", "width=4", "--runs", runs];
    const bf = await task("train", "--precision", "bf16", ...common, "--name", "b");
    assert.equal(bf.code, 0, bf.stderr);
    assert.match(bf.stderr, /precision: bf16 \(requested\)/);
    const fp = await task("train", ...common, "--name", "f");
    assert.equal(fp.code, 0, fp.stderr);
    const auto = await task("train", "--precision", "auto", ...common, "--name", "a");
    assert.equal(auto.code, 0, auto.stderr);
    assert.match(auto.stderr, /precision: bf16 \(auto: native bf16/);
    const infos = Object.entries(await runJson(runs));
    const byName = (n: string) =>
      infos.find(([id]) =>
        JSON.parse(Deno.readTextFileSync(join(runs, id, "meta.json"))).name === n
      )!;
    assert.equal(byName("b")[1].config.precision, "bf16");
    assert.equal(byName("f")[1].config.precision, "fp32");
    assert.equal(byName("a")[1].config.precision, "bf16", "auto stores what it got");
    const list = await task("runs", "--runs", runs, "list");
    assert.equal(list.code, 0, list.stderr);
    const lines = list.stdout.split("\n");
    assert.match(lines[0], /precision/, list.stdout);
    const col = lines[0].indexOf("precision");
    const cell = (name: string) => {
      const line = lines.find((l) => l.includes(byName(name)[0]))!;
      return line.slice(col, col + 9).trim();
    };
    assert.equal(cell("b"), "bf16");
    assert.equal(cell("f"), "fp32");
    const resumed = await task("train", "--resume", join(runs, byName("b")[0]), "--epochs", "2");
    assert.equal(resumed.code, 0, resumed.stderr);
    assert.match(resumed.stderr, /precision: bf16/);
    const changed = await task(
      "train",
      "--resume",
      join(runs, byName("b")[0]),
      "--epochs",
      "3",
      "--precision",
      "fp32",
    );
    assert.notEqual(changed.code, 0);
    assert.match(changed.stderr, /keeps its precision \(bf16\)/);
    const ev = await task("evaluate", "--run", join(runs, byName("f")[0]), "--precision", "bf16");
    assert.equal(ev.code, 0, ev.stderr);
    assert.match(ev.stderr, /precision bf16 \(requested\)/);
    const evBad = await task("evaluate", "--run", join(runs, byName("f")[0]), "--precision", "x");
    assert.equal(evBad.code, 2, evBad.stderr);
    await Deno.remove(runs, { recursive: true });
  },
});
