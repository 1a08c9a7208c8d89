import assert from "node:assert/strict";
import { test } from "node:test";
import { Gather } from "../../src/snapshot/gather.js";

test("values known now are given at once, in order", () => {
  const g = new Gather<number>();
  g.push(1);
  g.push(2);
  assert.deepEqual(g.close(), [1, 2]);
  assert.deepEqual(new Gather<number>().close(), []);
});

test("values set later keep their places, set before or after close", async () => {
  const g = new Gather<string | undefined>();
  g.push("a");
  const i = g.later(undefined);
  g.push("c");
  let resolveD: (v: string) => void = () => undefined;
  g.wait(new Promise<string>((r) => (resolveD = r)), undefined);
  g.set(i, "b");
  const out = g.close();
  assert.ok(out instanceof Promise, "one value is still missing");
  let settled = false;
  void out.then(() => (settled = true));
  await new Promise((r) => setImmediate(r));
  assert.equal(settled, false);
  resolveD("d");
  assert.deepEqual(await out, ["a", "b", "c", "d"]);
});

test("the first failure rejects, before or after close; later values and failures change nothing", async () => {
  const early = new Gather<number>();
  const i = early.later(0);
  early.fail(new Error("first"));
  early.fail(new Error("second"));
  early.set(i, 5);
  await assert.rejects(Promise.resolve(early.close()), /first/);

  const late = new Gather<number>();
  late.wait(Promise.reject(new Error("read failed")), 0);
  const j = late.later(0);
  const out = late.close();
  assert.ok(out instanceof Promise);
  await assert.rejects(out, /read failed/);
  late.set(j, 1);
  assert.throws(() => late.close(), /closed twice/);
});
