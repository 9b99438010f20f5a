/**
 * One training-throughput case on one backend, in a process of its own, as a standalone run
 * would have it: `deno task bench` starts this for every (case, backend) pair, so that neither
 * backend runs with the other's settings (the `native` backend starts the wasm module it
 * shares with one thread; the `wasm` backend wants it threaded, and only the first start in a
 * process counts) nor in a heap the other grew.
 *
 * Run alone: `deno run -A tests/bench/train_child.ts '{"backend":"native","threads":2,
 * "case":{"size":32,"batch":16,"steps":10,"warmup":2}}'` prints one line
 * `{"result": ..., "info": ...}` (or `{"unavailable": reason}`).
 *
 * @module
 */
import "@tensorflow/tfjs-layers";
import { type BackendName, initBackend, releaseBackends } from "../../core/backend/select.ts";
import { openMpWaitChoice } from "../../core/backend/native/ffi.ts";
import { type Precision, PrecisionError } from "../../core/backend/precision.ts";
import { benchTrainCase, type TrainCase, type TrainResult } from "./train_bench.ts";
import { formatProfile, profileKernels } from "./train_profile.ts";
import { peerEnv } from "./train_torch.ts";

/** What the parent sends. */
export interface ChildRequest {
  /** Backend to run the case on. */
  backend: string;
  /** Threads for the backend. */
  threads: number;
  /** The case. */
  case: TrainCase;
  /** Print the per-kernel profile instead of counting kernel calls. */
  profile?: boolean;
  /** Compute precision (default fp32; bf16 on native). */
  precision?: Precision;
}

/** What the child prints (one JSON line). */
export type ChildReply =
  | { unavailable: string }
  | { result: TrainResult; info: string; profile?: string[] };

/**
 * Runs `req` in a child process of this file, with environment `env` (default: this process's
 * without the OpenMP settings convdeck made for itself), and returns its reply.
 *
 * @example
 * ```ts
 * const reply = await runChild({
 *   backend: "wasm",
 *   threads: 2,
 *   case: { size: 32, batch: 16, steps: 3, warmup: 1 },
 * });
 * if ("result" in reply) console.log(reply.result.imagesPerSec);
 * ```
 */
export async function runChild(
  req: ChildRequest,
  env: Record<string, string> = peerEnv(),
): Promise<ChildReply> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", new URL(import.meta.url).pathname, JSON.stringify(req)],
    stdout: "piped",
    stderr: "piped",
    // By default the environment without what this process's own backends set (as the PyTorch
    // peer); the bench passes its own, so that every native child waits as decided at its start.
    clearEnv: true,
    env,
  }).output();
  const text = new TextDecoder().decode(out.stdout);
  const line = text.split("\n").reverse().find((l) => l.startsWith("{"));
  if (!out.success || line === undefined) {
    const err = new TextDecoder().decode(out.stderr).trim().split("\n").slice(-3).join(" ");
    throw new Error(`bench child (${req.backend}) failed: ${err || `exit code ${out.code}`}`);
  }
  return JSON.parse(line) as ChildReply;
}

async function child(req: ChildRequest): Promise<ChildReply> {
  let choice;
  try {
    choice = await initBackend(req.backend as BackendName, {
      threads: req.threads,
      precision: req.precision,
    });
  } catch (e) {
    if (e instanceof PrecisionError) return { unavailable: e.message };
    throw e;
  }
  if (choice.name !== req.backend) return { unavailable: choice.reason };
  const info = `${req.backend}${
    choice.threads ? ` (${choice.threads} thread${choice.threads > 1 ? "s" : ""}` : " ("
  }${choice.precision === "bf16" ? ", bf16" : ""}${
    req.backend === "native" ? `, OpenMP waiting: ${openMpWaitChoice()}` : ""
  })`.replace(
    " ()",
    "",
  );
  const c = req.case;
  const prof = req.profile ? profileKernels(req.backend) : undefined;
  const result = await benchTrainCase(c, { countKernels: !req.profile });
  prof?.stop();
  if (prof) {
    result.kernelCalls = [...prof.profile.values()].reduce((s, v) => s + v.calls, 0) /
      (c.warmup + c.steps);
  }
  return {
    result,
    info,
    ...(prof ? { profile: formatProfile(prof.profile, c.warmup + c.steps) } : {}),
  };
}

if (import.meta.main) {
  const reply = await child(JSON.parse(Deno.args[0]) as ChildRequest);
  console.log(JSON.stringify(reply));
  releaseBackends();
}
