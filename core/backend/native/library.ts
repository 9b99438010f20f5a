/**
 * Finding oneDNN on this machine: the shared library (`CONVDECK_DNNL` or the usual library
 * folders), its C headers (needed once, to build the shim) and a C compiler.
 *
 * @module
 */
import { dirname, join } from "node:path";

/** Where oneDNN's pieces were found. */
export interface DnnlLocation {
  /** Absolute path of the shared library (libdnnl.so.2, libdnnl.dylib, dnnl.dll). */
  library: string;
  /** Folder holding `oneapi/dnnl/dnnl.h`, or null when no headers were found. */
  include: string | null;
}

const LIBRARY_NAMES: Record<string, string[]> = {
  linux: ["libdnnl.so.2", "libdnnl.so"],
  darwin: ["libdnnl.2.dylib", "libdnnl.dylib"],
  windows: ["dnnl.dll"],
};

function exists(path: string): boolean {
  try {
    return Deno.statSync(path).isFile;
  } catch {
    return false;
  }
}

function envDirs(name: string, sep: string): string[] {
  const v = Deno.env.get(name);
  return v ? v.split(sep).filter((d) => d !== "") : [];
}

/** Folders searched for the library, in order (after `CONVDECK_DNNL`). */
export function librarySearchDirs(os: string = Deno.build.os): string[] {
  if (os === "windows") return envDirs("PATH", ";");
  const common = [
    ...envDirs(os === "darwin" ? "DYLD_LIBRARY_PATH" : "LD_LIBRARY_PATH", ":"),
    "/usr/lib/x86_64-linux-gnu",
    "/usr/lib/aarch64-linux-gnu",
    "/usr/lib64",
    "/usr/lib",
    "/usr/local/lib",
    "/opt/intel/oneapi/dnnl/latest/lib",
    "/opt/intel/oneapi/dnnl/latest/cpu_gomp/lib",
  ];
  return os === "darwin" ? ["/opt/homebrew/lib", "/usr/local/lib", ...common] : common;
}

/**
 * Locates oneDNN: `CONVDECK_DNNL=/path/libdnnl.so` wins, else the first library found in
 * {@linkcode librarySearchDirs}. Returns an error string when nothing is found.
 */
export function findDnnl(): DnnlLocation | string {
  const explicit = Deno.env.get("CONVDECK_DNNL");
  let library: string | null = null;
  if (explicit) {
    if (!exists(explicit)) {
      return `CONVDECK_DNNL=${explicit} does not name a file; point it at libdnnl.so.2 ` +
        `(or unset it to search the usual folders)`;
    }
    library = explicit;
  } else {
    const names = LIBRARY_NAMES[Deno.build.os] ?? LIBRARY_NAMES.linux;
    outer: for (const dir of librarySearchDirs()) {
      for (const name of names) {
        if (exists(join(dir, name))) {
          library = join(dir, name);
          break outer;
        }
      }
    }
  }
  if (library === null) {
    return "oneDNN (libdnnl) not found; install it (Debian/Ubuntu: apt-get install libdnnl2 " +
      "libdnnl-dev) or set CONVDECK_DNNL=/path/to/libdnnl.so.2";
  }
  const prefix = dirname(dirname(library));
  const includeCandidates = [
    Deno.env.get("CONVDECK_DNNL_INCLUDE"),
    join(prefix, "include"),
    join(dirname(prefix), "include"),
    "/usr/include",
    "/usr/local/include",
    "/opt/homebrew/include",
  ].filter((d): d is string => !!d);
  const include = includeCandidates.find((d) => exists(join(d, "oneapi", "dnnl", "dnnl.h"))) ??
    null;
  return { library, include };
}
