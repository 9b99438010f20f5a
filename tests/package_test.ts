import assert from "node:assert/strict";
import { dirname, join } from "node:path";
import { writeFakeRun } from "./helpers/fake_run.ts";
import { readUntil } from "./helpers/read_until.ts";

const ROOT = new URL("..", import.meta.url).pathname;

/** The files `deno publish` would ship, as listed by its dry run. */
async function packageFiles(): Promise<string[]> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["publish", "--dry-run", "--allow-dirty"],
    cwd: ROOT,
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1" },
  }).output();
  const text = new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr);
  assert.equal(out.code, 0, text.slice(-2000));
  return [...text.matchAll(/^\s+file:\/\/(\S+) \(/gm)].map((m) => m[1]);
}

Deno.test("the published package: no tests or tools, and the dashboard serves offline from a copy", async () => {
  const files = await packageFiles();
  const rel = files.map((f) => f.slice(ROOT.length));
  assert.ok(rel.includes("mod.ts") && rel.includes("dashboard/ui/dist/bundle.ts"), rel.join(" "));
  assert.ok(!rel.some((f) => f.startsWith("tests/") || f.startsWith("tools/")), rel.join(" "));
  assert.ok(rel.includes("LICENSE"), "LICENSE is shipped");
  // A copy of the package outside the repository, run with network access to loopback only
  // and read access to the runs folder only: the client bundle comes from a module.
  const copy = await Deno.makeTempDir({ prefix: "convdeck-pkg-" });
  for (const f of rel) {
    await Deno.mkdir(dirname(join(copy, f)), { recursive: true });
    await Deno.copyFile(join(ROOT, f), join(copy, f));
  }
  const runs = await Deno.makeTempDir();
  await writeFakeRun(runs, { id: "r", epochs: 3 });
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--cached-only",
      `--allow-read=${runs}`,
      "--allow-net=127.0.0.1",
      join(copy, "cli/dashboard.ts"),
      "--serve",
      "--runs",
      runs,
      "--port",
      "0",
    ],
    cwd: copy,
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  try {
    const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
    const { out, match: url } = await readUntil(reader, /http:\/\/\S+\//);
    reader.releaseLock();

    assert.ok(url, `no URL printed: ${out}`);
    const js = await fetch(`${url}assets/app.js`);
    assert.equal(js.status, 200);
    assert.ok((await js.arrayBuffer()).byteLength > 10_000);
    const list = await (await fetch(`${url}api/runs`)).json();
    assert.equal(list.runs[0].id, "r");
  } finally {
    child.kill();
    await child.status;
    await child.stderr.cancel();
    await child.stdout.cancel().catch(() => {});
  }
});

Deno.test("subpath exports load only what they need: /callbacks, /run and /track load neither sharp, Hono nor a tfjs backend", async () => {
  for (const entry of ["callbacks/mod.ts", "core/run/mod.ts", "track/mod.ts"]) {
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["info", "--json", entry],
      cwd: ROOT,
      stdout: "piped",
      stderr: "null",
    }).output();
    const graph = JSON.parse(new TextDecoder().decode(out.stdout)) as {
      modules: { kind: string; npmPackage?: string }[];
    };
    // The npm packages the module graph imports directly (not the whole lockfile).
    const npm = graph.modules.filter((m) => m.kind === "npm").map((m) => m.npmPackage ?? "");
    assert.ok(npm.length > 0, `${entry}: no npm packages listed`);
    for (const heavy of ["sharp@", "hono@", "tfjs-backend-wasm@", "tfjs-backend-webgpu@"]) {
      assert.ok(!npm.some((p) => p.includes(heavy)), `${entry} loads ${heavy}: ${npm.join(" ")}`);
    }
  }
});
