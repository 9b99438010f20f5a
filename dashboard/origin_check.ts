/**
 * Protection of state-changing routes (POST, PUT, PATCH, DELETE): the request must come from
 * the dashboard's own page, which proves it twice: its `Origin` is the address it asked (the
 * server's scheme, the `Host` header's host and port, so no other site's page), and it carries
 * the per-server token the page received in its HTML (`X-Convdeck-Token`), which no other
 * origin can read. Safe methods pass through; the Host check (`host_check.ts`) runs before this.
 *
 * @example
 * ```ts
 * import { Hono } from "hono";
 * import { originCheck, TOKEN_HEADER } from "./origin_check.ts";
 * const app = new Hono().use(originCheck("s3cret")).post("/x", (c) => c.text("ok"));
 * const res = await app.request("http://localhost/x", {
 *   method: "POST",
 *   headers: { Origin: "http://localhost", [TOKEN_HEADER]: "s3cret" },
 * });
 * console.log(res.status); // 200
 * ```
 *
 * @module
 */
import type { MiddlewareHandler } from "hono";
import { hostName } from "./host_check.ts";

/** The header a state-changing request carries the page's token in. */
export const TOKEN_HEADER = "X-Convdeck-Token";

const SAFE_METHODS = new Set(["GET", "HEAD", "OPTIONS"]);

/**
 * Compares two strings in time independent of where they differ (the one token comparison of
 * the dashboard: the Origin check and the token gate).
 *
 * @example
 * ```ts
 * import { sameToken } from "./origin_check.ts";
 * console.log(sameToken("abc", "abc"), sameToken("abc", "abd")); // true false
 * ```
 */
export function sameToken(a: string, b: string): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a.charCodeAt(i) ^ b.charCodeAt(i);
  return diff === 0;
}

/** Middleware refusing (403) state-changing requests without the right Origin and token. */
export function originCheck(token: string): MiddlewareHandler {
  return async (c, next) => {
    if (SAFE_METHODS.has(c.req.method)) return await next();
    const origin = c.req.header("origin");
    const host = c.req.header("host") ?? new URL(c.req.url).host;
    let originHost: string | undefined;
    let originScheme: string | undefined;
    try {
      const u = origin ? new URL(origin) : undefined;
      originHost = u?.host;
      originScheme = u?.protocol;
    } catch { /* malformed */ }
    // The scheme too: an https:// page on the same host and port is another origin.
    const scheme = new URL(c.req.url).protocol;
    if (
      !originHost || originScheme !== scheme || hostName(originHost) !== hostName(host) ||
      originHost !== host
    ) {
      return c.json({ error: "cross-origin request refused (Origin must be this dashboard)" }, 403);
    }
    const sent = c.req.header(TOKEN_HEADER) ?? "";
    if (!sameToken(sent, token)) {
      return c.json({ error: `missing or wrong ${TOKEN_HEADER}: reload the dashboard page` }, 403);
    }
    await next();
  };
}
