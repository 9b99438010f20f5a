/**
 * The bundled client (`dashboard/ui/dist/`), committed to the repository so that
 * `deno task dashboard` works on a fresh checkout without a build step and offline. Rebuild it
 * with `deno task build-ui` after changing `dashboard/ui/`.
 *
 * @module
 */

/** A static asset ready to serve. */
export interface Asset {
  /** File content. */
  body: Uint8Array;
  /** Content-Type header. */
  type: string;
}

const ASSETS: Record<string, string> = {
  "app.js": "text/javascript; charset=utf-8",
  "app.css": "text/css; charset=utf-8",
};

const cache = new Map<string, Asset>();

/**
 * Loads `dashboard/ui/dist/<name>` (only `app.js` and `app.css`), cached after the first read.
 * Returns `null` for any other name. Throws a clear error when the bundle is missing.
 */
export async function loadAsset(name: string): Promise<Asset | null> {
  const type = ASSETS[name];
  if (!type) return null;
  const hit = cache.get(name);
  if (hit) return hit;
  const url = new URL(`./ui/dist/${name}`, import.meta.url);
  let body: Uint8Array;
  try {
    const res = await fetch(url);
    if (!res.ok) throw new Error(`HTTP ${res.status}`);
    body = new Uint8Array(await res.arrayBuffer());
  } catch (err) {
    throw new Error(
      `dashboard bundle ${url.href} is missing (${(err as Error).message}): ` +
        "run `deno task build-ui`",
    );
  }
  const asset = { body, type };
  cache.set(name, asset);
  return asset;
}
