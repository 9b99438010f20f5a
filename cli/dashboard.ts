/**
 * `deno task dashboard [--runs DIR] [--port N] [--host H]`: serves the dashboard over a runs
 * directory and prints its URL.
 *
 * @module
 */
import { parseArgs } from "node:util";
import { serveDashboard } from "../dashboard/mod.ts";

const USAGE = `Usage: deno task dashboard [--runs DIR] [--sweeps DIR] [--port N] [--host H]

  --runs DIR   runs directory to show (default: runs)
  --sweeps DIR sweep folders to show (default: sweeps next to the runs directory)
  --port N     TCP port, 0 for any free port (default: 6006)
  --host H     interface to bind (default: 127.0.0.1; use 0.0.0.0 to share on the network)
  -h, --help   show this help`;

/** Parsed command line. */
export interface DashboardArgs {
  runsDir: string;
  sweepsDir?: string;
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
        sweeps: { type: "string" },
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
  return {
    runsDir: values.runs!,
    ...(values.sweeps ? { sweepsDir: values.sweeps } : {}),
    port,
    host: values.host,
  };
}

if (import.meta.main) {
  let args;
  try {
    args = parseDashboardArgs(Deno.args);
  } catch (err) {
    console.error(`error: ${(err as Error).message}`);
    Deno.exit(2);
  }
  if (args === "help") {
    console.log(USAGE);
    Deno.exit(0);
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
  try {
    const { url } = serveDashboard({
      runsDir: args.runsDir,
      sweepsDir: args.sweepsDir,
      port: args.port,
      host: args.host,
    });
    console.log(`convdeck dashboard for ${args.runsDir}: ${url}`);
  } catch (err) {
    if (err instanceof Deno.errors.AddrInUse) {
      console.error(`error: port ${args.port} is in use: pass --port N (or --port 0 for any)`);
      Deno.exit(1);
    }
    throw err;
  }
}
