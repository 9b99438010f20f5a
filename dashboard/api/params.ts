/**
 * Query-parameter checks shared by the dashboard's apps: a bad value is a 400 naming it.
 *
 * @module
 */
import type { Context } from "hono";
import { HTTPException } from "hono/http-exception";

/** An integer query parameter in `0..max`, or `fallback` when absent. */
export function intParam(
  c: Context,
  name: string,
  fallback: number,
  max: number = Number.MAX_SAFE_INTEGER,
): number {
  const raw = c.req.query(name);
  if (raw === undefined || raw === "") return fallback;
  const n = Number(raw);
  if (!/^\d+$/.test(raw) || !Number.isSafeInteger(n) || n > max) {
    throw new HTTPException(400, {
      message: `query parameter ${name} must be an integer in 0..${max}, got ${raw.slice(0, 40)}`,
    });
  }
  return n;
}

/** A query parameter that must be one of `allowed`, or `fallback` when absent. */
export function oneOf<T extends string>(
  c: Context,
  name: string,
  allowed: readonly T[],
  fallback: T,
): T {
  const raw = c.req.query(name) ?? fallback;
  if (!(allowed as readonly string[]).includes(raw)) {
    throw new HTTPException(400, {
      message: `${name} must be ${allowed.join(", ")}, got ${raw.slice(0, 40)}`,
    });
  }
  return raw as T;
}
