/**
 * The FFI binding to the native shim, and {@linkcode nativeAvailable}: whether the `native`
 * backend can run here (oneDNN found, shim built and loaded), with the reason when not.
 *
 * @module
 */
import { findDnnl } from "./library.ts";
import { buildShim } from "./shim_build.ts";

const SYMBOLS = {
  cd_init: { parameters: ["i32", "i32"], result: "i32" },
  cd_version: { parameters: [], result: "i32" },
  cd_set_threads: { parameters: ["i32"], result: "i32" },
  cd_last_error: { parameters: [], result: "pointer" },
  cd_cache_size: { parameters: [], result: "i32" },
  cd_cache_clear: { parameters: [], result: "i32" },
  cd_created_total: { parameters: [], result: "f64" },
  cd_scratch_bytes: { parameters: [], result: "f64" },
  cd_live_objects: { parameters: [], result: "f64" },
  cd_conv: { parameters: ["i32", "buffer", "buffer", "buffer"], result: "i32" },
  cd_matmul: { parameters: ["buffer", "buffer", "buffer"], result: "i32" },
  cd_maxpool: { parameters: ["buffer", "buffer", "buffer"], result: "i32" },
  cd_maxpool_grad: { parameters: ["buffer", "buffer", "buffer"], result: "i32" },
  cd_unary: { parameters: ["i32", "buffer", "f64", "f64", "buffer"], result: "i32" },
  cd_binary: { parameters: ["i32", "buffer", "f64", "f64", "buffer"], result: "i32" },
  cd_sum_rows: { parameters: ["buffer", "f64", "f64", "buffer"], result: "i32" },
  cd_conv_grad_w: { parameters: ["buffer", "buffer", "buffer"], result: "f64" },
  cd_conv_grad_x: { parameters: ["buffer", "buffer", "f64", "buffer"], result: "i32" },
  cd_adam: { parameters: ["buffer", "buffer", "buffer"], result: "i32" },
  cd_bf16_expand: { parameters: ["buffer", "f64", "f64"], result: "i32" },
  cd_bf16_activations: { parameters: [], result: "i32" },
  cd_gemm_wgrads: { parameters: [], result: "f64" },
  cd_cpu_isa: { parameters: [], result: "i32" },
  cd_set_precision: { parameters: ["i32"], result: "i32" },
  cd_xcache_hits: { parameters: [], result: "f64" },
  cd_own_wgrads: { parameters: [], result: "f64" },
  cd_own_kernels: { parameters: [], result: "i32" },
  cd_winograd_convs: { parameters: [], result: "f64" },
} as const;

/** The loaded shim's functions. */
export type NativeLib = Deno.DynamicLibrary<typeof SYMBOLS>["symbols"];

/** Result of {@linkcode nativeAvailable}. */
export interface NativeStatus {
  /** True when the `native` backend can be registered. */
  ok: boolean;
  /** Why not (or, when ok, which library and oneDNN version). */
  reason: string;
}

let loaded: { lib: NativeLib; status: NativeStatus } | null = null;
let failure: NativeStatus | null = null;

function hasFfiPermission(): boolean {
  try {
    return Deno.permissions.querySync({ name: "ffi" }).state === "granted";
  } catch {
    return false;
  }
}

/** The message of the shim's last failed call. */
export function lastError(lib: NativeLib): string {
  const p = lib.cd_last_error();
  return p === null ? "unknown error" : new Deno.UnsafePointerView(p).getCString();
}

/** The GOMP_SPINCOUNT convdeck sets on an idle machine (see {@linkcode setOpenMpWaitPolicy}). */
export const IDLE_SPINCOUNT = 10000;

/**
 * Debian's oneDNN uses GNU OpenMP. How its idle workers wait decides how fast a training step
 * runs on 2 cores, and the best choice depends on whether the machine is otherwise idle:
 *
 * - idle: each oneDNN call starts a parallel region; a worker that sleeps (passive) must be
 *   woken through the kernel first, a cost paid some 60 times per step. Spinning briefly
 *   (GOMP_SPINCOUNT=10000, tens of microseconds) keeps it awake across the short JavaScript
 *   gaps between native kernels: book model, 32x32 batch 16, 39 ms per step vs 59 ms passive
 *   (measured back to back in a quiet minute of a shared 2-core machine).
 * - busy (load average at or above half the cores): a spinning worker takes the time slices
 *   the main thread needs, and passive waiting wins (same case, other processes keeping both
 *   cores busy: 72-117 ms passive, 158-163 ms spinning).
 *
 * So unless the user chose (OMP_WAIT_POLICY or GOMP_SPINCOUNT), convdeck picks when the shim
 * loads (libgomp reads the setting then, once): by the load average, and where that says busy,
 * by what other processes use in the next 100 ms. The one-minute load average lags: for a
 * minute or two after a command ends (the tests, a previous training, the data download) it
 * still reads "busy" on an idle machine (2.26 right after a test run), where passive waiting is
 * the slower choice (28x28x1 batch-64 bf16 steps: 51.5-58.1 ms passive, 49.3-52.6 ms spinning).
 */
