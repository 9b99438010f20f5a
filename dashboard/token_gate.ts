/**
 * Access by token, for a dashboard reachable from other machines (`--host 0.0.0.0`), as
 * Jupyter does: every request must carry the server's token, in the URL once
 * (`?token=...`, which sets an HttpOnly same-site cookie) or in the cookie or the
 * `X-Convdeck-Token` header afterwards. Loopback dashboards do not use it.
 *
 * @example
 * ```ts
 * import { Hono } from "hono";
 * import { tokenGate } from "./token_gate.ts";
 * const app = new Hono().use(tokenGate("s3cret")).get("/", (c) => c.text("ok"));
 * console.log((await app.request("/")).status); // 401
 * console.log((await app.request("/?token=s3cret")).status); // 200
 * ```
 *
 * @module
 */
import type { MiddlewareHandler } from "hono";
import { getCookie, setCookie } from "hono/cookie";
import { TOKEN_HEADER } from "./origin_check.ts";

const COOKIE = "convdeck_token";

/** Middleware answering 401 to requests without the right token. */
export function tokenGate(token: string): MiddlewareHandler {
  return async (c, next) => {
    const fromQuery = c.req.query("token");
    const ok = (v: string | undefined) => v !== undefined && v === token;
    if (ok(fromQuery)) {
      setCookie(c, COOKIE, token, { httpOnly: true, sameSite: "Strict", path: "/" });
      return await next();
    }
    if (ok(getCookie(c, COOKIE)) || ok(c.req.header(TOKEN_HEADER))) return await next();
    return c.json({
      error: "this dashboard needs its token: open the URL printed when it started (…/?token=…)",
    }, 401);
  };
}
