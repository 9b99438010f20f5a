/**
 * Fuzzing the dashboard's HTTP routes through `app.request` (no network): seeded random paths,
 * percent-encodings, dot segments, run ids with odd characters, query values, methods, Host
 * headers, Origins and tokens, against a runs folder full of symlinks to a secret outside it
 * (tests/helpers/leak_fixture.ts). No answer may be a 5xx, carry a byte of the secret or an
 * absolute path; a foreign Host is always 403; a state-changing request without the right
 * Origin and token is always 403. The counts are printed.
 */
import assert from "node:assert/strict";
import { createDashboardApp } from "../dashboard/mod.ts";
import { TOKEN_HEADER } from "../dashboard/origin_check.ts";
import { Fuzz, ODD_STRINGS } from "./helpers/fuzz.ts";
import { leakFixture } from "./helpers/leak_fixture.ts";

const SEED = 20261202;
const TOKEN = "fuzztoken0123456789";

const HOSTS: [string, boolean][] = [
  ["127.0.0.1:6006", true],
  ["localhost:6006", true],
  ["localhost", true],
  ["LOCALHOST:6006", true],
  ["[::1]:6006", true],
  ["127.0.0.1", true],
  ["evil.example", false],
  ["evil.example:6006", false],
  ["127.0.0.1.evil.example", false],
  ["localhost.evil.example:6006", false],
  ["127.0.0.2:6006", false],
  ["0.0.0.0:6006", false],
  ["[::2]:6006", false],
  ["10.0.0.1", false],
  ["evil.example@127.0.0.1", false],
  ["", false],
];

const METHODS = ["GET", "GET", "GET", "GET", "HEAD", "OPTIONS", "POST", "PUT", "DELETE", "PATCH"];
const STATE_CHANGING = new Set(["POST", "PUT", "DELETE", "PATCH"]);
const SUBROUTES = [
  "",
  "metrics",
  "metrics.csv",
  "events",
  "viz",
  "evaluation",
  "files/model.txt",
  "files/evaluation.json",
  "files/training.csv",
  "files/viz/index.json",
  "files/viz/secret.png",
  "files/viz/escape/secret.json",
  "files/artifacts/secret.json",
  "files/checkpoints/run.json",
  "files/run.json",
  "files/metrics.jsonl",
  "checkpoints",
  "stream",
];
const QUERY_KEYS = ["since", "maxPoints", "kind", "limit", "offset", "metricsSince", "x"];

/** encodeURIComponent, with a lone surrogate as the invalid UTF-8 a raw client could send. */
function uriEncode(s: string): string {
  try {
    return encodeURIComponent(s);
  } catch {
    return "%ED%A0%80" + s.length;
  }
}

