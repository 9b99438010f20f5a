import assert from "node:assert/strict";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { createDashboardApp, serveDashboard } from "../dashboard/mod.ts";
import { parseDashboardArgs, serverPermissions } from "../cli/dashboard.ts";
import { writeFakeRun } from "./helpers/fake_run.ts";

const CLI = fileURLToPath(new URL("../cli/dashboard.ts", import.meta.url));

Deno.test("DNS rebinding: a foreign Host gets 403; loopback names and allowed names pass", async () => {
  const root = await Deno.makeTempDir();
  await writeFakeRun(root, { id: "r" });
  const app = createDashboardApp({ runsDir: root, allowedHosts: ["box.lan"] });
  const get = (host: string) => app.request("/api/runs", { headers: { Host: host } });
  assert.equal((await get("evil.example")).status, 403);
  assert.equal((await get("evil.example:6006")).status, 403);
  assert.equal((await get("127.0.0.1.evil.example")).status, 403);
  for (const ok of ["localhost:6006", "127.0.0.1:6006", "[::1]:6006", "box.lan:6006"]) {
    assert.equal((await get(ok)).status, 200, ok);
  }
});

Deno.test("state-changing routes need the page's Origin and token", async () => {
  const root = await Deno.makeTempDir();
  const app = createDashboardApp({ runsDir: root, token: "tok" });
  const html = await (await app.request("http://localhost/")).text();
  assert.match(html, /<meta name="convdeck-token" content="tok">/);
  const post = (headers: Record<string, string>) =>
    app.request("http://localhost/api/runs/x", { method: "POST", headers });
  assert.equal((await post({})).status, 403);
  assert.equal(
    (await post({ Origin: "http://evil.example", "X-Convdeck-Token": "tok" })).status,
    403,
  );
  assert.equal(
    (await post({ Origin: "http://localhost", "X-Convdeck-Token": "nope" })).status,
    403,
  );
  // Right Origin and token: past the check (no such route: 404).
  assert.equal((await post({ Origin: "http://localhost", "X-Convdeck-Token": "tok" })).status, 404);
});

Deno.test("a non-loopback --host requires a token (printed in the URLs) unless --no-token", async () => {
  const root = await Deno.makeTempDir();
  await writeFakeRun(root, { id: "r" });
  const ac = new AbortController();
  const s = serveDashboard({ runsDir: root, host: "0.0.0.0", port: 0, signal: ac.signal });
  try {
    assert.equal(s.exposed, true);
    assert.ok(s.token && s.urls.every((u) => u.includes(`?token=${s.token}`)), s.urls.join(" "));
    const base = `http://127.0.0.1:${s.port}`;
    assert.equal((await fetch(`${base}/api/runs`)).status, 401);
    const withToken = await fetch(`${base}/?token=${s.token}`, { redirect: "manual" });
    assert.equal(withToken.status, 303);
    assert.equal(withToken.headers.get("location"), "/");
    const cookie = withToken.headers.get("set-cookie")!.split(";")[0];
    await withToken.body?.cancel();
    const viaCookie = await fetch(`${base}/api/runs`, { headers: { Cookie: cookie } });
    assert.equal(viaCookie.status, 200);
    await viaCookie.body?.cancel();
  } finally {
    ac.abort();
    await s.server.finished;
  }
  const ac2 = new AbortController();
  const open = serveDashboard({
    runsDir: root,
    host: "0.0.0.0",
    port: 0,
    signal: ac2.signal,
    noToken: true,
  });
  try {
    assert.equal(open.token, undefined);
    const r = await fetch(`http://127.0.0.1:${open.port}/api/runs`);
    assert.equal(r.status, 200);
    await r.body?.cancel();
  } finally {
    ac2.abort();
    await open.server.finished;
  }
});

Deno.test("deno task dashboard --host 0.0.0.0 warns loudly and prints the real URLs with the token", async () => {
  const root = await Deno.makeTempDir();
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--allow-run",
      "--allow-read",
      CLI,
      "--runs",
      root,
      "--port",
      "0",
      "--host",
      "0.0.0.0",
    ],
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const out = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let text = "";
  while (!/\?token=\w+/.test(text)) {
    const r = await out.read();
    if (r.done) break;
    text += r.value;
  }
  child.kill("SIGTERM");
  await child.status;
  await out.cancel().catch(() => {});
  const err = await new Response(child.stderr).text();
  assert.match(err, /WARNING: this dashboard is reachable from other machines/);
  assert.doesNotMatch(text, /0\.0\.0\.0/, "real addresses, not the wildcard");
  assert.match(text, /http:\/\/[\d.]+:\d+\/\?token=[0-9a-f]{32}/);
});

