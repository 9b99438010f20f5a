/**
 * The client bundle, served from a module (`ui/dist/bundle.ts`, written by
 * `deno task build-ui`) rather than read from disk or fetched, so the dashboard works offline
 * wherever the package was imported from.
 *
 * @module
 */
import { APP_CSS, APP_JS } from "./ui/dist/bundle.ts";

/** A static asset ready to serve. */
export interface Asset {
  /** File content. */
  body: Uint8Array;
  /** Content-Type header. */
  type: string;
}

const encoder = new TextEncoder();
const ASSETS: Record<string, () => Asset> = {
  "app.js": () => ({ body: encoder.encode(APP_JS), type: "text/javascript; charset=utf-8" }),
  "app.css": () => ({ body: encoder.encode(APP_CSS), type: "text/css; charset=utf-8" }),
};
const cache = new Map<string, Asset>();

/** The asset `name` (`app.js` or `app.css`), or `null` for any other name. */
export function loadAsset(name: string): Asset | null {
  if (!Object.hasOwn(ASSETS, name)) return null;
  let asset = cache.get(name);
  if (!asset) cache.set(name, asset = ASSETS[name]());
  return asset;
}
