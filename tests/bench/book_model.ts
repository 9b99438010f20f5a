/**
 * The book's convnet (Conv2D 32-32, pool, 64-64, pool, 128-128, pool, 256-256,
 * GlobalAveragePooling2D, Dense(20) softmax; 3x3 ReLU convolutions), built with tfjs-layers
 * for the benchmarks and the native training tests, and its PyTorch twin as Python source.
 *
 * @module
 */
import * as tfl from "@tensorflow/tfjs-layers";

/** Padding of the convolutions: Keras's `valid` (the book) or `same`. */
export type Padding = "valid" | "same";

/**
 * The padding benchmarked at `size`: `same` at every size, as the book's chapter builds the
 * model (and as `deno task bench` runs it).
 */
export function paddingFor(_size: number): Padding {
  return "same";
}

/** Builds the book's model for `size`x`size`x3 inputs and `classes` outputs. */
export function bookModel(size: number, classes = 20, padding: Padding = paddingFor(size)) {
  const model = tfl.sequential();
  const conv = (filters: number, first = false) =>
    tfl.layers.conv2d({
      filters,
      kernelSize: 3,
      activation: "relu",
      padding,
      ...(first ? { inputShape: [size, size, 3] } : {}),
    });
  model.add(conv(32, true));
  model.add(conv(32));
  model.add(tfl.layers.maxPooling2d({ poolSize: 2 }));
  model.add(conv(64));
  model.add(conv(64));
  model.add(tfl.layers.maxPooling2d({ poolSize: 2 }));
  model.add(conv(128));
  model.add(conv(128));
  model.add(tfl.layers.maxPooling2d({ poolSize: 2 }));
  model.add(conv(256));
  model.add(conv(256));
  model.add(tfl.layers.globalAveragePooling2d({}));
  model.add(tfl.layers.dense({ units: classes, activation: "softmax" }));
  return model;
}

/**
 * A Python program that trains the same model in PyTorch (channels_last, Adam 1e-3) and
 * prints one JSON line `{"ips": images_per_second, "threads": n}` (median step).
 */
export function torchScript(
  size: number,
  batch: number,
  steps: number,
  threads: number,
  padding: Padding = paddingFor(size),
): string {
  const pad = padding === "same" ? 1 : 0;
  return `
import json, time, statistics, torch, torch.nn as nn
torch.set_num_threads(${threads})
torch.manual_seed(0)
def c(i, o): return [nn.Conv2d(i, o, 3, padding=${pad}), nn.ReLU()]
m = nn.Sequential(*c(3,32), *c(32,32), nn.MaxPool2d(2), *c(32,64), *c(64,64), nn.MaxPool2d(2),
  *c(64,128), *c(128,128), nn.MaxPool2d(2), *c(128,256), *c(256,256),
  nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(256, 20))
m = m.to(memory_format=torch.channels_last)
opt = torch.optim.Adam(m.parameters(), lr=1e-3)
x = torch.rand(${batch}, 3, ${size}, ${size}).to(memory_format=torch.channels_last)
y = torch.randint(0, 20, (${batch},))
loss_fn = nn.CrossEntropyLoss()
times = []
for i in range(${steps} + 2):
    t = time.perf_counter()
    opt.zero_grad()
    loss = loss_fn(m(x), y)
    loss.backward()
    opt.step()
    loss.item()
    if i >= 2: times.append(time.perf_counter() - t)
print(json.dumps({"ips": ${batch} / statistics.median(times), "threads": torch.get_num_threads()}))
`;
}
