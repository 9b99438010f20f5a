/**
 * Serving the dashboard app with `Deno.serve`: on loopback by default; the Host check allows
 * the bound address besides loopback names.
 *
 * @module
 */
import { createDashboardApp, type DashboardOptions } from "./app.ts";
import { LOOPBACK_HOSTS } from "./host_check.ts";

/** Options of {@link serveDashboard}. */
export interface ServeOptions extends DashboardOptions {
  /** TCP port (0 picks a free one). Default 6006. */
  port?: number;
  /** Interface to bind. Default `127.0.0.1` (this machine only). */
  host?: string;
  /** Aborting it shuts the server down. */
  signal?: AbortSignal;
  /** Called once listening, with the URL. */
  onListen?: (url: string) => void;
  /** Host names to answer besides loopback names and the bound address. */
  allowHosts?: readonly string[];
  /**
   * Serve a non-loopback address without a token (by default such a dashboard requires one,
   * printed once in its URLs).
   */
  noToken?: boolean;
}

/** A running dashboard server. */
export interface DashboardServer {
  /** The URL to open, e.g. `http://127.0.0.1:6006/`. */
  url: string;
  /** The port actually bound. */
  port: number;
  /** The Deno HTTP server. */
  server: Deno.HttpServer<Deno.NetAddr>;
  /** True when the bound address is reachable from other machines. */
  exposed: boolean;
  /** The URLs to open (with `?token=` when one is required); the first is `url`. */
  urls: string[];
  /** The access token, when every request needs one. */
  token?: string;
}

/** Whether `host` is a loopback address or name. */
export function isLoopback(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, "").toLowerCase();
  return LOOPBACK_HOSTS.includes(h) || h.startsWith("127.");
}

/** The addresses a wildcard bind (`0.0.0.0`, `::`) answers on, from the interfaces. */
function interfaceAddresses(host: string): string[] {
  const h = host.replace(/^\[|\]$/g, "");
  if (h !== "0.0.0.0" && h !== "::") return [host];
  try {
    return Deno.networkInterfaces()
      .filter((i) => (h === "0.0.0.0" ? i.family === "IPv4" : true))
      .map((i) => i.address)
      .filter((a, k, all) => all.indexOf(a) === k);
  } catch {
    return [host]; // no --allow-sys: the bound address is all we can say
  }
}

/**
 * The lines to print for a started server: its URLs and, when it is reachable from other
 * machines, a loud warning saying so (and whether a token protects it).
 */
export function describeServer(s: DashboardServer): string[] {
  if (!s.exposed) return [`dashboard: ${s.url}`];
  const lines = [
    "WARNING: this dashboard is reachable from other machines on the network: anyone who " +
    "can reach this address " +
    (s.token
      ? "and has the token in the URLs below can read every run in the runs folder."
      : "can read every run in the runs folder (--no-token: no token is required)."),
  ];
  for (const u of s.urls) lines.push(`dashboard: ${u}`);
  return lines;
}

/**
 * Serves the dashboard over `runsDir` with `Deno.serve` (binding 127.0.0.1 by default).
 *
 * @example
 * ```ts
 * import { serveDashboard } from "./serve.ts";
 * const ac = new AbortController();
 * const { url } = serveDashboard({ runsDir: "runs", port: 0, signal: ac.signal });
 * console.log(url);
 * ac.abort();
 * ```
 */
export function serveDashboard(options: ServeOptions): DashboardServer {
  const host = options.host ?? "127.0.0.1";
  const exposed = !isLoopback(host);
  const requireToken = exposed && !options.noToken;
  const token = options.token ?? crypto.randomUUID().replaceAll("-", "");
  const addresses = interfaceAddresses(host);
  const app = createDashboardApp({
    warm: true,
    ...options,
    token,
    requireToken,
    allowedHosts: [host, ...addresses, ...(options.allowHosts ?? [])],
  });
  const server = Deno.serve({
    port: options.port ?? 6006,
    hostname: host,
    signal: options.signal,
    onListen: () => {},
  }, app.fetch);
  const port = server.addr.port;
  const urlOf = (h: string) =>
    `http://${h.includes(":") ? `[${h.replace(/^\[|\]$/g, "")}]` : h}:${port}/` +
    (requireToken ? `?token=${token}` : "");
  const urls = addresses.filter((a) => !isLoopback(a) || !exposed).map(urlOf);
  if (urls.length === 0) urls.push(urlOf(host));
  const url = urls[0];
  options.onListen?.(url);
  return { url, port, server, exposed, urls, ...(requireToken ? { token } : {}) };
}

/** A dashboard started from the training process. */
export interface StartedDashboard {
  /** The URL to open. */
  url: string;
  /** What to print: the URLs, and a warning when other machines can reach it. */
  lines: string[];
  /** Stops the server (open live streams are closed). */
  close(): Promise<void>;
}

/**
 * Starts the dashboard in the current process (used by `deno task train --dashboard`); the
 * trainer never waits on it: it only reads the run directory.
 *
 * @example
 * ```ts
 * import { startDashboard } from "./serve.ts";
 * const dash = await startDashboard({ runsDir: "runs", port: 0 });
 * console.log(`dashboard: ${dash.url}`);
 * await dash.close();
 * ```
 */
export function startDashboard(
  options: Omit<ServeOptions, "signal">,
): Promise<StartedDashboard> {
  const ac = new AbortController();
  const started = serveDashboard({ ...options, signal: ac.signal });
  const { url, server } = started;
  return Promise.resolve({
    url,
    lines: describeServer(started),
    async close() {
      ac.abort();
      await server.finished;
    },
  });
}
