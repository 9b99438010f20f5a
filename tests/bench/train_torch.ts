/**
 * The same training benchmark in PyTorch (CPU), run side by side when a Python with torch is
 * available (Debian's `python3-torch`). Threads are set explicitly: Debian's build defaults to 1.
 *
 * The peer runs at its best: the same model ('same' padding, 3x3 ReLU convolutions, global
 * average pooling, Dense), Adam 1e-3, batch and threads, in three configurations one after the
 * other (float32 NCHW, float32 channels_last, bf16 autocast with channels_last), and the fastest
 * is the reference. It runs alone: the child gets the environment the user started the bench with,
 * without the OpenMP settings convdeck's native backend sets for itself
 * (see {@linkcode peerEnv}).
 *
 * @module
 */
import type { TrainCase } from "./train_bench.ts";
import { openMpEnvSetByConvdeck } from "../../core/backend/native/ffi.ts";

/**
 * PyTorch's configurations: float32 in either memory layout, and bf16 mixed precision
 * (`torch.autocast("cpu", dtype=torch.bfloat16)`, channels_last).
 */
export type TorchLayout = "nchw" | "channels_last" | "bf16";

/** Every {@linkcode TorchLayout}, in the order the peer runs them. */
export const TORCH_LAYOUTS: readonly TorchLayout[] = ["nchw", "channels_last", "bf16"];

/** PyTorch's result for one case. */
export interface TorchResult {
  size: number;
  batch: number;
  channels: number;
  /** Median milliseconds per step of the fastest configuration. */
  msPerStep: number;
  /** Images per second of the faster layout. */
  imagesPerSec: number;
  /** The fastest configuration. */
  layout: TorchLayout;
  /** Images per second in each layout. */
  byLayout: Record<TorchLayout, number>;
  /** CPU time (all threads) per timed step in each layout, in milliseconds. */
  cpuMsByLayout: Record<TorchLayout, number>;
}

/**
 * The peer's Python program: argv[1] is `{"threads": n, "cases": [...]}`; prints one JSON line
 * per case. Exported so that a standalone run (`python3 -c "$SCRIPT" '{...}'`) can be compared
 * with the bench's figure.
 */
export const TORCH_BENCH_SCRIPT = String.raw`
import json, sys, time, statistics
import torch, torch.nn as nn
cfg = json.loads(sys.argv[1])
torch.set_num_threads(cfg["threads"])
def model(channels):
    layers, c = [], channels
    for f in [32, 32, 0, 64, 64, 0, 128, 128, 0, 256, 256]:
        if f == 0:
            layers.append(nn.MaxPool2d(2)); continue
        layers += [nn.Conv2d(c, f, 3, padding=1), nn.ReLU()]; c = f
    layers += [nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(c, 20)]
    return nn.Sequential(*layers)
def setup(case, layout):
    torch.manual_seed(0)
    m = model(case["channels"])
    x = torch.rand(case["batch"], case["channels"], case["size"], case["size"])
    if layout in ("channels_last", "bf16"):
        m = m.to(memory_format=torch.channels_last)
        x = x.contiguous(memory_format=torch.channels_last)
    opt = torch.optim.Adam(m.parameters(), lr=1e-3)
    return m, x, opt
def step(m, x, y, opt, loss_fn, bf16):
    opt.zero_grad()
    with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
        logits = m(x)
        loss = loss_fn(logits, y)
    loss.backward()
    opt.step()
    (logits.argmax(1) == y).float().sum().item()
for case in cfg["cases"]:
    y = torch.arange(case["batch"]) % 20
    loss_fn = nn.CrossEntropyLoss()
    times, cpu = {}, {}
    # One layout after the other, each as a standalone run would (a model of its own, warm-up,
    # timed steps), so that neither evicts the other's weights from the caches between steps.
    for l in cfg.get("layouts", ["nchw", "channels_last", "bf16"]):
        m, x, opt = setup(case, l)
        for _ in range(case["warmup"]):
            step(m, x, y, opt, loss_fn, l == "bf16")
        times[l] = []
        c0 = time.process_time()
        for i in range(case["steps"]):
            t0 = time.perf_counter()
            step(m, x, y, opt, loss_fn, l == "bf16")
            times[l].append((time.perf_counter() - t0) * 1000)
        cpu[l] = (time.process_time() - c0) * 1000 / case["steps"]
        del m, x, opt
    ips = {l: case["batch"] * 1000 / statistics.median(t) for l, t in times.items()}
    best = max(ips, key=ips.get)
    print(json.dumps({"size": case["size"], "batch": case["batch"], "channels": case["channels"],
                      "msPerStep": statistics.median(times[best]), "imagesPerSec": ips[best],
                      "layout": best, "byLayout": ips, "cpuMsByLayout": cpu}), flush=True)
`;

