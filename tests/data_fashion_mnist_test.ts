import assert from "node:assert/strict";
import { gzipSync } from "node:zlib";
import * as tf from "@tensorflow/tfjs-core";
import "@tensorflow/tfjs-backend-cpu";
import experiment, { DEBIAN_FASHION_MNIST } from "../experiments/fashion_mnist.ts";
import { DataError } from "../core/data/data_error.ts";

function idx(code: number, dims: number[], values: Uint8Array): Uint8Array {
  const out = new Uint8Array(4 + 4 * dims.length + values.length);
  const view = new DataView(out.buffer);
  out[2] = code;
  out[3] = dims.length;
  dims.forEach((d, i) => view.setUint32(4 + 4 * i, d, false));
  out.set(values, 4 + 4 * dims.length);
  return out;
}

Deno.test("fashion_mnist: a missing folder says how to install it", async () => {
  await assert.rejects(
    () => experiment.dataset({ ...experiment.defaults, data: "/nonexistent/fashion" }),
    (e: Error) =>
      e instanceof DataError && e.message.includes("/nonexistent/fashion") &&
      e.message.includes("apt-get install dataset-fashion-mnist") && e.message.includes("--data"),
  );
});

Deno.test("fashion_mnist: loads a generated IDX folder and builds the book's model for it", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const n = 30;
    const pixels = new Uint8Array(n * 28 * 28).map((_, i) => i % 251);
    const labels = Uint8Array.from({ length: n }, (_, i) => i % 10);
    await Deno.writeFile(
      `${dir}/train-images-idx3-ubyte.gz`,
      gzipSync(idx(8, [n, 28, 28], pixels)),
    );
    await Deno.writeFile(`${dir}/train-labels-idx1-ubyte.gz`, gzipSync(idx(8, [n], labels)));
    await Deno.writeFile(`${dir}/t10k-images-idx3-ubyte.gz`, gzipSync(idx(8, [n, 28, 28], pixels)));
    await Deno.writeFile(`${dir}/t10k-labels-idx1-ubyte.gz`, gzipSync(idx(8, [n], labels)));
    const data = await experiment.dataset({ ...experiment.defaults, data: dir });
    assert.deepEqual(data.imageShape, [28, 28, 1]);
    assert.equal(data.classNames[9], "Ankle boot");
    assert.equal(data.train.size + (data.val?.size ?? 0), n);
    assert.equal(data.test?.size, n);
    await tf.setBackend("cpu");
    const model = experiment.model(data.imageShape, data.classNames.length);
    assert.equal(model.countParams(), 1174250); // the book's convnet at 28x28x1, 10 classes
    const batch = await data.train.batch([0, 1], { augmentSeed: 1 });
    const out = tf.tidy(() =>
      (model.predict(tf.tensor4d(batch.x, [2, 28, 28, 1])) as tf.Tensor).arraySync()
    ) as number[][];
    assert.equal(out.length, 2);
    assert.equal(out[0].length, 10);
    model.dispose();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

const installed = (() => {
  try {
    return Deno.statSync(DEBIAN_FASHION_MNIST).isDirectory;
  } catch {
    return false;
  }
})();

Deno.test({
  name: "fashion_mnist: Debian's dataset-fashion-mnist loads with the expected sizes",
  ignore: !installed,
  fn: async () => {
    const data = await experiment.dataset(experiment.defaults);
    assert.equal(data.train.size, 54000);
    assert.equal(data.val?.size, 6000);
    assert.equal(data.test?.size, 10000);
    const counts = new Array(10).fill(0);
    for (const l of await data.test!.labels()) counts[l]++;
    assert.deepEqual(counts, new Array(10).fill(1000));
  },
});
