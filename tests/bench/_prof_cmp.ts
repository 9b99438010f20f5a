import { convSimdTuning } from "../../core/backend/wasm/conv_simd.ts";
import { wasmProfile } from "./wasm_profile.ts";
import { initBackend } from "../../core/backend/select.ts";
await initBackend("wasm", { threads: 2, log: () => {} });
const [size, batch, ch] = Deno.args.map(Number);
for (const mode of ["simd", "xnn-fwd", "simd", "xnn-fwd"]) {
  convSimdTuning.minForwardChannels = mode === "simd" ? 8 : 1e9;
  const r = await wasmProfile(size, batch, ch, 5, true);
  const conv = r.rows.filter(([k]) => k.startsWith("Conv2D ")).map(([k, ms]) =>
    `${k.slice(7)}:${ms.toFixed(1)}`
  ).join(" ");
  console.log(mode, r.stepMs.toFixed(1), "ms/step |", conv);
}
