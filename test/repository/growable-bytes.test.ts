import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { describe, it } from "node:test";
import { GrowableBytes } from "../../src/repository/growable-bytes.js";

describe("GrowableBytes", () => {
  it("holds every byte appended, in order, growing past its first capacity", () => {
    const g = new GrowableBytes(10);
    const parts = [randomBytes(3), randomBytes(7), randomBytes(1), randomBytes(40), Buffer.alloc(0), randomBytes(100)];
    for (const p of parts) g.append(p);
    assert.equal(g.length, 151);
    assert.deepEqual(g.view(), Buffer.concat(parts));
  });

  it("gives a view whose ArrayBuffer it alone owns, so it can be transferred", () => {
    const g = new GrowableBytes(64);
    g.append(Buffer.from("pack bytes"));
    const v = g.view();
    assert.equal(v.byteOffset, 0);
    const { port1, port2 } = new MessageChannel();
    port1.postMessage(v, [v.buffer as ArrayBuffer]);
    assert.equal(v.byteLength, 0, "detached by the transfer");
    port1.close();
    port2.close();
  });

  it("builds in a buffer given back to it when that holds the capacity, else in a new one", () => {
    const given = new ArrayBuffer(100);
    const g = new GrowableBytes(64, given);
    g.append(Buffer.from("reused"));
    assert.equal(g.view().buffer, given);
    assert.equal(g.view().toString(), "reused");
    const small = new ArrayBuffer(10);
    const h = new GrowableBytes(64, small);
    h.append(Buffer.from("fresh"));
    assert.notEqual(h.view().buffer, small);
    assert.equal(h.view().toString(), "fresh");
  });
});
