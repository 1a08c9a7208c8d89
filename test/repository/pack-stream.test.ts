import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import { describe, it } from "node:test";
import { AesGcmCrypter, type Crypter, NoneCrypter } from "../../src/crypto/aead.js";
import { decodeBlob } from "../../src/repository/blob.js";
import { blobId, type IdKey } from "../../src/repository/blob-id.js";
import { compressIfSmaller } from "../../src/repository/compression.js";
import { decodeHeader, PackStreamWriter, parsePackTail } from "../../src/repository/pack.js";

const idKey: IdKey = { hash: "blake3", key: randomBytes(32) };

/** Three blobs (one compressed) streamed into a pack, `addSealed` or `add` of a sealed copy. */
function writePack(crypter: Crypter, sealed: boolean): { bytes: Buffer; id: string; blobs: Buffer[] } {
  const blobs = [Buffer.from("a".repeat(5000)), randomBytes(3000), Buffer.alloc(0)];
  const parts: Buffer[] = [];
  // The writer's parts are valid only during the call: copy them.
  const w = new PackStreamWriter((b) => parts.push(Buffer.from(b)), "sha256");
  for (const plain of blobs) {
    const c = compressIfSmaller(plain, 3);
    const data = c ?? plain;
    if (sealed) w.addSealed("data", blobId(idKey, plain), data, crypter, plain.length, c !== undefined);
    else w.add("data", blobId(idKey, plain), crypter.seal(data), plain.length, c !== undefined);
  }
  const { id, size } = w.finish(crypter);
  const bytes = Buffer.concat(parts);
  assert.equal(size, bytes.length);
  return { bytes, id, blobs };
}

describe("PackStreamWriter.addSealed", () => {
  for (const [name, crypter] of [
    ["AES-256-GCM", new AesGcmCrypter(randomBytes(32))],
    ["none", new NoneCrypter()],
  ] as const) {
    it(`writes a pack whose blobs read back and verify, as add does (${name})`, () => {
      const streamed = writePack(crypter, true);
      const copied = writePack(crypter, false);
      assert.equal(streamed.bytes.length, copied.bytes.length, "the same layout");
      assert.equal(streamed.id, createHash("sha256").update(streamed.bytes).digest("hex"), "named by the SHA-256 of its bytes");
      const { entries } = parsePackTail(streamed.bytes, streamed.bytes.length, crypter, streamed.id);
      assert.equal(entries.length, 3);
      assert.equal(entries[0]?.compressed, true);
      entries.forEach((e, i) => {
        const plain = decodeBlob(streamed.bytes.subarray(e.offset, e.offset + e.length), e, crypter, idKey, "the pack");
        assert.deepEqual(plain, streamed.blobs[i]);
        assert.equal(e.length, (i === 0 ? (compressIfSmaller(streamed.blobs[0]!, 3) as Buffer).length : streamed.blobs[i]!.length) + crypter.overhead);
      });
      if (crypter.encrypted) {
        const bad = Buffer.from(streamed.bytes);
        bad[entries[1]!.offset + 20]! ^= 1;
        assert.throws(() => decodeBlob(bad.subarray(entries[1]!.offset, entries[1]!.offset + entries[1]!.length), entries[1]!, crypter, idKey, "the pack"), /failed authentication/);
      }
    });
  }
});

describe("PackStreamWriter.finish", () => {
  it("returns the header's entries as the pack stores them, for more entries than its first capacity", () => {
    const crypter = new AesGcmCrypter(randomBytes(32));
    const parts: Buffer[] = [];
    const w = new PackStreamWriter((b) => parts.push(Buffer.from(b)), "sha256");
    const blobs = Array.from({ length: 200 }, (_, i) => Buffer.from(`tree ${i}`));
    blobs.forEach((b, i) => w.addSealed(i % 2 ? "tree" : "data", blobId(idKey, b), b, crypter, b.length, false));
    assert.equal(w.count, 200);
    const { id, header, size } = w.finish(crypter);
    const bytes = Buffer.concat(parts);
    assert.equal(size, bytes.length);
    const stored = parsePackTail(bytes, bytes.length, crypter, id).entries;
    assert.deepEqual(decodeHeader(header, "the returned header"), stored);
    assert.equal(stored[199]?.type, "tree");
    assert.deepEqual(stored[7]?.id, blobId(idKey, blobs[7]!));
  });
});
