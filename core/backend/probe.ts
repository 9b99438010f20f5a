/**
 * Cheap probes the backend selection runs before initialising anything: is an optional npm
 * package resolvable, and is the WebGPU adapter a real GPU.
 *
 * @module
 */

/**
 * Whether a bare specifier resolves through the import map (deno.json "imports") without
 * loading it. Costs microseconds, so `auto` can check tfjs-node without slowing start-up.
 */
export function isResolvable(specifier: string): boolean {
  try {
    import.meta.resolve(specifier);
    return true;
  } catch {
    return false;
  }
}

/** What the WebGPU probe found. */
export interface GpuProbe {
  /** True when an adapter exists and is a hardware GPU (not a fallback/software rasteriser). */
  real: boolean;
  /** Adapter description for messages, e.g. "llvmpipe (LLVM 15.0.6, 256 bits)". */
  description: string;
  /** Why the adapter is not usable by `auto`, when it is not. */
  why?: string;
}

const SOFTWARE_ADAPTER = /llvmpipe|lavapipe|softpipe|swiftshader|software|basic render|warp/i;

/** Classifies an adapter's info as a real GPU or not (pure; exported for tests). */
export function classifyAdapter(
  info: { description?: string; vendor?: string; isFallbackAdapter?: boolean } | undefined,
  isFallbackAdapter?: boolean,
): GpuProbe {
  if (info === undefined) return { real: false, description: "", why: "no WebGPU adapter" };
  const description = info.description || info.vendor || "unknown adapter";
  if (info.isFallbackAdapter === true || isFallbackAdapter === true) {
    return { real: false, description, why: `fallback adapter (${description})` };
  }
  if (SOFTWARE_ADAPTER.test(description)) {
    return { real: false, description, why: `software adapter (${description})` };
  }
  return { real: true, description };
}

/** Requests the default WebGPU adapter (if the runtime has WebGPU) and classifies it. */
export async function probeGpu(): Promise<GpuProbe> {
  const gpu = (navigator as { gpu?: GPU }).gpu;
  if (gpu === undefined) return { real: false, description: "", why: "no WebGPU in this runtime" };
  let adapter: GPUAdapter | null = null;
  try {
    adapter = await gpu.requestAdapter({ powerPreference: "high-performance" });
  } catch (e) {
    return { real: false, description: "", why: `requestAdapter failed: ${String(e)}` };
  }
  if (adapter === null) return classifyAdapter(undefined);
  return classifyAdapter(
    adapter.info as { description?: string; vendor?: string; isFallbackAdapter?: boolean },
    (adapter as { isFallbackAdapter?: boolean }).isFallbackAdapter,
  );
}
