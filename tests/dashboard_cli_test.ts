import assert from "node:assert/strict";
import { parseDashboardArgs } from "../cli/dashboard.ts";
import { startDashboard } from "../dashboard/mod.ts";
import { writeFakeRun } from "./helpers/fake_run.ts";
import { readUntil } from "./helpers/read_until.ts";

Deno.test("parseDashboardArgs: defaults, values, clear errors", () => {
  assert.deepEqual(parseDashboardArgs([]), { runsDir: "runs", port: 6006, host: "127.0.0.1" });
  assert.deepEqual(parseDashboardArgs(["--runs", "x", "--port", "0", "--host", "0.0.0.0"]), {
    runsDir: "x",
    port: 0,
    host: "0.0.0.0",
  });
  assert.throws(
    () => parseDashboardArgs(["--port", "abc"]),
    /--port must be an integer from 0 to 65535, got "abc"/,
  );
  assert.throws(() => parseDashboardArgs(["--port", "70000"]), /--port must be/);
  assert.throws(() => parseDashboardArgs(["--bogus"]), /Unknown option '--bogus'.*--help/);
  assert.throws(() => parseDashboardArgs(["extra"]), /Unexpected argument 'extra'/);
});

Deno.test("startDashboard serves a runs directory on 127.0.0.1 and closes with an open stream", async () => {
  const root = await Deno.makeTempDir();
  await writeFakeRun(root, { id: "r", status: "running" });
  const dash = await startDashboard({ runsDir: root, port: 0 });
  assert.match(dash.url, /^http:\/\/127\.0\.0\.1:\d+\/$/);
  const runs = await (await fetch(`${dash.url}api/runs`)).json();
  assert.equal(runs.runs[0].id, "r");
  const stream = await fetch(`${dash.url}api/runs/r/stream`);
  const reader = stream.body!.getReader();
  await reader.read();
  const t0 = performance.now();
  await dash.close();
  await reader.cancel().catch(() => {});
  assert.ok(performance.now() - t0 < 3000);
  await assert.rejects(() => fetch(`${dash.url}api/runs`));
});

Deno.test("deno task dashboard prints the URL and rejects bad flags", async () => {
  const bad = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "cli/dashboard.ts", "--port", "x"],
    stderr: "piped",
    stdout: "piped",
  }).output();
  assert.equal(bad.code, 2);
  assert.match(new TextDecoder().decode(bad.stderr), /error: --port must be an integer/);
  const root = await Deno.makeTempDir();
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "cli/dashboard.ts", "--runs", root, "--port", "0"],
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  const { out, match } = await readUntil(reader, /http:\/\/\S+/);
  const url = match!;
  assert.match(out, /convdeck dashboard for .*: http:\/\/127\.0\.0\.1:\d+\//);
  assert.equal((await fetch(url)).status, 200);
  child.kill("SIGTERM");
  await reader.cancel();
  await child.stderr.cancel();
  await child.status;
});
