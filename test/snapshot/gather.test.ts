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
  const d = g.later(undefined);
  g.set(i, "b");
  const out = g.close();
  assert.ok(out instanceof Promise, "one value is still missing");
  let settled = false;
  void out.then(() => (settled = true));
  await new Promise((r) => setImmediate(r));
  assert.equal(settled, false);
  g.set(d, "d");
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
  const k = late.later(0);
  Promise.reject(new Error("read failed")).then((v: number) => late.set(k, v), late.onError);
  const j = late.later(0);
  const out = late.close();
  assert.ok(out instanceof Promise);
  await assert.rejects(out, /read failed/);
  late.set(j, 1);
  assert.throws(() => late.close(), /closed twice/);
});

test("closeTo tells its listener once every value is set, or of the first failure", () => {
  const told: string[] = [];
  const listener = { gathered: (v: number[]) => told.push(`gathered ${v.join(",")}`), failed: (e: unknown) => told.push(`failed ${(e as Error).message}`) };
  const now = new Gather<number>();
  now.push(1);
  assert.deepEqual(now.closeTo(listener), [1]);
  assert.deepEqual(told, [], "values at hand are returned, not told");

  const later = new Gather<number>();
  const i = later.later(0);
  later.push(2);
  assert.equal(later.closeTo(listener), undefined);
  later.set(i, 1);
  assert.deepEqual(told, ["gathered 1,2"]);

  const failing = new Gather<number>();
  const j = failing.later(0);
  assert.equal(failing.closeTo(listener), undefined);
  failing.fail(new Error("one"));
  failing.fail(new Error("two"));
  failing.set(j, 3);
  assert.deepEqual(told, ["gathered 1,2", "failed one"]);

  const failedBefore = new Gather<number>();
  failedBefore.fail(new Error("early"));
  assert.equal(failedBefore.closeTo(listener), undefined);
  assert.deepEqual(told, ["gathered 1,2", "failed one", "failed early"]);
});
