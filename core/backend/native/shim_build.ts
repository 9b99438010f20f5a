/**
 * Builds the C shim (shim.c) against the oneDNN found on this machine, once, into a cache
 * folder (`CONVDECK_CACHE`, else `$XDG_CACHE_HOME/convdeck`, else `~/.cache/convdeck`). The
 * file name carries a hash of the source, the library path and the flags, so an edit or another
 * oneDNN rebuilds it; concurrent builders write to a temporary name and rename.
 *
 * @module
 */
import { createHash } from "node:crypto";
import { join } from "node:path";
import type { DnnlLocation } from "./library.ts";

/** The folder where built shims are kept. */
export function cacheDir(): string {
  const explicit = Deno.env.get("CONVDECK_CACHE");
  if (explicit) return explicit;
  const xdg = Deno.env.get("XDG_CACHE_HOME");
  if (xdg) return join(xdg, "convdeck");
  const home = Deno.env.get("HOME") ?? Deno.env.get("USERPROFILE") ?? ".";
  return join(home, ".cache", "convdeck");
}

function exists(path: string): boolean {
  try {
    Deno.statSync(path);
    return true;
  } catch {
    return false;
  }
}

function compilerFlags(loc: DnnlLocation, openmp: boolean): string[] {
  // No fused multiply-adds: the Adam kernel rounds each product and sum as tfjs does.
  // -fno-math-errno: sqrtf need not set errno (the shim never reads it), so loops that take a
  // square root are vectorized (Adam: 2.4 ms a step for the book model's 1.18 M weights on
  // scalar sqrtss/divss, 0.5 ms vectorized; IEEE square root and division round the same
  // either way, so the results are bit for bit the same).
  const flags = ["-O3", "-fPIC", "-shared", "-ffp-contract=off", "-fno-math-errno"];
  if (Deno.build.arch === "x86_64" && Deno.build.os === "linux") flags.push("-march=native");
  if (openmp) flags.push("-fopenmp");
  if (loc.include) flags.push(`-I${loc.include}`);
  return flags;
}

function linkArgs(loc: DnnlLocation): string[] {
  const dir = loc.library.replace(/[\\/][^\\/]*$/, "");
  return Deno.build.os === "windows" ? [loc.library] : [loc.library, `-Wl,-rpath,${dir}`];
}

function sharedSuffix(): string {
  return Deno.build.os === "windows" ? "dll" : Deno.build.os === "darwin" ? "dylib" : "so";
}

function runCc(cc: string, args: string[]): { ok: boolean; stderr: string } {
  try {
    const out = new Deno.Command(cc, { args, stdout: "null", stderr: "piped" }).outputSync();
    return { ok: out.success, stderr: new TextDecoder().decode(out.stderr) };
  } catch (e) {
    return { ok: false, stderr: `cannot run '${cc}': ${(e as Error).message}` };
  }
}

/**
 * Returns the path of the built shim for `loc`, compiling it first when absent. Returns an
 * error string (with the compiler's message) when it cannot be built.
 */
export function buildShim(loc: DnnlLocation): string {
  const srcUrl = new URL("./shim.c", import.meta.url);
  if (srcUrl.protocol !== "file:") {
    return `the native shim source must be a local file (got ${srcUrl.href}); ` +
      "use convdeck from a local checkout or npm/deno cache";
  }
  const source = Deno.readTextFileSync(srcUrl);
  const cc = Deno.env.get("CC") ?? "cc";
  const key = createHash("sha256")
    .update(source).update("\0").update(loc.library).update("\0")
    .update(compilerFlags(loc, true).join(" ")).update("\0").update(cc)
    .digest("hex").slice(0, 16);
  const dir = cacheDir();
  const target = join(dir, `libconvdeck_dnnl-${key}.${sharedSuffix()}`);
  if (exists(target)) return target;
  if (loc.include === null) {
    return "oneDNN's C headers (oneapi/dnnl/dnnl.h) not found, needed once to build the shim; " +
      "install them (Debian/Ubuntu: apt-get install libdnnl-dev) or set " +
      "CONVDECK_DNNL_INCLUDE=/path/to/include";
  }
  Deno.mkdirSync(dir, { recursive: true });
  // Unique per build: test workers of one process may build the same shim at once.
  const tmp = `${target}.${Deno.pid}.${crypto.randomUUID().slice(0, 8)}.tmp`;
  const srcPath = srcUrl.pathname.replace(/^\/([A-Za-z]:)/, "$1");
  let res = runCc(cc, [...compilerFlags(loc, true), srcPath, "-o", tmp, ...linkArgs(loc)]);
  if (!res.ok) {
    // Compilers without OpenMP (Apple clang) still build a working, single-threaded shim
    // around oneDNN's own threading.
    const retry = runCc(cc, [...compilerFlags(loc, false), srcPath, "-o", tmp, ...linkArgs(loc)]);
    if (!retry.ok) {
      try {
        Deno.removeSync(tmp);
      } catch { /* nothing was written */ }
      return `building the native shim with '${cc}' failed (set CC to another C compiler): ` +
        res.stderr.trim().split("\n").slice(0, 6).join(" | ");
    }
    res = retry;
  }
  Deno.renameSync(tmp, target);
  return target;
}
