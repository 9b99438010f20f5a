/**
 * Path helpers.
 *
 * @module
 */
import { pathToFileURL } from "node:url";

/** Converts an absolute filesystem path to a `file://` URL string (for dynamic import). */
export function toFileUrl(path: string): string {
  return pathToFileURL(path).href;
}