Deno.test("least privilege: the dashboard server may use the runs folder only (read-only with --read-only)", async () => {
  const root = await Deno.makeTempDir();
  const secret = join(await Deno.makeTempDir(), "secret.txt");
  await Deno.writeTextFile(secret, "TOP SECRET");
  await Deno.writeTextFile(join(root, "inside.txt"), "fine");
  const probeWith = async (extra: string[]) => {
    const args = parseDashboardArgs(["--runs", root, "--port", "0", ...extra]);
    assert.notEqual(args, "help");
    const flags = serverPermissions(args as Exclude<typeof args, "help">);
    const out = await new Deno.Command(Deno.execPath(), { args: ["run", ...flags, file] }).output();
    return JSON.parse(new TextDecoder().decode(out.stdout));
  };
  const probe = `
    const ok = await Deno.readTextFile(${JSON.stringify(join(root, "inside.txt"))});
    let outside = "read";
    try { await Deno.readTextFile(${JSON.stringify(secret)}); } catch (e) { outside = e.name; }
    let net = "reached";
    try { (await Deno.connect({ hostname: "127.0.0.2", port: 9 })).close(); } catch (e) { net = e.name; }
    const inside = ${JSON.stringify(join(root, "x.txt"))};
    const secretPath = ${JSON.stringify(secret)};
    let write = "written";
    try { await Deno.writeTextFile(inside, "x"); } catch (e) { write = e.name; }
    let writeOutside = "written";
    try { await Deno.writeTextFile(secretPath, "x"); } catch (e) { writeOutside = e.name; }
    console.log(JSON.stringify({ ok, outside, net, write, writeOutside }));`;
  const file = join(await Deno.makeTempDir(), "probe.ts");
  await Deno.writeTextFile(file, probe);
  const r = await probeWith([]);
  assert.equal(r.ok, "fine");
  assert.equal(r.outside, "NotCapable");
  assert.equal(r.net, "NotCapable");
  assert.equal(r.write, "written", "edits (meta.json, trash) may write inside the runs folder");
  assert.equal(r.writeOutside, "NotCapable");
  const ro = await probeWith(["--read-only"]);
  assert.equal(ro.write, "NotCapable");
  assert.equal(ro.outside, "NotCapable");
});

Deno.test("Origin check: the scheme counts (https://127.0.0.1:P is another origin of an http server)", async () => {
  const root = await Deno.makeTempDir();
  const app = createDashboardApp({ runsDir: root, token: "tok" });
  const post = (origin: string) =>
    app.request("http://127.0.0.1:6006/api/runs/x", {
      method: "POST",
      headers: { Host: "127.0.0.1:6006", Origin: origin, "X-Convdeck-Token": "tok" },
    });
  assert.equal((await post("https://127.0.0.1:6006")).status, 403);
  assert.equal((await post("ws://127.0.0.1:6006")).status, 403);
  assert.equal((await post("http://127.0.0.1:6007")).status, 403);
  assert.equal((await post("http://127.0.0.1:6006")).status, 404, "right origin: past the check");
});

Deno.test("token gate: ?token= sets a per-port cookie and redirects to the clean URL; compares in constant time", async () => {
  const root = await Deno.makeTempDir();
  await writeFakeRun(root, { id: "r" });
  const app = createDashboardApp({ runsDir: root, token: "t0k3n", requireToken: true });
  const base = "http://127.0.0.1:6123";
  const get = (path: string, headers: Record<string, string> = {}) =>
    app.request(`${base}${path}`, { headers: { Host: "127.0.0.1:6123", ...headers } });
  const first = await get("/run/r?tab=curves&token=t0k3n#x");
  assert.equal(first.status, 303);
  assert.equal(first.headers.get("location"), "/run/r?tab=curves", "the token leaves the URL");
  const cookie = first.headers.get("set-cookie")!;
  assert.match(cookie, /^convdeck_token_6123=t0k3n;/, "the cookie's name carries the port");
  assert.match(cookie, /HttpOnly/);
  assert.match(cookie, /SameSite=Strict/);
  const jar = cookie.split(";")[0];
  assert.equal((await get("/api/runs", { Cookie: jar })).status, 200);
  // Another dashboard's cookie (another port) is not this one's.
  assert.equal((await get("/api/runs", { Cookie: "convdeck_token_6124=t0k3n" })).status, 401);
  assert.equal((await get("/api/runs", { Cookie: "convdeck_token=t0k3n" })).status, 401);
  // Wrong tokens of every length and prefix: 401.
  for (const wrong of ["", "t", "t0k3", "t0k3N", "t0k3nn", "x0k3n"]) {
    assert.equal((await get(`/api/runs?token=${wrong}`)).status, 401, wrong);
    assert.equal((await get("/api/runs", { "X-Convdeck-Token": wrong })).status, 401, wrong);
  }
  assert.equal((await get("/api/runs", { "X-Convdeck-Token": "t0k3n" })).status, 200);
});

Deno.test("token gate: the comparison is sameToken (no === on the secret)", async () => {
  const src = await Deno.readTextFile(new URL("../dashboard/token_gate.ts", import.meta.url));
  assert.match(src, /sameToken\(v, token\)/);
  assert.doesNotMatch(src, /===\s*token|token\s*===/);
});
