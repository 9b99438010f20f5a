import assert from "node:assert/strict";
import { ProgressBar } from "../callbacks/progress_bar.ts";
import { formatDuration } from "../core/format/duration.ts";
import { drive, FakeContext } from "./helpers/fake_context.ts";

function sink(isTTY: boolean) {
  const out: string[] = [];
  return { out, stream: { isTTY, columns: 120, write: (s: string) => void out.push(s) } };
}

Deno.test("formatDuration", () => {
  assert.equal(formatDuration(0, "clock"), "0:00");
  assert.equal(formatDuration(75_400, "clock"), "1:15");
  assert.equal(formatDuration(3_725_000, "clock"), "1:02:05");
  assert.equal(formatDuration(NaN, "clock"), "?");
});

Deno.test("ProgressBar (not a TTY): a line every 10% with ETA and the trainer's running means", async () => {
  const { out, stream } = sink(false);
  let t = 0;
  const cb = new ProgressBar({ stream, now: () => t });
  const ctx = new FakeContext({ stepsPerEpoch: 20 });
  const clock = { name: "clock", onBatchBegin: () => void (t += 1000) }; // 1 s per batch
  await drive([clock, cb], [{ loss: 0.5, val_loss: 0.6 }, { loss: 0.4, val_loss: 0.5 }], ctx, {
    batches: () =>
      Array.from(
        { length: 20 },
        (_, i) => ({ loss: 1 / (i + 1), acc: 0.25, batch_loss: 9, size: i % 2 ? 3 : 1 }),
      ),
  });
  const lines = out.join("").split("\n").filter(Boolean);
  assert.equal(lines.length, 2 * (9 + 1));
  assert.equal(lines[1], "Epoch 1/2  4/20 [20%]  eta 0:16  loss 0.2500  acc 0.2500");
  assert.equal(lines[9], "Epoch 1/2  20/20  20.0s  loss 0.5000  val_loss 0.6000  lr 0.001");
  assert.match(lines[10], /^Epoch 2\/2 {2}2\/20 \[10%\] {2}eta 0:18/);
  assert.ok(out.every((s) => !s.includes("\r") && !s.includes("\x1b")), "no control characters");
});

Deno.test("ProgressBar (not a TTY): throttled to fps even when batches are instant", async () => {
  const { out, stream } = sink(false);
  const cb = new ProgressBar({ stream, now: () => 0 });
  const ctx = new FakeContext({ stepsPerEpoch: 100 });
  await drive([cb], [{ loss: 1 }], ctx, {
    batches: () => Array.from({ length: 100 }, () => ({ loss: 1 })),
  });
  const lines = out.join("").split("\n").filter(Boolean);
  assert.equal(lines.length, 2); // the first 10% line, then only the epoch summary
  assert.match(lines[1], /^Epoch 1\/1 {2}100\/100/);
});

Deno.test("ProgressBar (TTY): cli-progress redraws in place at most ~10 times a second", async () => {
  const { out, stream } = sink(true);
  const cb = new ProgressBar({ stream });
  const ctx = new FakeContext({ stepsPerEpoch: 3000 });
  const t0 = performance.now();
  // Lets the event loop (and cli-progress's redraw timer) run now and then, ~0.3 s in all.
  const pause = {
    name: "pause",
    onBatchBegin: (b: number) =>
      b % 100 === 0 ? new Promise<void>((r) => setTimeout(r, 10)) : undefined,
  };
  await drive([pause, cb], [{ loss: 0.5 }], ctx, {
    batches: () => Array.from({ length: 3000 }, () => ({ loss: 0.5, acc: 1 })),
  });
  const ms = performance.now() - t0;
  const frames = out.filter((s) => s.startsWith("Epoch 1/1 [")).length;
  assert.ok(frames >= 2 && frames <= ms / 100 + 3, `${frames} redraws in ${ms.toFixed(0)} ms`);
  assert.ok(out.some((s) => s.includes("\x1b[")), "uses terminal control sequences");
  const last = out.at(-1)!;
  assert.match(last, /^Epoch 1\/1 {2}3000\/3000 {2}\d+\.\ds {2}loss 0\.5000 {2}lr 0\.001\n$/);
});

Deno.test("ProgressBar (TTY): a failure mid-epoch stops the bar (no timer left running)", async () => {
  const { stream } = sink(true);
  const cb = new ProgressBar({ stream });
  const ctx = new FakeContext({ stepsPerEpoch: 10 });
  const seen: boolean[] = [];
  const failing = {
    name: "fail",
    onBatchEnd: () => {
      seen.push(cb.active);
      return Promise.reject(new Error("bad batch"));
    },
  };
  await assert.rejects(
    drive([cb, failing], [{ loss: 1 }], ctx, { batches: () => [{ loss: 1 }] }),
    /bad batch/,
  );
  // cli-progress's redraw timer would otherwise keep the process alive after a failed run.
  assert.deepEqual(seen, [true]);
  assert.equal(cb.active, false);
});
