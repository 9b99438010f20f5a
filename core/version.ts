/**
 * The convdeck version, read from deno.json (the one place it is written).
 *
 * @module
 */
import config from "../deno.json" with { type: "json" };

/** The convdeck version (deno.json's `version`). */
export const VERSION: string = config.version;
