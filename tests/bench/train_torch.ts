/**
 * The same training benchmark in PyTorch (CPU), run side by side when a Python with torch is
 * available (Debian's `python3-torch`). Threads are set explicitly: Debian's build defaults to 1.
 *
 * @module
 */
import type { TrainCase } from "./train_bench.ts";

/** PyTorch's result for one case. */
export interface TorchResult {
  size: number;
  batch: number;
  msPerStep: number;
  imagesPerSec: number;
}

const SCRIPT = String.raw`
import json, sys, time, statistics
import torch, torch.nn as nn
cfg = json.loads(sys.argv[1])
torch.set_num_threads(cfg["threads"])
torch.manual_seed(0)
def model(size):
    pad = 0 if size >= 76 else 1
    layers, c = [], 3
    for f in [32, 32, 0, 64, 64, 0, 128, 128, 0, 256, 256]:
        if f == 0:
            layers.append(nn.MaxPool2d(2)); continue
        layers += [nn.Conv2d(c, f, 3, padding=pad), nn.ReLU()]; c = f
    layers += [nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(c, 20)]
    return nn.Sequential(*layers)
out = []
for case in cfg["cases"]:
    m = model(case["size"])
    opt = torch.optim.Adam(m.parameters(), lr=1e-3)
    loss_fn = nn.CrossEntropyLoss()
    x = torch.rand(case["batch"], 3, case["size"], case["size"])
    y = torch.arange(case["batch"]) % 20
    times = []
    for i in range(case["warmup"] + case["steps"]):
        t0 = time.perf_counter()
        opt.zero_grad()
        logits = m(x)
        loss = loss_fn(logits, y)
        loss.backward()
        opt.step()
        (logits.argmax(1) == y).float().sum().item()
        if i >= case["warmup"]:
            times.append((time.perf_counter() - t0) * 1000)
    ms = statistics.median(times)
    out.append({"size": case["size"], "batch": case["batch"], "msPerStep": ms,
                "imagesPerSec": case["batch"] * 1000 / ms})
    print(json.dumps(out[-1]), flush=True)
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
      }).output();
      if (out.success) return { python, version: new TextDecoder().decode(out.stdout).trim() };
    } catch {
      // interpreter not present: try the next
    }
  }
  return undefined;
}

/**
 * Runs the cases in PyTorch with `threads` threads; `onResult` sees each case as it finishes.
 * Same model (padding as {@linkcode TrainCase} sizes imply), Adam 1e-3, random data.
 */
export async function benchTorch(
  python: string,
  cases: TrainCase[],
  threads: number,
  onResult: (r: TorchResult) => void = () => {},
): Promise<TorchResult[]> {
  const child = new Deno.Command(python, {
    args: ["-c", SCRIPT, JSON.stringify({ threads, cases })],
    stdout: "piped",
    stderr: "piped",
  }).spawn();
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
  if (!status.success) {
    const err = await new Response(child.stderr).text();
    throw new Error(`PyTorch benchmark failed: ${err.trim().split("\n").pop()}`);
  }
  return results;
}
