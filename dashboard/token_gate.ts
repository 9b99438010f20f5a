/**
 * Access by token, for a dashboard reachable from other machines (`--host 0.0.0.0`), as
 * Jupyter does: every request must carry the server's token, in the URL once (`?token=...`,
 * which sets an HttpOnly same-site cookie and redirects to the same URL without the token, so
 * it does not stay in the browser's history or address bar) or in the cookie or the
 * `X-Convdeck-Token` header afterwards. The cookie's name carries the port (cookies are shared
 * by every port of a host: two dashboards on one machine keep their own), and every comparison
 * takes the same time wherever the strings differ. Loopback dashboards do not use it.
 *
 * @example
 * ```ts
 * import { Hono } from "hono";
 * import { tokenGate } from "./token_gate.ts";
 * const app = new Hono().use(tokenGate("s3cret")).get("/", (c) => c.text("ok"));
 * console.log((await app.request("http://127.0.0.1:6006/")).status); // 401
 * const res = await app.request("http://127.0.0.1:6006/?token=s3cret");
 * console.log(res.status, res.headers.get("location")); // 303 /
 * ```
 *
 * @module
 */
import type { MiddlewareHandler } from "hono";
import { getCookie, setCookie } from "hono/cookie";
import { sameToken, TOKEN_HEADER } from "./origin_check.ts";

/**
 * The name of the token cookie of the dashboard on `port` (cookies do not tell ports apart).
 *
 * @example
 * ```ts
 * import { tokenCookieName } from "./token_gate.ts";
 * console.log(tokenCookieName("6006")); // convdeck_token_6006
 * ```
 */
export function tokenCookieName(port: string): string {
  return `convdeck_token_${port.replace(/\D/g, "") || "80"}`;
}

/** Middleware answering 401 to requests without the right token. */
export function tokenGate(token: string): MiddlewareHandler {
  return async (c, next) => {
    const url = new URL(c.req.url);
    const cookie = tokenCookieName(url.port);
    const ok = (v: string | undefined) => v !== undefined && sameToken(v, token);
    if (ok(c.req.query("token"))) {
      setCookie(c, cookie, token, { httpOnly: true, sameSite: "Strict", path: "/" });
      if (c.req.method === "GET" || c.req.method === "HEAD") {
        // The token leaves the address bar and the history: the cookie carries it from now on.
        url.searchParams.delete("token");
        return c.redirect(`${url.pathname}${url.search}`, 303);
      }
      return await next();
    }
    if (ok(getCookie(c, cookie)) || ok(c.req.header(TOKEN_HEADER))) return await next();
    return c.json({
      error: "this dashboard needs its token: open the URL printed when it started (…/?token=…)",
    }, 401);
  };
}
