/**
 * `deno task dashboard [--runs DIR] [--port N] [--host H] [--allow-host NAME]... [--no-token]`:
 * serves the dashboard over a runs directory and prints its URL.
 *
 * Least privilege: the task starts this file as a small launcher, which starts the server as
 * a child process allowed to read the runs folder and nothing else, and to use the network on
 * its own address only (see {@linkcode serverPermissions}); the launcher relays its output and
 * stops it on Ctrl-C.
 *
 * @module
 */
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { librarySearchDirs } from "../core/backend/native/library.ts";
import { cacheDir as shimCacheDir } from "../core/backend/native/shim_build.ts";
import { describeServer, serveDashboard } from "../dashboard/mod.ts";
import { FlagError, intFlag, parseFlags, runCommand } from "../core/flags.ts";

const USAGE =
  `Usage: deno task dashboard [--runs DIR] [--sweeps DIR] [--port N] [--host H] [--allow-host NAME]
                           [--no-token] [--read-only]

  --runs DIR         runs directory to show (default: runs)
  --sweeps DIR       sweep folders to show (default: sweeps next to the runs directory)
  --port N           TCP port, 0 for any free port (default: 6006)
  --host H           interface to bind (default: 127.0.0.1; 0.0.0.0 shares it on the network,
                     with a loud warning and an access token printed once)
  --allow-host NAME  also answer requests for this host name (repeatable; e.g. a name that
                     points at this machine); others get 403 (DNS-rebinding protection)
  --no-token         with a non-loopback --host: no access token (anyone who can reach it
                     reads every run)
  --read-only        no edits from the page (names, tags, notes, archive, delete): the server
                     may then only read the runs folder
  -h, --help         show this help`;

/** Parsed command line. */
export interface DashboardArgs {
  /** The runs folder. */
  runsDir: string;
  /** The sweeps folder (only when given; default: `sweeps` beside the runs folder). */
  sweepsDir?: string;
  /** TCP port. */
  port: number;
  /** Interface to bind. */
  host: string;
  /** More host names to answer (only when given). */
  allowHosts?: string[];
  /** No token on a non-loopback address (only when given). */
  noToken?: boolean;
  /** No write access at all (only when given). */
  readOnly?: boolean;
}

/** Parses the command line; throws {@linkcode FlagError} on a bad flag or value. */
export function parseDashboardArgs(args: string[]): DashboardArgs {
  const { values } = parseFlags(args, {
    runs: { type: "string" },
    sweeps: { type: "string" },
    port: { type: "string" },
    host: { type: "string" },
    "allow-host": { type: "string", multiple: true },
    "no-token": { type: "boolean" },
    "read-only": { type: "boolean" },
    help: { type: "boolean", short: "h" },
  });
  const port = intFlag("--port", values.port, { min: 0, max: 65535 }) ?? 6006;
  if (values.host === "") throw new FlagError("--host must not be empty (e.g. --host 127.0.0.1)");
  const out: DashboardArgs = {
    runsDir: values.runs ?? "runs",
    ...(values.sweeps ? { sweepsDir: values.sweeps } : {}),
    port,
    host: values.host ?? "127.0.0.1",
  };
  if (values["allow-host"]?.length) out.allowHosts = values["allow-host"];
  if (values["no-token"]) out.noToken = true;
  if (values["read-only"]) out.readOnly = true;
  return out;
}

/**
 * Environment variables the server may read: those sharp reads at load (`npm_*`), convdeck's
 * own settings (`CONVDECK_*`), and what the backends read to find oneDNN, its built shim and
 * their thread settings. Nothing else of the environment is visible to the server.
 */
const SERVER_ENV = [
  "npm_*",
  "CONVDECK_*",
  "HOME",
  "USERPROFILE",
  "XDG_CACHE_HOME",
  "CC",
  "LD_LIBRARY_PATH",
  "DYLD_LIBRARY_PATH",
  "OMP_WAIT_POLICY",
  "GOMP_SPINCOUNT",
  "MALLOC_ARENA_MAX",
  "TMPDIR",
  "TMP",
  "TEMP",
];

/** Deno's npm package cache, where the wasm backend's `.wasm` files are read from. */
function npmCacheDir(): string {
  const denoDir = Deno.env.get("DENO_DIR");
  if (denoDir) return join(denoDir, "npm");
  const home = Deno.env.get("HOME") ?? Deno.env.get("USERPROFILE") ?? "";
  const cache = Deno.build.os === "darwin"
    ? join(home, "Library", "Caches")
    : Deno.env.get("XDG_CACHE_HOME") ?? join(home, ".cache");
  return home === "" && !denoDir ? "" : join(cache, "deno", "npm");
}

/**
 * What predictions ("Try it") read besides the run: the folders oneDNN may be in, its headers, Deno's npm
 * cache (the wasm backend's module), the cache
 * folder of convdeck's built native shim, and the shim's source (to tell whether the cached
 * build is current). Only folders that exist are named.
 */
