import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { describe, it } from "node:test";
import type { BlobEntry } from "../../src/repository/blob.js";
import { buildIndexFile, indexFileText, readIndexFile, readIndexFileEncoded } from "../../src/repository/index-file.js";
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

  it("readIndexFileEncoded gives each pack's entries as encodeHeader encodes readIndexFile's, and refuses what it refuses", () => {
    const packs: [string, BlobEntry[]][] = [
      [randomBytes(32).toString("hex"), entries(40)],
      [randomBytes(32).toString("hex"), []],
    ];
    const supersedes = [randomBytes(32).toString("hex")];
    const json = JSON.parse(indexFileText(packs.map(([id, es]) => [id, encodeHeader(es)] as const), supersedes)) as { packs: { blobs: Record<string, unknown>[] }[] };
    const got = readIndexFileEncoded(json, "f".repeat(64));
    assert.deepEqual(got.supersedes, supersedes);
    const want = readIndexFile(json, "f".repeat(64));
    assert.deepEqual(got.packs, want.packs.map(([id, es]) => [id, encodeHeader(es)]));
    // A missing "compressed" reads as false in both.
    const loose = structuredClone(json);
    delete loose.packs[0]!.blobs[0]!.compressed;
    assert.equal(readIndexFileEncoded(loose, "f".repeat(64)).packs[0]![1][1], 0);
    const broken: [string, (b: Record<string, unknown>) => void][] = [
      ["an id of 63 digits", (b) => (b.id = (b.id as string).slice(1))],
      ["an upper-case id", (b) => (b.id = (b.id as string).toUpperCase())],
      ["an unknown type", (b) => (b.type = "blob")],
      ["a negative offset", (b) => (b.offset = -1)],
      ["a zero length", (b) => (b.length = 0)],
      ["a length that is no integer", (b) => (b.length = 1.5)],
      ["an offset past 32 bits", (b) => (b.offset = 2 ** 32)],
      ["a raw length given as text", (b) => (b.raw_length = "10")],
    ];
    for (const [what, spoil] of broken) {
      const j = structuredClone(json);
      spoil(j.packs[0]!.blobs[3]!);
      assert.throws(() => readIndexFileEncoded(j, "f".repeat(64)), /is not a valid index/, what);
    }
    assert.throws(() => readIndexFileEncoded({ version: 2, packs: [] }, "f".repeat(64)), /format version 2/);
    assert.throws(() => readIndexFileEncoded({ version: 1 }, "f".repeat(64)), /is not a valid index/);
  });
});
