import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { describe, it } from "node:test";
import { IdTable } from "../../src/repository/id-table.js";

describe("IdTable", () => {
  it("finds every entry by its id, each repeat in turn, and nothing for an id it lacks", () => {
    const n = 500;
    const ids = new Uint8Array(n * 32);
    for (let i = 0; i < n; i++) ids.set(randomBytes(32), i * 32);
    // Entries 10 and 300 repeat entry 3; entry 400 shares entry 5's first four bytes only.
    ids.copyWithin(10 * 32, 3 * 32, 4 * 32);
    ids.copyWithin(300 * 32, 3 * 32, 4 * 32);
    ids.copyWithin(400 * 32, 5 * 32, 5 * 32 + 4);
    const table = new IdTable(n);
    for (let i = 0; i < n; i++) table.insert(ids, i);
    const id = (i: number): Uint8Array => ids.slice(i * 32, i * 32 + 32);
    for (let i = 0; i < n; i++) if (i !== 10 && i !== 300) assert.equal(table.find(ids, id(i)), i);
    assert.equal(table.find(ids, id(3), 3), 10);
    assert.equal(table.find(ids, id(3), 10), 300);
    assert.equal(table.find(ids, id(3), 300), -1);
    assert.equal(table.find(ids, randomBytes(32)), -1);
    const near = id(5);
    near[31] = (near[31] ?? 0) ^ 1;
    assert.equal(table.find(ids, near), -1, "the same first bytes, another id");
    assert.ok(table.byteLength >= n * 2 * 4);
  });
});
