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
  const app = createDashboardApp({
    warm: true,
    ...options,
    allowedHosts: [host, ...(options.allowHosts ?? [])],
  });
  const server = Deno.serve({
    port: options.port ?? 6006,
    hostname: host,
    signal: options.signal,
    onListen: () => {},
  }, app.fetch);
  const port = server.addr.port;
  const shown = host.includes(":") ? `[${host}]` : host;
  const url = `http://${shown}:${port}/`;
  options.onListen?.(url);
  const exposed = !LOOPBACK_HOSTS.includes(host.replace(/^\[|\]$/g, ""));
  return { url, port, server, exposed };
}

/** A dashboard started from the training process. */
export interface StartedDashboard {
  /** The URL to open. */
  url: string;
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
  options: { runsDir: string; port?: number; host?: string },
): Promise<StartedDashboard> {
  const ac = new AbortController();
  const { url, server } = serveDashboard({ ...options, signal: ac.signal });
  return Promise.resolve({
    url,
    async close() {
      ac.abort();
      await server.finished;
    },
  });
}
