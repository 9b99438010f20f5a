import * as tf from "@tensorflow/tfjs-core";
import { initBackend } from "../../core/backend/select.ts";
import { convSimdTuning } from "../../core/backend/wasm/conv_simd.ts";
await initBackend("wasm", { threads: 2, log: () => {} });
const N = Number(Deno.args[0] ?? 32);
for (const [H, C] of [[32, 32], [16, 64], [8, 128], [4, 256]]) {
  const x = tf.randomUniform([N, H, H, C]) as tf.Tensor4D;
  const f = tf.randomUniform([3, 3, C, C]) as tf.Tensor4D;
  const dy = tf.randomUniform([N, H, H, C]) as tf.Tensor4D;
  const flops = 2 * N * H * H * 9 * C * C;
  const res: string[] = [];
  for (const mode of ["simd", "xnn", "simd", "xnn"]) {
    convSimdTuning.minForwardChannels = mode === "simd" ? 8 : 1e9;
    const run = () => tf.tidy(() => tf.conv2d(x, f, 1, "same")).dataSync();
    run();
    const t0 = performance.now();
    for (let i = 0; i < 10; i++) run();
    const ms = (performance.now() - t0) / 10;
    res.push(`${mode} ${ms.toFixed(1)}ms ${(flops / ms / 1e6).toFixed(0)}GF`);
  }
  const fg = () => tf.tidy(() => tf.conv2d(x, f, 1, "same")).dataSync();
  void fg;
  const run = () => {
    const t = tf.engine().runKernel("Conv2DBackpropFilter", { x, dy }, {
      strides: [1, 1],
      pad: "same",
      dataFormat: "NHWC",
      filterShape: [3, 3, C, C],
    }) as tf.Tensor;
    t.dataSync();
    t.dispose();
  };
  run();
  const t0 = performance.now();
  for (let i = 0; i < 10; i++) run();
  const ms = (performance.now() - t0) / 10;
  console.log(
    `N${N} ${H}x${H}x${C}: ${res.join("  ")} | fgrad ${ms.toFixed(1)}ms ${
      (flops / ms / 1e6).toFixed(0)
    }GF`,
  );
  tf.dispose([x, f, dy]);
}