function encodeRandomly(f: Fuzz, s: string): string {
  let out = "";
  for (const ch of s) {
    const r = f.next();
    if (r < 0.15) {
      out += [...new TextEncoder().encode(ch)].map((b) =>
        "%" + b.toString(16).padStart(2, "0")[f.chance() ? "toUpperCase" : "toLowerCase"]()
      ).join("");
    } else if (/[?#]/.test(ch) && r < 0.9) out += uriEncode(ch);
    else out += ch;
  }
  return out;
}

function segment(f: Fuzz, ids: string[]): string {
  switch (f.int(8)) {
    case 0:
      return f.pick(["..", ".", "%2e%2e", "%2E.", ".%2e", "..%2f..", "%2f", "%5c", "..\\..", ""]);
    case 1:
      return f.pick(ODD_STRINGS);
    case 2:
      return f.string().slice(0, 40);
    default:
      return uriEncode(f.pick(ids));
  }
}

function randomPath(f: Fuzz, ids: string[]): string {
  const r = f.next();
  if (r < 0.05) return "/" + f.pick(["", "assets/app.js", "assets/../../etc/passwd", "runs/x"]);
  if (r < 0.1) return "/api/" + segment(f, ids);
  let path = "/api/runs";
  if (f.chance(0.9)) {
    const id = f.chance(0.8) ? uriEncode(f.pick(ids)) : segment(f, ids);
    path += "/" + id;
    const sub = f.pick(SUBROUTES);
    if (sub) path += "/" + sub;
    for (let n = f.chance(0.3) ? 1 + f.int(3) : 0; n > 0; n--) path += "/" + segment(f, ids);
  }
  if (f.chance(0.2)) path = path.replace(/\//g, () => (f.chance(0.1) ? "//" : "/"));
  path = "/" + encodeRandomly(f, path.slice(1));
  if (f.chance(0.5)) {
    const q = Array.from({ length: 1 + f.int(3) }, () => {
      const v = f.pick([
        String(f.int(1000)),
        "-1",
        "1e9",
        "99999999999999999999",
        "NaN",
        "epoch",
        "batch",
        "all",
        "",
        f.string().slice(0, 30),
      ]);
      return `${f.pick(QUERY_KEYS)}=${uriEncode(v)}`;
    });
    path += "?" + q.join("&");
  }
  return path;
}

Deno.test({
  name:
    "fuzz: 12,000 random requests: no 5xx, no secret byte, no absolute path, Host and Origin enforced",
  // SSE answers are cancelled at once; their poll loops end on the next tick
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const fx = await leakFixture();
    const app = createDashboardApp({ runsDir: fx.root, pollMs: 20, token: TOKEN });
    const f = new Fuzz(SEED);
    const counts: Record<string, number> = {};
    const count = (k: string) => void (counts[k] = (counts[k] ?? 0) + 1);
    const ids = [...fx.ids, "nope", "..", "good/../evil"];
    const t0 = performance.now();
    try {
      for (let i = 0; i < 12_000; i++) {
        const wantOk = f.chance(0.7);
        const [host, hostOk] = f.pick(HOSTS.filter(([, ok]) => ok === wantOk));
        const method = f.pick(METHODS);
        const path = randomPath(f, ids);
        const headers: Record<string, string> = {};
        if (host !== "" || f.chance()) headers.host = host;
        const originKind = f.int(5);
        const origin = [
          undefined,
          `http://${host}`,
          "http://evil.example",
          "null",
          f.string().slice(0, 30).replace(/[^\x21-\x7e]/g, ""),
        ][originKind];
        if (origin !== undefined) headers.origin = origin;
        const tokenKind = f.int(3);
        if (tokenKind > 0) headers[TOKEN_HEADER] = tokenKind === 1 ? TOKEN : TOKEN.slice(1) + "x";
        let req: Request;
        try {
          req = new Request(`http://127.0.0.1:6006${path}`, { method, headers });
        } catch (err) {
          count("unbuildable"); // e.g. a header value fetch itself refuses
          if (Deno.env.get("FUZZ_DEBUG")) console.log(String(err).slice(0, 200));
          continue;
        }
        const res = await app.request(req);
        count("requests");
        count(`status.${res.status}`);
        const isStream = res.headers.get("content-type") === "text/event-stream";
        const body = isStream ? "" : await res.text();
        if (isStream) await res.body?.cancel();
        const where =
          `request #${i} (seed ${SEED}): ${method} ${path} Host ${host} -> ${res.status}`;
        assert.ok(res.status < 500, `${where}: ${body.slice(0, 300)}`);
        assert.ok(!body.includes(fx.marker), `${where}: the secret leaked`);
        assert.ok(!body.includes(fx.outside) && !body.includes(fx.root), `${where}: a path`);
        assert.ok(!body.includes("/tmp/") && !body.includes("root:x:0:0"), `${where}: ${body}`);
        const effectiveHost = headers.host ?? "127.0.0.1:6006";
        const allowed = headers.host === undefined ? true : hostOk;
        if (!allowed) {
          assert.equal(res.status, 403, `${where}: foreign Host ${effectiveHost} answered`);
          count("foreignHost403");
        } else if (STATE_CHANGING.has(method)) {
          const good = origin === `http://${host}` && headers[TOKEN_HEADER] === TOKEN;
          if (!good) {
            assert.equal(res.status, 403, `${where}: state change without Origin+token`);
            count("stateChange403");
          }
        }
      }
    } finally {
      await fx.cleanup();
    }
    const secs = ((performance.now() - t0) / 1000).toFixed(1);
    console.log(`HTTP fuzz (seed ${SEED}): ${JSON.stringify(counts)} in ${secs} s`);
    assert.ok((counts.requests ?? 0) >= 10_000, `only ${counts.requests} requests`);
    assert.ok((counts["status.200"] ?? 0) > 1000, "the fuzz must reach real answers too");
    assert.ok((counts.foreignHost403 ?? 0) > 1000 && (counts.stateChange403 ?? 0) > 500);
  },
});
