import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { MemoryBackend } from "../../src/backend/memory.js";
import { runBackendSuite } from "./suite.js";

runBackendSuite("memory", async () => ({ backend: new MemoryBackend(), cleanup: async () => {} }));

describe("MemoryBackend", () => {
  it("declares its properties and location", () => {
    const b = new MemoryBackend();
    assert.deepEqual(b.properties, { kind: "memory", connections: 8, atomicReplace: true, remote: false });
    assert.equal(b.location, "memory:");
    assert.equal(new MemoryBackend("memory:second").location, "memory:second");
  });

  it("keeps two instances apart", async () => {
    const a = new MemoryBackend();
    const b = new MemoryBackend();
    await a.save({ type: "config", name: "" }, Buffer.from("a"));
    await b.create();
    assert.equal((await a.load({ type: "config", name: "" })).toString(), "a");
  });
});
