/**
 * A helper thread of {@linkcode ./simd_pool.ts}: instantiates convdeck's SIMD module over
 * tfjs-backend-wasm's shared memory, then, each time the job number changes, claims and runs
 * pieces of the job (see ./_simd_protocol.ts), polling briefly then blocking in `Atomics.wait`
 * between jobs.
 *
 * @module
 */
import { parentPort } from "node:worker_threads";
import { runPieces, SLOT, spinWhile, SPLIT_KERNELS } from "./_simd_protocol.ts";

interface Start {
  module: WebAssembly.Module;
  memory: WebAssembly.Memory;
  control: SharedArrayBuffer;
  thread: number;
}

parentPort?.once("message", ({ module, memory, control, thread }: Start) => {
  const exports = new WebAssembly.Instance(module, { env: { memory } }).exports;
  const fns = SPLIT_KERNELS.map((name) => exports[name] as (...args: number[]) => void);
  const ctl = new Int32Array(control);
  let seen = Atomics.load(ctl, SLOT.seq);
  Atomics.add(ctl, SLOT.ready, 1);
  for (;;) {
    spinWhile(ctl, SLOT.seq, seen);
    Atomics.wait(ctl, SLOT.seq, seen);
    seen = Atomics.load(ctl, SLOT.seq);
    runPieces(ctl, seen, thread, fns);
  }
});