/** Interpreters tried in order (a pyenv shim may shadow Debian's python with torch). */
const PYTHONS = ["python3", "/usr/bin/python3"];

/** The first Python that can `import torch`, with torch's version, or undefined. */
export async function findTorch(): Promise<{ python: string; version: string } | undefined> {
  for (const python of PYTHONS) {
    try {
      const out = await new Deno.Command(python, {
        args: ["-c", "import torch; print(torch.__version__)"],
        stdout: "piped",
        stderr: "null",
        clearEnv: true,
        env: peerEnv(),
      }).output();
      if (out.success) return { python, version: new TextDecoder().decode(out.stdout).trim() };
    } catch {
      // interpreter not present: try the next
    }
  }
  return undefined;
}

/**
 * The environment for the PyTorch child: this process's, less the OpenMP settings that
 * convdeck's native backend set for its own OpenMP runtime (`OMP_WAIT_POLICY=passive` or `GOMP_SPINCOUNT`). A
 * child inherits them, and PyTorch's OpenMP threads then sleep between parallel regions: on
 * 2 cores that cost PyTorch 15-20% (NCHW 32x32 batch 16: ~355 img/s inherited vs ~440
 * without, measured alternately on an idle machine). Settings the user made stay.
 */
export function peerEnv(): Record<string, string> {
  const env = Deno.env.toObject();
  for (const name of openMpEnvSetByConvdeck()) delete env[name];
  return env;
}

/**
 * Runs the cases in PyTorch with `threads` threads, each in every configuration of `layouts`
 * (default all); `onResult` sees each case as it finishes.
 */
export async function benchTorch(
  python: string,
  cases: TrainCase[],
  threads: number,
  onResult: (r: TorchResult) => void = () => {},
  layouts: readonly TorchLayout[] = TORCH_LAYOUTS,
): Promise<TorchResult[]> {
  const child = new Deno.Command(python, {
    args: [
      "-c",
      TORCH_BENCH_SCRIPT,
      JSON.stringify({ threads, layouts, cases: cases.map((c) => ({ channels: 3, ...c })) }),
    ],
    stdout: "piped",
    stderr: "piped",
    clearEnv: true,
    env: peerEnv(),
  }).spawn();
  const stderr = new Response(child.stderr).text();
  const results: TorchResult[] = [];
  let buffered = "";
  for await (const chunk of child.stdout.pipeThrough(new TextDecoderStream())) {
    buffered += chunk;
    let nl;
    while ((nl = buffered.indexOf("\n")) >= 0) {
      const line = buffered.slice(0, nl);
      buffered = buffered.slice(nl + 1);
      if (line.trim() === "") continue;
      const r = JSON.parse(line) as TorchResult;
      results.push(r);
      onResult(r);
    }
  }
  const status = await child.status;
  const err = await stderr;
  if (!status.success) {
    throw new Error(`PyTorch benchmark failed: ${err.trim().split("\n").pop()}`);
  }
  return results;
}
