import assert from "node:assert/strict";
import { CSVLogger } from "../callbacks/csv_logger.ts";
import { drive, FakeContext } from "./helpers/fake_context.ts";

const read = (path: string) => Deno.readTextFileSync(path);

Deno.test("CSVLogger: Keras columns (epoch, sorted keys), relative path in the run dir", async () => {
  const ctx = new FakeContext();
  const cb = new CSVLogger("logs/train.csv");
  await drive([cb], [
    { val_loss: 0.9, loss: 1, acc: 0.5, val_acc: 0.4 },
    { val_loss: 0.8, loss: 0.5, acc: 0.75, val_acc: 0.5 },
  ], ctx);
  assert.equal(cb.path, `${ctx.run.dir}/logs/train.csv`);
  assert.equal(
    read(cb.path!),
    "epoch,acc,loss,lr,val_acc,val_loss\n0,0.5,1,0.001,0.4,0.9\n1,0.75,0.5,0.001,0.5,0.8\n",
  );
  await ctx.cleanup();
});

Deno.test("CSVLogger: columns fixed at the first epoch; absent keys NA; NaN as nan", async () => {
  const ctx = new FakeContext();
  const cb = new CSVLogger("a.csv");
  await drive(
    [cb],
    [{ loss: 1, val_loss: 2 }, { loss: NaN, extra: 3 }, { loss: Infinity, val_loss: 1 }],
    ctx,
    {},
  );
  assert.equal(
    read(cb.path!),
    "epoch,loss,lr,val_loss\n0,1,0.001,2\n1,nan,0.001,NA\n2,inf,0.001,1\n",
  );
  await ctx.cleanup();
});

Deno.test("CSVLogger: without val_ keys in the first epoch, val_ columns are added (Keras)", async () => {
  const ctx = new FakeContext();
  const cb = new CSVLogger("a.csv", { separator: ";" });
  await drive([cb], [{ loss: 1 }, { loss: 0.5, val_loss: 0.7 }], ctx);
  assert.equal(
    read(cb.path!),
    "epoch;loss;lr;val_loss;val_lr\n0;1;0.001;NA;NA\n1;0.5;0.001;0.7;NA\n",
  );
  await ctx.cleanup();
});

Deno.test("CSVLogger: each row is on disk as soon as the epoch ends", async () => {
  const ctx = new FakeContext();
  const cb = new CSVLogger("a.csv");
  const seen: string[] = [];
  await drive([cb], [{ loss: 1 }, { loss: 2 }], ctx, {
    afterEpoch: () => void seen.push(read(cb.path!)),
  });
  assert.equal(seen[0].trim().split("\n").length, 2);
  assert.equal(seen[1].trim().split("\n").length, 3);
  await ctx.cleanup();
});

Deno.test("CSVLogger: append=false overwrites, append=true continues with the header's columns", async () => {
  const ctx = new FakeContext();
  const path = `${ctx.run.dir}/x.csv`;
  Deno.writeTextFileSync(path, "epoch,loss,zeta\n0,9,1\n");
  await drive([new CSVLogger(path)], [{ loss: 1 }], ctx);
  assert.equal(read(path), "epoch,loss,lr,val_loss,val_lr\n0,1,0.001,NA,NA\n");

  Deno.writeTextFileSync(path, "epoch,loss,zeta\n0,9,1\n");
  const ctx2 = new FakeContext({ dir: ctx.run.dir });
  ctx2.history.push({ epoch: 0, step: 0, logs: { loss: 9 } });
  await drive([new CSVLogger("x.csv", { append: true })], [{ loss: 1, zeta: 2 }], ctx2);
  assert.equal(read(path), "epoch,loss,zeta\n0,9,1\n1,1,2\n");
  await ctx.cleanup();
});

Deno.test("CSVLogger: a second train() call continues the file; state round-trips", async () => {
  const ctx = new FakeContext();
  const cb = new CSVLogger("a.csv");
  await drive([cb], [{ loss: 1, val_loss: 1 }], ctx);
  await drive([cb], [{ loss: 0.5, val_loss: 0.5 }], ctx);
  const resumed = new CSVLogger("a.csv");
  resumed.setState(JSON.parse(JSON.stringify(cb.getState())));
  assert.deepEqual(resumed.getState(), { keys: ["loss", "lr", "val_loss"], started: true });
  await drive([resumed], [{ loss: 0.25, val_loss: 0.3, new_key: 1 }], ctx);
  assert.equal(
    read(cb.path!),
    "epoch,loss,lr,val_loss\n0,1,0.001,1\n1,0.5,0.001,0.5\n2,0.25,0.001,0.3\n",
  );
  await ctx.cleanup();
});

Deno.test("CSVLogger: keys with the separator are quoted", async () => {
  const ctx = new FakeContext();
  const cb = new CSVLogger("a.csv");
  await drive([cb], [{ "a,b": 1, val_x: 2 }], ctx);
  assert.equal(read(cb.path!).split("\n")[0], 'epoch,"a,b",lr,val_x');
  assert.throws(
    () => new CSVLogger("a.csv", { separator: "" }),
    /separator must be a non-empty string/,
  );
  await ctx.cleanup();
});
