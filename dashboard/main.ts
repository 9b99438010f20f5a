/**
 * `deno task dashboard [--runs DIR] [--port N] [--host H]`: serves the dashboard over a runs
 * directory and prints its URL, until Ctrl-C (exit 0).
 *
 * @module
 */
import { parseArgs } from "node:util";
import { startDashboard } from "./server.ts";

const USAGE = `Usage: deno task dashboard [--runs DIR] [--port N] [--host H]

  --runs DIR   runs directory to show (default: runs)
  --port N     TCP port, 0 for any free port (default: 6006)
  --host H     interface to bind (default: 127.0.0.1; use 0.0.0.0 to share on the network)
  -h, --help   show this help

Serves until Ctrl-C. Exit status: 0 when stopped, 1 when it cannot start, 2 for bad flags.`;

/** Parsed command line. */
export interface DashboardArgs {
  runsDir: string;
  port: number;
  host: string;
}

/** Parses the command line; throws an error with the usage on a bad flag or value. */
export function parseDashboardArgs(args: string[]): DashboardArgs | "help" {
  let values;
  try {
    ({ values } = parseArgs({
      args,
      options: {
        runs: { type: "string", default: "runs" },
        port: { type: "string", default: "6006" },
        host: { type: "string", default: "127.0.0.1" },
        help: { type: "boolean", short: "h" },
      },
      strict: true,
      allowPositionals: false,
    }));
  } catch (err) {
    throw new Error(`${(err as Error).message}\n\n${USAGE}`);
  }
  if (values.help) return "help";
  const port = Number(values.port);
  if (!/^\d+$/.test(values.port!) || port > 65535) {
    throw new Error(`--port must be an integer 0..65535, got "${values.port}"\n\n${USAGE}`);
  }
  if (!values.host) throw new Error(`--host must not be empty\n\n${USAGE}`);
  return { runsDir: values.runs!, port, host: values.host };
}

/**
 * Runs `deno task dashboard`: serves until Ctrl-C (SIGINT) or SIGTERM, then closes the server
 * (open live streams included) and resolves. Returns the process exit code: 0 after a stop by
 * signal, 1 when the server cannot start (e.g. the port is in use), 2 for bad flags.
 * `onListen` gets the URL once serving; `signal`, when given, stops the server like Ctrl-C.
 */
export async function main(
  argv: string[],
  hooks: { onListen?: (url: string) => void; signal?: AbortSignal } = {},
): Promise<number> {
  let args;
  try {
    args = parseDashboardArgs(argv);
  } catch (err) {
    console.error(`error: ${(err as Error).message}`);
    return 2;
  }
  if (args === "help") {
    console.log(USAGE);
    return 0;
  }
  try {
    const st = await Deno.stat(args.runsDir);
    if (!st.isDirectory) throw new Error("not a directory");
  } catch (err) {
    console.error(
      `warning: runs directory ${args.runsDir} is not readable (${(err as Error).message}); ` +
        "runs will appear once training creates it (or pass --runs DIR)",
    );
  }
  let dashboard;
  try {
    dashboard = await startDashboard({ runsDir: args.runsDir, port: args.port, host: args.host });
  } catch (err) {
    if (err instanceof Deno.errors.AddrInUse) {
      console.error(`error: port ${args.port} is in use: pass --port N (or --port 0 for any)`);
    } else {
      console.error(`error: cannot start the dashboard: ${(err as Error).message}`);
    }
    return 1;
  }
  console.log(`convdeck dashboard for ${args.runsDir}: ${dashboard.url}`);
  hooks.onListen?.(dashboard.url);
  const stopped = new AbortController();
  const stop = () => stopped.abort();
  const signals: Deno.Signal[] = ["SIGINT", "SIGTERM"];
  for (const s of signals) Deno.addSignalListener(s, stop);
  hooks.signal?.addEventListener("abort", stop);
  try {
    if (!stopped.signal.aborted && !hooks.signal?.aborted) {
      await new Promise<void>((resolve) =>
        stopped.signal.addEventListener("abort", () => resolve())
      );
    }
    await dashboard.close();
    console.error("dashboard stopped");
    return 0;
  } finally {
    for (const s of signals) Deno.removeSignalListener(s, stop);
    hooks.signal?.removeEventListener("abort", stop);
  }
}

if (import.meta.main) Deno.exit(await main(Deno.args));