function predictionReadPaths(): string[] {
  // A launcher started without the environment variables these read still starts the server:
  // predictions then fall back to what the granted folders allow.
  const tryAll = (...fns: (() => string | string[])[]): string[] =>
    fns.flatMap((fn) => {
      try {
        return fn();
      } catch {
        return [];
      }
    });
  const paths = tryAll(
    () => librarySearchDirs(),
    () => Deno.env.get("CONVDECK_DNNL") ?? "",
    () =>
      [Deno.env.get("CONVDECK_DNNL_INCLUDE") ?? "", "/usr/include", "/usr/local/include"]
        .filter((d) => d !== "").map((d) => join(d, "oneapi", "dnnl")),
    () => shimCacheDir(),
    () => npmCacheDir(),
    () => fileURLToPath(new URL("../core/backend/native/", import.meta.url)),
  );
  return paths.filter((p, i) => {
    if (p === "" || p.includes(",") || paths.indexOf(p) !== i) return false;
    try {
      Deno.statSync(p);
      return true;
    } catch {
      return false;
    }
  });
}

/**
 * The permissions the server process runs with: read the runs folder (and `/proc`, to tell a
 * crashed run's dead process on this machine), write it too unless `--read-only` (the page's
 * edits: metadata sidecars, the trash, the run index), the network on its own address only,
 * and this machine's host name, interfaces and CPU count (for heartbeats, the URLs to print and
 * the prediction threads). Predictions ("Try it") need native code: sharp (image decoding) is a
 * Node addon and the native backend calls oneDNN, both through FFI, so the server gets
 * `--allow-ffi`, the environment variables they read ({@linkcode SERVER_ENV}) and read access to
 * oneDNN's folders and the shim cache; it gets no other file, network or process access (no
 * compiler: a shim not yet built means predictions run on the cpu backend).
 */
export function serverPermissions(args: DashboardArgs): string[] {
  const host = args.host.includes(":") && !args.host.startsWith("[") ? `[${args.host}]` : args.host;
  const net = args.port === 0 ? host : `${host}:${args.port}`;
  const runs = resolve(args.runsDir);
  const sweeps = resolve(args.sweepsDir ?? join(args.runsDir, "..", "sweeps"));
  return [
    `--allow-read=${[runs, sweeps, "/proc", ...predictionReadPaths()].join(",")}`,
    ...(args.readOnly ? [] : [`--allow-write=${runs}`]),
    `--allow-net=${net}`,
    "--allow-sys=hostname,networkInterfaces,cpus",
    `--allow-env=${SERVER_ENV.join(",")}`,
    "--allow-ffi",
  ];
}

/** Runs the server in this process (the child the launcher starts). */
function serve(args: DashboardArgs): void {
  try {
    const st = Deno.statSync(args.runsDir);
    if (!st.isDirectory) throw new Error("not a directory");
  } catch (err) {
    console.error(
      `warning: runs directory ${args.runsDir} is not readable (${(err as Error).message}); ` +
        "runs will appear once training creates it (or pass --runs DIR)",
    );
  }
  try {
    const ac = new AbortController();
    const server = serveDashboard({
      runsDir: args.runsDir,
      sweepsDir: args.sweepsDir,
      port: args.port,
      host: args.host,
      allowHosts: args.allowHosts,
      noToken: args.noToken,
      signal: ac.signal,
    });
    const lines = describeServer(server);
    for (const line of lines.slice(0, -server.urls.length)) console.error(line);
    console.log(`convdeck dashboard for ${args.runsDir}: ${server.urls.join("  ")}`);
    const stop = async () => {
      ac.abort();
      await server.server.finished;
      console.error("dashboard stopped");
      Deno.exit(0);
    };
    for (const sig of ["SIGINT", "SIGTERM"] as const) Deno.addSignalListener(sig, stop);
  } catch (err) {
    if (err instanceof Deno.errors.AddrInUse) {
      console.error(`error: port ${args.port} is in use: pass --port N (or --port 0 for any)`);
      Deno.exit(1);
    }
    throw err;
  }
}

function threadsSet(): boolean {
  try {
    return !!Deno.env.get("CONVDECK_THREADS");
  } catch {
    return false;
  }
}

/** Starts the server as a child with {@linkcode serverPermissions}; returns its exit code. */
async function launch(argv: string[], args: DashboardArgs): Promise<number> {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", ...serverPermissions(args), new URL(import.meta.url).href, "--serve", ...argv],
    // The wasm backend's worker threads would need temporary files: predictions use one
    // thread on wasm (the native backend computes with all cores regardless).
    env: threadsSet() ? {} : { CONVDECK_THREADS: "1" },
    stdin: "null",
    stdout: "inherit",
    stderr: "inherit",
  }).spawn();
  const stop = () => {
    try {
      child.kill("SIGTERM");
    } catch { /* already gone */ }
  };
  for (const sig of ["SIGINT", "SIGTERM"] as const) Deno.addSignalListener(sig, stop);
  const status = await child.status;
  // The child prints "dashboard stopped" and exits 0 after a signal.
  return status.signal ? 0 : status.code;
}

if (import.meta.main) {
  const serveHere = Deno.args[0] === "--serve";
  const argv = serveHere ? Deno.args.slice(1) : Deno.args;
  Deno.exit(
    await runCommand(argv, {
      help: USAGE,
      main: async (argv) => {
        const args = parseDashboardArgs(argv);
        if (!serveHere) return await launch(argv, args);
        serve(args);
        return await new Promise<number>(() => {}); // serves until a signal ends the process
      },
    }),
  );
}
