import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import { describe, it } from "node:test";
import { AesGcmCrypter } from "../../src/crypto/aead.js";
import { blobId } from "../../src/repository/blob-id.js";
import { packHashHex } from "../../src/repository/pack-hash.js";
import { memoryPack, PackStreamWriter } from "../../src/repository/pack.js";
import { fasterDigest, uploadDigest, type UploadDigest } from "../../src/repository/upload-digest.js";

describe("uploadDigest", () => {
  it("picks the digest timed faster, SHA-256 on a tie", () => {
    assert.equal(fasterDigest((d) => (d === "md5" ? 2 : 1)), "sha256");
    assert.equal(fasterDigest((d) => (d === "md5" ? 1 : 2)), "md5");
    assert.equal(fasterDigest(() => 1), "sha256");
  });

  it("chooses once per thread", () => {
    const first = uploadDigest();
    assert.ok(first === "md5" || first === "sha256");
    for (let i = 0; i < 5; i++) assert.equal(uploadDigest(), first);
  });
});

describe("PackStreamWriter's upload digest", () => {
  const crypter = new AesGcmCrypter(randomBytes(32));
  const idKey = { hash: "blake3" as const, key: randomBytes(32) };

  for (const digest of ["md5", "sha256"] as UploadDigest[]) {
    it(`takes the ${digest} of every byte of the pack, the header and its length included`, () => {
      const parts: Buffer[] = [];
      const w = new PackStreamWriter((b) => parts.push(Buffer.from(b)), "blake3", { upload: digest });
      for (const b of [randomBytes(70_000), Buffer.from("small"), randomBytes(3)]) w.addSealed("data", blobId(idKey, b), b, crypter, b.length, false);
      const { id, check } = w.finish(crypter);
      const bytes = Buffer.concat(parts);
      assert.equal(id, packHashHex("blake3", bytes));
      const expected = digest === "md5" ? { md5: createHash("md5").update(bytes).digest("base64") } : { sha256: createHash("sha256").update(bytes).digest("hex") };
      assert.deepEqual(check, expected);
    });
  }

  it("takes none without being asked, and none for a pack named by its SHA-256", () => {
    const w = new PackStreamWriter(() => {}, "blake3");
    w.addSealed("data", blobId(idKey, Buffer.from("x")), Buffer.from("x"), crypter, 1, false);
    assert.equal(w.finish(crypter).check, undefined);
    const m = memoryPack(1024, "sha256");
    m.pack.addSealed("data", blobId(idKey, Buffer.from("x")), Buffer.from("x"), crypter, 1, false);
    const p = m.pack.finish(crypter);
    assert.equal(p.check, undefined);
    assert.equal(p.id, createHash("sha256").update(m.bytes.view()).digest("hex"));
  });

  it("takes this thread's faster digest for a memory pack named by BLAKE3", () => {
    const m = memoryPack(1024, "blake3");
    m.pack.addSealed("data", blobId(idKey, Buffer.from("x")), Buffer.from("x"), crypter, 1, false);
    const { check } = m.pack.finish(crypter);
    assert.ok(check);
    assert.deepEqual(Object.keys(check), [uploadDigest()]);
  });
});