function setOpenMpWaitPolicy(): void {
  try {
    if (Deno.env.get("OMP_WAIT_POLICY") || Deno.env.get("GOMP_SPINCOUNT")) {
      waitChoice = "set by the user (OMP_WAIT_POLICY / GOMP_SPINCOUNT)";
      return;
    }
    const load = loadAverage();
    const cores = navigator.hardwareConcurrency || 1;
    const others = load !== undefined && load < cores / 2 ? undefined : othersBusyCores(100);
    if ((load !== undefined && load < cores / 2) || (others !== undefined && others < cores / 2)) {
      Deno.env.set("GOMP_SPINCOUNT", String(IDLE_SPINCOUNT));
      envSet.add("GOMP_SPINCOUNT");
      waitChoice = `brief spinning (GOMP_SPINCOUNT=${IDLE_SPINCOUNT}; load average ${load}` +
        `${
          others === undefined ? "" : `, other processes busy on ${others.toFixed(2)} cores now`
        })`;
    } else {
      Deno.env.set("OMP_WAIT_POLICY", "passive");
      envSet.add("OMP_WAIT_POLICY");
      waitChoice = `passive (load average ${load ?? "unknown"}${
        others === undefined ? "" : `, other processes busy on ${others.toFixed(2)} cores now`
      } on ${cores} cores)`;
    }
  } catch { /* no env permission: keep libgomp's default */ }
}

function loadAverage(): number | undefined {
  try {
    const v = Number(Deno.readTextFileSync("/proc/loadavg").split(" ")[0]);
    return Number.isFinite(v) ? v : undefined;
  } catch {
    return undefined; // not Linux, or no read permission
  }
}

/** Busy and total clock ticks of all CPUs (/proc/stat's first line). */
function cpuTicks(): { busy: number; total: number } {
  const f = Deno.readTextFileSync("/proc/stat").split("\n", 1)[0].trim().split(/\s+/).slice(1)
    .map(Number);
  const idle = (f[3] ?? 0) + (f[4] ?? 0); // idle + iowait
  const total = f.slice(0, 8).reduce((a, b) => a + b, 0); // guest time is inside user
  return { busy: total - idle, total };
}

/** This process's own CPU clock ticks (/proc/self/stat utime + stime). */
function ownTicks(): number {
  const stat = Deno.readTextFileSync("/proc/self/stat");
  const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return Number(f[11]) + Number(f[12]); // fields 14 and 15 of proc(5)
}

/**
 * How many cores other processes keep busy now: the CPU time of the whole machine over the
 * next `windowMs` milliseconds, less this process's own, in cores (1 = one core's worth).
 * Undefined where /proc cannot be read (not Linux, or no read permission).
 */
function othersBusyCores(windowMs: number): number | undefined {
  try {
    const cores = navigator.hardwareConcurrency || 1;
    const a = cpuTicks(), own = ownTicks();
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, windowMs);
    const b = cpuTicks(), dOwn = ownTicks() - own;
    const dTotal = b.total - a.total;
    if (!(dTotal > 0)) return undefined;
    return Math.max(0, (b.busy - a.busy - dOwn) / dTotal) * cores;
  } catch {
    return undefined;
  }
}

let waitChoice = "libgomp's default";

/** How the native backend's OpenMP workers wait between parallel regions, and why. */
export function openMpWaitChoice(): string {
  return waitChoice;
}

const envSet = new Set<string>();

/**
 * Environment variables convdeck set in this process for its own OpenMP runtime (not by the
 * user). Child processes inherit them: a program started from here that runs its own OpenMP
 * work (the bench's PyTorch peer) should get an environment without them.
 */
export function openMpEnvSetByConvdeck(): string[] {
  return [...envSet];
}

/**
 * Loads (building on first use) the shim, or returns why it cannot. The result is cached for
 * the process.
 */
export function loadNative(): { lib: NativeLib; status: NativeStatus } | NativeStatus {
  if (loaded) return loaded;
  if (failure) return failure;
  const fail = (reason: string): NativeStatus => (failure = { ok: false, reason });
  if (typeof Deno?.dlopen !== "function") return fail("Deno FFI (Deno.dlopen) is unavailable");
  if (!hasFfiPermission()) return fail("FFI permission missing: run deno with --allow-ffi (-A)");
  const loc = findDnnl();
  if (typeof loc === "string") return fail(loc);
  let shim: string;
  try {
    shim = buildShim(loc);
  } catch (e) {
    return fail(`building the oneDNN shim failed: ${(e as Error).message.split("\n")[0]}`);
  }
  if (!shim.startsWith("/") && !/^[A-Za-z]:/.test(shim)) return fail(shim);
  setOpenMpWaitPolicy();
  let lib: NativeLib;
  try {
    lib = Deno.dlopen(shim, SYMBOLS).symbols;
  } catch (e) {
    return fail(`loading ${shim} failed: ${(e as Error).message}`);
  }
  const v = lib.cd_version();
  const version = `${Math.floor(v / 10000)}.${Math.floor(v / 100) % 100}.${v % 100}`;
  if (Math.floor(v / 10000) !== 2) {
    return fail(`oneDNN ${version} at ${loc.library} is not supported (need 2.x)`);
  }
  loaded = { lib, status: { ok: true, reason: `oneDNN ${version} (${loc.library})` } };
  return loaded;
}

/**
 * Whether the `native` (oneDNN) backend can run in this process, and why not. Searches
 * `CONVDECK_DNNL`, then the usual library folders; builds the shim on first call (under a
 * second, cached afterwards).
 *
 * @example
 * ```ts
 * const { ok, reason } = nativeAvailable();
 * console.log(ok ? `native: ${reason}` : `native unavailable: ${reason}`);
 * ```
 */
export function nativeAvailable(): NativeStatus {
  const r = loadNative();
  return "lib" in r ? r.status : r;
}
