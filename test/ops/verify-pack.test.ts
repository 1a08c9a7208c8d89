import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { closeSync, mkdtempSync, openSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { AesGcmCrypter, type Crypter, NoneCrypter } from "../../src/crypto/aead.js";
import { type BlobEntry, decodeBlob, encodeBlob } from "../../src/repository/blob.js";
import { blobId, type IdKey } from "../../src/repository/blob-id.js";
import { PackBuilder } from "../../src/repository/pack.js";
import { packHashHex, type PackHash } from "../../src/repository/pack-hash.js";
import { BlobVerifier } from "../../src/ops/blob-verifier.js";
import { FilePackBytes, MemoryPackBytes, ReadWindow } from "../../src/ops/pack-bytes.js";
import { packSummary, SummaryBatchBuilder, SummaryStore, summarizeTree, type TreeSummary } from "../../src/ops/tree-summary.js";
import { type PackVerdict, verifyPack } from "../../src/ops/verify-pack.js";
import type { Tree } from "../../src/snapshot/tree.js";

/**
 * The one-pass pack verification of `check --read-data`: a pack read from a file in small
 * pieces gives exactly the verdict of the same bytes in memory, for a sound pack and for each
 * kind of damage; streamed blob verification agrees with `decodeBlob`; tree summaries survive
 * their trip through a batch.
 */
const idKey: IdKey = { hash: "blake3", key: randomBytes(32) };
const dir = mkdtempSync(join(tmpdir(), "coffer-verify-pack-"));
after(() => rmSync(dir, { recursive: true, force: true }));

function text(n: number): Buffer {
  return Buffer.from("the quick brown fox jumps over the lazy dog\n".repeat(Math.ceil(n / 44))).subarray(0, n);
}

/** A summary with its ids in hex, to compare summaries whatever their buffers' types. */
function plainSummary(s: TreeSummary): { subtrees: string; blobs: string; invalid: string[] } {
  return { subtrees: Buffer.from(s.subtrees).toString("hex"), blobs: Buffer.from(s.blobs).toString("hex"), invalid: s.invalid };
}

const tree: Tree = {
  nodes: [
    { name: "a", type: "dir", subtree: "ab".repeat(32) } as Tree["nodes"][number],
    { name: "f", type: "file", content: ["cd".repeat(32), "ef".repeat(32)] } as Tree["nodes"][number],
    { name: "bad", type: "file", content: ["xyz"] } as unknown as Tree["nodes"][number],
  ],
};

/** A pack of data blobs (compressible and not, one larger than the pieces) and one tree. */
function makePack(crypter: Crypter, hash: PackHash): { id: string; bytes: Buffer; entries: BlobEntry[] } {
  const b = new PackBuilder();
  for (const plain of [text(5000), randomBytes(3000), text(70_000), randomBytes(9000)]) {
    const enc = encodeBlob(plain, crypter, 3);
    b.add("data", blobId(idKey, plain), enc.stored, enc.rawLength, enc.compressed);
  }
  const t = Buffer.from(JSON.stringify(tree));
  const enc = encodeBlob(t, crypter, 3);
  b.add("tree", blobId(idKey, t), enc.stored, enc.rawLength, enc.compressed);
  return b.finish(crypter, hash);
}

function verifyBoth(crypter: Crypter, hash: PackHash, id: string, bytes: Buffer, entries: BlobEntry[]): PackVerdict {
  const opts = { crypter, idKey, blobs: new BlobVerifier(crypter, idKey, 100_000, 1000), trees: true, piece: 777, packHash: hash };
  const inMemory = verifyPack(new MemoryPackBytes(bytes), id, entries, opts);
  const path = join(dir, "pack");
  writeFileSync(path, bytes);
  const fd = openSync(path, "r");
  let fromFile: PackVerdict;
  try {
    fromFile = verifyPack(new FilePackBytes(fd, bytes.length, new ReadWindow(1000)), id, entries, opts);
  } finally {
    closeSync(fd);
  }
  assert.deepEqual(fromFile, inMemory, "a file read in pieces and the same bytes in memory give the same verdict");
  return inMemory;
}

for (const [name, crypter, hash] of [
  ["aes-256-gcm", new AesGcmCrypter(randomBytes(32)), "blake3"],
  ["aes-256-gcm", new AesGcmCrypter(randomBytes(32)), "sha256"],
  ["none", new NoneCrypter(), "blake3"],
] as const) {
  describe(`verifyPack (${name}, packs named by ${hash})`, () => {
    const pack = makePack(crypter, hash);

    it("names the pack by the hash of all its bytes", () => {
      assert.equal(pack.id, packHashHex(hash, pack.bytes));
      assert.notEqual(pack.id, packHashHex(hash === "sha256" ? "blake3" : "sha256", pack.bytes));
      // The other hash's name is a damaged pack.
      const other = packHashHex(hash === "sha256" ? "blake3" : "sha256", pack.bytes);
      assert.equal(verifyBoth(crypter, hash, other, pack.bytes, pack.entries).badHash, pack.id);
    });

    it("passes a sound pack and summarises its tree", () => {
      const v = verifyBoth(crypter, hash, pack.id, pack.bytes, pack.entries);
      assert.equal(v.badHash, undefined);
      assert.equal(v.headerProblem, undefined);
      assert.deepEqual(v.failed, []);
      const store = new SummaryStore();
      store.add(v.trees!, (tag) => `entry ${tag}`);
      assert.equal(store.size, 1);
      const s = store.take("entry 4");
      assert.ok(s, "tagged with the tree's entry number");
      assert.deepEqual(plainSummary(s), plainSummary(packSummary(summarizeTree(tree))));
    });

    it("names the blob a flipped byte damages, and the hash", () => {
      const e = pack.entries[2]!;
      const bytes = Buffer.from(pack.bytes);
      bytes[e.offset + (e.length >> 1)]! ^= 1;
      const v = verifyBoth(crypter, hash, pack.id, bytes, pack.entries);
      assert.ok(v.badHash);
      assert.deepEqual(
        v.failed.map((f) => f.i),
        [2],
      );
      assert.match(v.failed[0]!.message, crypter.encrypted ? /failed authentication/ : /does not (match its id|decompress)/);
    });

    it("reports a damaged header and still verifies every blob", () => {
      const bytes = Buffer.from(pack.bytes);
      bytes[bytes.length - 10]! ^= 1;
      const v = verifyBoth(crypter, hash, pack.id, bytes, pack.entries);
      assert.ok(v.badHash);
      if (crypter.encrypted) assert.match(v.headerProblem ?? "", /failed authentication/);
      assert.deepEqual(v.failed, []);
    });

    it("fails entries outside the data of a truncated pack", () => {
      const bytes = pack.bytes.subarray(0, pack.entries[3]!.offset + 10);
      const v = verifyBoth(crypter, hash, pack.id, Buffer.from(bytes), pack.entries);
      assert.ok(v.badHash);
      assert.ok(v.headerProblem);
      assert.deepEqual(
        v.failed.map((f) => f.i),
        [3, 4],
      );
      assert.match(v.failed[0]!.message, /lies outside the data/);
    });

    it("fails an index entry the header does not list", () => {
      const extra: BlobEntry = { ...pack.entries[0]!, id: randomBytes(32) };
      const v = verifyBoth(crypter, hash, pack.id, pack.bytes, [...pack.entries, extra]);
      assert.match(v.headerProblem ?? "", /does not match the index: 1 index entry is not in its header/);
      assert.deepEqual(
        v.failed.map((f) => f.i),
        [5],
      );
      assert.match(v.failed[0]!.message, /does not match its id/);
    });
  });
}

describe("BlobVerifier", () => {
  const crypter = new AesGcmCrypter(randomBytes(32));
  const verifier = new BlobVerifier(crypter, idKey, 50_000, 4096);
  const outcome = (f: () => unknown): string => {
    try {
      f();
      return "ok";
    } catch (err) {
      return (err as Error).message;
    }
  };

  it("agrees with decodeBlob on sound and damaged blobs, compressed or not, and on blobs larger than its buffers", () => {
    for (const plain of [text(20_000), randomBytes(20_000), text(200_000), Buffer.alloc(0)]) {
      const enc = encodeBlob(plain, crypter, 3);
      const e = { type: "data" as const, id: blobId(idKey, plain), compressed: enc.compressed, rawLength: enc.rawLength };
      const variants: [Buffer, typeof e][] = [
        [enc.stored, e],
        [enc.stored, { ...e, rawLength: e.rawLength + 1 }],
        [enc.stored, { ...e, rawLength: Math.max(0, e.rawLength - 1) }],
        [enc.stored, { ...e, id: randomBytes(32) }],
      ];
      if (enc.stored.length > 40) {
        const flipped = Buffer.from(enc.stored);
        flipped[30]! ^= 1;
        variants.push([flipped, e]);
      }
      for (const [stored, entry] of variants) {
        const want = outcome(() => decodeBlob(stored, entry, crypter, idKey, "pack x"));
        assert.equal(outcome(() => verifier.verify(stored, entry, "pack x")), want);
      }
    }
  });
});

describe("tree summaries", () => {
  it("come back out of a batch and the store as they went in, invalid nodes included, each once", () => {
    const b = new SummaryBatchBuilder();
    const other: Tree = { nodes: [{ name: "d", type: "dir" } as Tree["nodes"][number]] };
    b.add(7, summarizeTree(tree));
    b.add(9, summarizeTree(other));
    const store = new SummaryStore();
    store.add(b.finish(), (tag) => `tree ${tag}`);
    const first = store.take("tree 7");
    const second = store.take("tree 9");
    assert.ok(first && second);
    assert.deepEqual(plainSummary(first), plainSummary(packSummary(summarizeTree(tree))));
    assert.equal(plainSummary(first).subtrees, "ab".repeat(32));
    assert.equal(plainSummary(first).blobs, "cd".repeat(32) + "ef".repeat(32));
    assert.deepEqual(first.invalid, ['file "bad" names an invalid blob id']);
    assert.deepEqual(second.invalid, ['directory "d" has no valid subtree id']);
    assert.equal(second.subtrees.length, 0);
    assert.equal(store.take("tree 7"), undefined, "taken once");
  });
});
