import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { describe, it } from "node:test";
import type { BlobEntry } from "../../src/repository/blob.js";
import { buildIndexFile, indexFileText, readIndexFile } from "../../src/repository/index-file.js";
import { MasterIndex } from "../../src/repository/master-index.js";
import { checkHeader, decodeHeader, encodeHeader } from "../../src/repository/pack.js";

function entries(n: number): BlobEntry[] {
  return Array.from({ length: n }, (_, i) => ({
    type: i % 3 === 0 ? "data" : "tree",
    compressed: i % 2 === 0,
    id: randomBytes(32),
    offset: i * 1000,
    length: 100 + i,
    rawLength: i % 5 === 0 ? 0 : 2 ** 32 - 1 - i,
  }));
}

describe("pack header entries used as encoded", () => {
  it("indexFileText writes exactly the JSON of buildIndexFile, which readIndexFile reads back", () => {
    const packs: [string, BlobEntry[]][] = [
      [randomBytes(32).toString("hex"), entries(7)],
      [randomBytes(32).toString("hex"), []],
      [randomBytes(32).toString("hex"), entries(300)],
    ];
    const encoded = packs.map(([id, es]) => [id, encodeHeader(es)] as const);
    const supersedes = [randomBytes(32).toString("hex")];
    const text = indexFileText(encoded, supersedes);
    assert.equal(text, JSON.stringify(buildIndexFile(packs, supersedes)));
    assert.equal(indexFileText([]), JSON.stringify(buildIndexFile([])));
    assert.deepEqual(readIndexFile(JSON.parse(text), "f".repeat(64)).packs, packs);
    assert.throws(() => indexFileText([["not-an-id", encodeHeader([])]]), /not a pack id/);
  });

  it("MasterIndex.addEncoded indexes what add() indexes, and skips a pack's entries it already has", () => {
    const es = entries(500);
    const pack = randomBytes(32).toString("hex");
    const a = new MasterIndex(16);
    for (const e of es) a.add(pack, e);
    const b = new MasterIndex(16);
    assert.equal(b.addEncoded(pack, encodeHeader(es)), 500);
    assert.equal(b.addEncoded(pack, encodeHeader(es.slice(0, 10))), 10, "counted, but already there");
    assert.equal(b.size, a.size);
    for (const e of es) assert.deepEqual(b.lookup(e.id), a.lookup(e.id));
    // The same blob in another pack is a second entry, as with add().
    const other = randomBytes(32).toString("hex");
    b.addEncoded(other, encodeHeader([es[0]!]));
    assert.equal(b.entriesOf(es[0]!.id).length, 2);
  });

  it("checkHeader refuses what decodeHeader refuses", () => {
    const h = encodeHeader(entries(3));
    checkHeader(h, "pack x");
    assert.throws(() => checkHeader(h.subarray(0, 45), "pack x"), /invalid size/);
    const bad = Buffer.from(h);
    bad[46] = 7;
    assert.throws(() => checkHeader(bad, "pack x"), /unknown type/);
    assert.throws(() => decodeHeader(bad, "pack x"), /unknown type/);
  });
});
