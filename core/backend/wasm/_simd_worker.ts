/**
 * A helper thread of {@linkcode ./simd_pool.ts}: instantiates convdeck's SIMD module over
 * tfjs-backend-wasm's shared memory and runs, one after another, the jobs posted in its
 * control block (see ./_simd_protocol.ts), blocking in `Atomics.wait` between them.
 *
 * @module
 */
import { parentPort } from "node:worker_threads";
import { SLOT, SPLIT_KERNELS } from "./_simd_protocol.ts";

interface Start {
  module: WebAssembly.Module;
  memory: WebAssembly.Memory;
  control: SharedArrayBuffer;
}

parentPort?.once("message", ({ module, memory, control }: Start) => {
  const exports = new WebAssembly.Instance(module, { env: { memory } }).exports;
  const fns = SPLIT_KERNELS.map((name) => exports[name] as (...args: number[]) => void);
  const ctl = new Int32Array(control);
  Atomics.store(ctl, SLOT.ready, 1);
  let seen = 0;
  for (;;) {
    Atomics.wait(ctl, SLOT.seq, seen);
    seen = Atomics.load(ctl, SLOT.seq);
    if (seen < 0) break;
    const argc = ctl[SLOT.argc];
    try {
      fns[ctl[SLOT.fn]](...ctl.subarray(SLOT.args, SLOT.args + argc));
      ctl[SLOT.failed] = 0;
    } catch (e) {
      console.error(`convdeck SIMD helper thread: ${SPLIT_KERNELS[ctl[SLOT.fn]]} failed: ${e}`);
      ctl[SLOT.failed] = 1;
    }
    Atomics.store(ctl, SLOT.done, seen);
    Atomics.notify(ctl, SLOT.done);
  }
  parentPort?.close();
});
