/**
 * Path helpers.
 *
 * @module
 */
import { fileURLToPath, pathToFileURL } from "node:url";

/** Converts an absolute filesystem path to a `file://` URL string (for dynamic import). */
export function toFileUrl(path: string): string {
  return pathToFileURL(path).href;
}

/** Converts a `file://` URL string to a filesystem path. */
export function fromFileUrl(url: string): string {
  return fileURLToPath(url);
}
