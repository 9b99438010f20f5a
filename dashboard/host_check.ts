/**
 * DNS-rebinding protection: the dashboard answers only requests whose `Host` names the
 * address it is bound to, a loopback name, or a name the user allowed (`--allow-host`), as
 * TensorBoard and Jupyter do. Anything else is a 403.
 *
 * @example
 * ```ts
 * import { Hono } from "hono";
 * import { hostCheck } from "./host_check.ts";
 * const app = new Hono().use(hostCheck(["127.0.0.1"])).get("/", (c) => c.text("ok"));
 * const res = await app.request("http://evil.example/");
 * console.log(res.status); // 403
 * ```
 *
 * @module
 */
import type { MiddlewareHandler } from "hono";

/** Names every loopback server answers to. */
export const LOOPBACK_HOSTS: readonly string[] = ["localhost", "127.0.0.1", "::1"];

/** The host name of a `Host` header value (`[::1]:6006` -> `::1`, `a.b:80` -> `a.b`). */
export function hostName(header: string): string {
  const h = header.trim().toLowerCase();
  if (h.startsWith("[")) return h.slice(1, h.indexOf("]") > 0 ? h.indexOf("]") : undefined);
  const colon = h.lastIndexOf(":");
  return colon > 0 && h.indexOf(":") === colon ? h.slice(0, colon) : h;
}

/** Middleware refusing (403) requests whose Host is not loopback, bound or in `allowed`. */
export function hostCheck(allowed: readonly string[] = []): MiddlewareHandler {
  const names = new Set(
    [...LOOPBACK_HOSTS, ...allowed].map((n) => hostName(n)).filter((n) => n !== ""),
  );
  return async (c, next) => {
    const header = c.req.header("host") ?? new URL(c.req.url).host;
    if (!names.has(hostName(header))) {
      return c.json({ error: "this dashboard does not answer to that Host name" }, 403);
    }
    await next();
  };
}
