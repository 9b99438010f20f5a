/**
 * Headless Debian Chromium for the dashboard's browser test and screenshots, driven by
 * playwright-core (which never downloads a browser).
 *
 * @module
 */
import type { Browser } from "playwright-core";

/** The Chromium binary: `CHROMIUM_PATH`, else Debian's `/usr/bin/chromium`. */
export const CHROMIUM_PATH: string = Deno.env.get("CHROMIUM_PATH") ?? "/usr/bin/chromium";

/** Flags for a quiet headless Chromium on a machine without network or GPU. */
export const CHROMIUM_ARGS: readonly string[] = [
  "--no-sandbox",
  "--disable-gpu",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

/**
 * Launches headless Chromium (`executablePath` defaults to {@link CHROMIUM_PATH}).
 *
 * @example
 * ```ts ignore
 * const browser = await launchChromium();
 * const page = await browser.newPage();
 * await browser.close();
 * ```
 */
export async function launchChromium(executablePath: string = CHROMIUM_PATH): Promise<Browser> {
  const { chromium } = await import("playwright-core");
  return await chromium.launch({ executablePath, headless: true, args: [...CHROMIUM_ARGS] });
}
