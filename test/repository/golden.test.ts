import assert from "node:assert/strict";
import { createDecipheriv, createHash, createHmac, randomBytes, scryptSync } from "node:crypto";
import { describe, it } from "node:test";
import zstd from "zstd-napi";
import { MemoryBackend } from "../../src/backend/memory.js";
import { isCofferError } from "../../src/core/errors.js";
import { AesGcmCrypter, NoneCrypter } from "../../src/crypto/aead.js";
import { TEST_KDF } from "../../src/crypto/kdf.js";
import { createKeyFile, newMasterKey, openKeyFile, parseKeyFile } from "../../src/crypto/keyfile.js";
import { decodeBlob, encodeBlob, type BlobEntry } from "../../src/repository/blob.js";
import { blobId, idHasher, type IdKey } from "../../src/repository/blob-id.js";
import { RAW_THRESHOLD } from "../../src/repository/compression.js";
import { newConfig, parseConfig } from "../../src/repository/config.js";
import { decodeJsonFile, encodeJsonFile } from "../../src/repository/file-codec.js";
import { buildIndexFile, readIndexFile } from "../../src/repository/index-file.js";
import { MasterIndex } from "../../src/repository/master-index.js";
import { decodeHeader, encodeHeader, HEADER_ENTRY, PackBuilder, parsePackTail } from "../../src/repository/pack.js";
import { Repository } from "../../src/repository/repository.js";

/**
 * Golden tests of the version-1 byte layouts written down in docs/format.md. The expected
 * values here are the format: if one of them has to change, the format changed (new config
 * version, new fixture), it is not a test to update.
 */

const corrupt = (e: unknown): boolean => isCofferError(e, "CORRUPT");
const ID_A = Buffer.from(Array.from({ length: 32 }, (_, i) => i)); // 00 01 02 … 1f
const ID_B = Buffer.alloc(32, 0xbb);
const hex = (s: string): string => s.replace(/\s+/g, "");
const sha256 = (b: Uint8Array): string => createHash("sha256").update(b).digest("hex");

describe("pack header entries (46 bytes)", () => {
  const entries: BlobEntry[] = [
    { type: "tree", compressed: true, id: ID_A, offset: 0x01020304, length: 0x0a0b0c0d, rawLength: 0xdeadbeef },
    { type: "data", compressed: false, id: ID_B, offset: 0, length: 28, rawLength: 0 },
  ];
  const expected = hex(`
    01 01 000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f 04030201 0d0c0b0a efbeadde
    00 00 bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb 00000000 1c000000 00000000
  `);

  it("encodes type | flags | id | offset | length | raw length, little-endian", () => {
    assert.equal(HEADER_ENTRY, 46);
    assert.equal(encodeHeader(entries).toString("hex"), expected);
  });

  it("decodes the same bytes back", () => {
    assert.deepEqual(decodeHeader(Buffer.from(expected, "hex"), "golden"), entries);
  });

  it("refuses a header of a size that is not a multiple of 46, or an unknown type", () => {
    assert.throws(() => decodeHeader(Buffer.alloc(45), "short"), corrupt);
    const bad = Buffer.from(expected, "hex");
    bad[0] = 2;
    assert.throws(() => decodeHeader(bad, "bad type"), corrupt);
  });
});

describe("packs", () => {
  it("lay out blobs ‖ header ‖ uint32 LE header length, named by SHA-256 (mode none)", () => {
    const b = new PackBuilder();
    b.add("data", ID_A, Buffer.from("hello"), 5, false);
    b.add("data", ID_B, Buffer.from("world!"), 12, true);
    const p = b.finish(new NoneCrypter(), "sha256");
    const expected = hex(`
      68656c6c6f 776f726c6421
      00 00 000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f 00000000 05000000 05000000
      00 01 bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb 05000000 06000000 0c000000
      5c000000
    `);
    assert.equal(p.bytes.toString("hex"), expected);
    assert.equal(p.id, sha256(p.bytes));
    assert.equal(b.count, 0, "the builder is empty after finish");
    const tail = parsePackTail(p.bytes, p.bytes.length, new NoneCrypter(), p.id);
    assert.equal(tail.headerLength, 92);
    assert.deepEqual(tail.entries, p.entries);
  });

  it("seal the header as one AEAD unit when encrypted: 46·n + 28 bytes", () => {
    const c = new AesGcmCrypter(randomBytes(32));
    const b = new PackBuilder();
    const blobs = [Buffer.from("one"), Buffer.from("two, a bit longer")].map((x) => c.seal(x));
    blobs.forEach((s, i) => b.add("tree", i === 0 ? ID_A : ID_B, s, 3, false));
    const p = b.finish(c, "sha256");
    const hlen = p.bytes.readUInt32LE(p.bytes.length - 4);
    assert.equal(hlen, 2 * 46 + 28);
    assert.equal(p.bytes.length, blobs[0]!.length + blobs[1]!.length + hlen + 4);
    const header = c.open(p.bytes.subarray(p.bytes.length - 4 - hlen, p.bytes.length - 4), "header");
    assert.deepEqual(decodeHeader(header, "golden"), p.entries);
    assert.equal(c.open(p.bytes.subarray(p.entries[1]!.offset, p.entries[1]!.offset + p.entries[1]!.length), "blob").toString(), "two, a bit longer");
  });

  it("refuse a header entry that points past the blob area, and a header length past the pack", () => {
    const b = new PackBuilder();
    b.add("data", ID_A, Buffer.from("x"), 1, false);
    const p = b.finish(new NoneCrypter(), "sha256");
    const bad = Buffer.from(p.bytes);
    bad.writeUInt32LE(2, 1 + 38); // length of the one blob: 2 > the 1 byte of blob area
    assert.throws(() => parsePackTail(bad, bad.length, new NoneCrypter(), "bad"), corrupt);
    const long = Buffer.from(p.bytes);
    long.writeUInt32LE(1000, long.length - 4);
    assert.throws(() => parsePackTail(long, long.length, new NoneCrypter(), "long"), corrupt);
  });
});

describe("blob ids and blob encoding", () => {
  it("blobId with hmac-sha256 is HMAC-SHA256(id key, plaintext)", () => {
    // RFC 4231, test case 2.
    assert.equal(blobId({ hash: "hmac-sha256", key: Buffer.from("Jefe") }, Buffer.from("what do ya want for nothing?")).toString("hex"), "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
    const key = randomBytes(32);
    const data = randomBytes(1000);
    assert.deepEqual(blobId({ hash: "hmac-sha256", key }, data), createHmac("sha256", key).update(data).digest());
  });

  it("blobId with blake3 is keyed BLAKE3 (the reference test vectors)", () => {
    // BLAKE3's test_vectors.json: key "whats the Elvish word for friend", input i % 251.
    const key = Buffer.from("whats the Elvish word for friend");
    const input = (n: number): Buffer => Buffer.from(Array.from({ length: n }, (_, i) => i % 251));
    assert.equal(blobId({ hash: "blake3", key }, input(0)).toString("hex"), "92b2b75604ed3c761f9d6f62392c8a9227ad0ea3f09573e783f1498a4ed60d26");
    assert.equal(blobId({ hash: "blake3", key }, input(1)).toString("hex"), "6d7878dfff2f485635d39013278ae14f1454b8c0a3a2d34bc1ab38228a80c95b");
    assert.equal(blobId({ hash: "blake3", key }, input(1024)).toString("hex"), "75c46f6f3d9eb4f55ecaaee480db732e6c2105546f1e675003687c31719c7ba4");
  });

  it("idHasher gives blobId's id however the plaintext is split, for both hashes", () => {
    for (const hash of ["hmac-sha256", "blake3"] as const) {
      const k: IdKey = { hash, key: randomBytes(32) };
      for (const n of [0, 1, 1023, 1025, 70_000, 3_000_001]) {
        const data = randomBytes(n);
        const h = idHasher(k);
        for (let o = 0; o < n; o += 4099) h.update(data.subarray(o, o + 4099));
        if (n === 0) h.update(data);
        assert.deepEqual(h.digest(), blobId(k, data), `${hash}, ${n} bytes`);
      }
      assert.notDeepEqual(blobId(k, Buffer.from("x")), blobId({ hash, key: randomBytes(32) }, Buffer.from("x")), "another key, another id");
      // Hashers are reused: interleaved ones and one-shot ids in between stay independent.
      const [x, y] = [randomBytes(5000), randomBytes(7000)];
      const hx = idHasher(k);
      const hy = idHasher(k);
      hx.update(x.subarray(0, 100));
      hy.update(y.subarray(0, 3000));
      assert.deepEqual(blobId(k, y), blobId(k, Buffer.from(y)));
      hx.update(x.subarray(100));
      hy.update(y.subarray(3000));
      assert.deepEqual(hx.digest(), blobId(k, x));
      assert.deepEqual(hy.digest(), blobId(k, y));
      if (hash === "blake3") assert.throws(() => hx.digest(), /after its digest/);
    }
  });

  it("compresses with zstd unless the result is over 97 % of the plain size, or the blob is under 64 bytes", () => {
    assert.equal(RAW_THRESHOLD, 0.97);
    const c = new NoneCrypter();
    const text = Buffer.from("the quick brown fox jumps over the lazy dog\n".repeat(50));
    const t = encodeBlob(text, c, 3);
    assert.equal(t.compressed, true);
    assert.equal(t.rawLength, text.length);
    assert.deepEqual(zstd.decompress(t.stored), text, "a compressed blob is one standard zstd frame");
    const noise = randomBytes(4096);
    const n = encodeBlob(noise, c, 3);
    assert.equal(n.compressed, false);
    assert.deepEqual(n.stored, noise);
    const small = Buffer.alloc(63, 0x61);
    assert.equal(encodeBlob(small, c, 3).compressed, false, "under 64 bytes: never compressed");
    assert.equal(encodeBlob(Buffer.alloc(64, 0x61), c, 3).compressed, true);
  });

  it("decodeBlob verifies the keyed-hash id and the raw length", () => {
    const crypter = new AesGcmCrypter(randomBytes(32));
    const idKey: IdKey = { hash: "blake3", key: randomBytes(32) };
    const plain = Buffer.from("some content ".repeat(20));
    const enc = encodeBlob(plain, crypter, 3);
    const e = { id: blobId(idKey, plain), type: "data" as const, compressed: enc.compressed, rawLength: plain.length };
    assert.deepEqual(decodeBlob(enc.stored, e, crypter, idKey, "golden"), plain);
    assert.throws(() => decodeBlob(enc.stored, { ...e, id: Buffer.alloc(32) }, crypter, idKey, "golden"), corrupt);
    assert.throws(() => decodeBlob(enc.stored, { ...e, rawLength: plain.length + 1 }, crypter, idKey, "golden"), corrupt);
    assert.throws(() => decodeBlob(enc.stored, e, crypter, { hash: "blake3", key: randomBytes(32) }, "golden"), corrupt, "another id key");
    assert.throws(() => decodeBlob(enc.stored, e, crypter, { hash: "hmac-sha256", key: idKey.key }, "golden"), corrupt, "the same key, the other hash");
  });
});

describe("AEAD framing: nonce 12 ‖ ciphertext ‖ tag 16 (AES-256-GCM)", () => {
  const key = randomBytes(32);
  const c = new AesGcmCrypter(key);
  const plain = Buffer.from("attack at dawn, bring snacks");

  it("is standard AES-256-GCM without associated data, readable by node:crypto directly", () => {
    const sealed = c.seal(plain);
    assert.equal(sealed.length, 12 + plain.length + 16);
    assert.equal(c.overhead, 28);
    const d = createDecipheriv("aes-256-gcm", key, sealed.subarray(0, 12));
    d.setAuthTag(sealed.subarray(sealed.length - 16));
    assert.deepEqual(Buffer.concat([d.update(sealed.subarray(12, sealed.length - 16)), d.final()]), plain);
    assert.notDeepEqual(c.seal(plain).subarray(0, 12), sealed.subarray(0, 12), "a fresh random nonce per seal");
  });

  it("detects a flipped byte in the nonce, the ciphertext or the tag (CORRUPT)", () => {
    const sealed = c.seal(plain);
    for (const at of [0, 11, 12, 12 + plain.length - 1, sealed.length - 16, sealed.length - 1]) {
      const bad = Buffer.from(sealed);
      bad[at] = (bad[at] ?? 0) ^ 0x01;
      assert.throws(() => c.open(bad, "tampered"), corrupt, `flip at ${at}`);
    }
    assert.throws(() => c.open(sealed.subarray(0, 27), "short"), corrupt);
    assert.throws(() => new AesGcmCrypter(randomBytes(32)).open(sealed, "other key"), corrupt);
  });

  it("mode none stores plaintext with no overhead", () => {
    const n = new NoneCrypter();
    assert.equal(n.overhead, 0);
    assert.deepEqual(n.seal(plain), plain);
  });
});

describe("whole files (index, snapshot, lock)", () => {
  const none = new NoneCrypter();
  /** A JSON value whose JSON.stringify is exactly `n` bytes. */
  const ofSize = (n: number): { s: string } => ({ s: "x".repeat(n - 8) });

  it("store JSON as is up to 512 bytes, named by the SHA-256 of the stored bytes", () => {
    const v = ofSize(512);
    const { id, bytes } = encodeJsonFile(v, none);
    assert.equal(bytes.toString(), JSON.stringify(v));
    assert.equal(bytes.length, 512);
    assert.equal(id, sha256(bytes));
    assert.deepEqual(decodeJsonFile(bytes, none, "golden", id), v);
  });

  it("store 0x02 ‖ zstd(JSON) above 512 bytes", () => {
    const v = ofSize(513);
    const { id, bytes } = encodeJsonFile(v, none);
    assert.equal(bytes[0], 0x02);
    assert.equal(zstd.decompress(bytes.subarray(1)).toString(), JSON.stringify(v));
    assert.deepEqual(decodeJsonFile(bytes, none, "golden", id), v);
  });

  it("are read either way whatever their size (the marker decides, not the size)", () => {
    const small = { a: 1 };
    const marked = Buffer.concat([Buffer.of(0x02), zstd.compress(Buffer.from(JSON.stringify(small)))]);
    assert.deepEqual(decodeJsonFile(marked, none, "golden"), small);
    const big = ofSize(2000);
    assert.deepEqual(decodeJsonFile(Buffer.from(JSON.stringify(big)), none, "golden"), big);
  });

  it("are sealed after compression, and checked against their name before opening", () => {
    const c = new AesGcmCrypter(randomBytes(32));
    const v = ofSize(4000);
    const { id, bytes } = encodeJsonFile(v, c);
    assert.equal(id, sha256(bytes));
    assert.equal(c.open(bytes, "golden")[0], 0x02);
    assert.deepEqual(decodeJsonFile(bytes, c, "golden", id), v);
    assert.throws(() => decodeJsonFile(bytes, c, "golden", "0".repeat(64)), corrupt);
    const bad = Buffer.from(bytes);
    bad[20] = (bad[20] ?? 0) ^ 0xff;
    assert.throws(() => decodeJsonFile(bad, c, "golden"), corrupt);
  });
});

describe("index files", () => {
  const entries: BlobEntry[] = [
    { type: "tree", compressed: true, id: ID_A, offset: 0, length: 100, rawLength: 300 },
    { type: "data", compressed: false, id: ID_B, offset: 100, length: 40, rawLength: 12 },
  ];
  const pack = "ab".repeat(32);

  it("have the documented JSON shape", () => {
    const f = buildIndexFile(new Map([[pack, entries]]), ["cd".repeat(32)]);
    assert.deepEqual(JSON.parse(JSON.stringify(f)), {
      version: 1,
      supersedes: ["cd".repeat(32)],
      packs: [
        {
          id: pack,
          blobs: [
            { id: ID_A.toString("hex"), type: "tree", offset: 0, length: 100, raw_length: 300, compressed: true },
            { id: ID_B.toString("hex"), type: "data", offset: 100, length: 40, raw_length: 12, compressed: false },
          ],
        },
      ],
    });
  });

  it("round-trip through a stored file", () => {
    const c = new AesGcmCrypter(randomBytes(32));
    const { id, bytes } = encodeJsonFile(buildIndexFile([[pack, entries]]), c);
    const back = readIndexFile(decodeJsonFile(bytes, c, "index", id), id);
    assert.deepEqual(back, { supersedes: [], packs: [[pack, entries]] });
  });

  it("refuse another index version as unsupported, and malformed entries as corrupt", () => {
    assert.throws(() => readIndexFile({ version: 2, supersedes: [], packs: [] }, "f".repeat(64)), (e: unknown) => isCofferError(e, "UNSUPPORTED"));
    assert.throws(() => readIndexFile({ version: 1, supersedes: [], packs: [{ id: "ab", blobs: [] }] }, "f".repeat(64)), corrupt);
  });
});

describe("MasterIndex", () => {
  const entry = (id: Buffer, offset: number, type: BlobEntry["type"] = "data"): BlobEntry => ({ id, type, offset, length: 10 + offset, rawLength: 20 + offset, compressed: offset % 2 === 1 });

  it("looks blobs up, keeps one entry per (blob, pack), and lists duplicates across packs in order", () => {
    const m = new MasterIndex();
    m.add("p1", entry(ID_A, 1));
    m.add("p2", entry(ID_A, 2));
    m.add("p1", entry(ID_A, 1)); // same blob, same pack: ignored
    m.add("p3", entry(ID_B, 3, "tree"));
    m.add("p3", entry(ID_A, 4));
    assert.equal(m.size, 4);
    assert.equal(m.packCount, 3);
    assert.deepEqual(m.lookup(ID_A), { ...entry(ID_A, 1), pack: "p1" });
    assert.deepEqual(
      m.entriesOf(ID_A).map((e) => [e.pack, e.offset, e.compressed]),
      [
        ["p1", 1, true],
        ["p2", 2, false],
        ["p3", 4, false],
      ],
    );
    assert.deepEqual(m.lookup(ID_B), { ...entry(ID_B, 3, "tree"), pack: "p3" });
    assert.equal(m.blobType(ID_B), "tree");
    assert.equal(m.lookup(Buffer.alloc(32)), undefined);
    assert.deepEqual(m.entriesOf(Buffer.alloc(32)), []);
    assert.equal(m.has(ID_B), true);
  });

  it("grows past its initial capacity to 100k blobs, finding every one, and reports its memory", () => {
    const n = 100_000;
    const ids = randomBytes(32 * n);
    const id = (i: number): Buffer => ids.subarray(32 * i, 32 * i + 32);
    const m = new MasterIndex(1024);
    const first = m.memoryBytes();
    for (let i = 0; i < n; i++) m.add(`pack-${i >> 10}`, { id: id(i), type: i % 7 === 0 ? "tree" : "data", offset: i, length: i + 1, rawLength: i + 2, compressed: i % 3 === 0 });
    assert.equal(m.size, n);
    assert.ok(m.memoryBytes() > first);
    for (let i = 0; i < n; i += 97) {
      const e = m.lookup(id(i));
      assert.ok(e, `blob ${i}`);
      assert.deepEqual([e.pack, e.offset, e.length, e.rawLength, e.type, e.compressed], [`pack-${i >> 10}`, i, i + 1, i + 2, i % 7 === 0 ? "tree" : "data", i % 3 === 0]);
    }
    for (let i = 0; i < n; i++) assert.ok(m.has(id(i)));
    const perBlob = m.memoryBytes() / n;
    console.log(`MasterIndex: ${n} blobs in ${m.memoryBytes()} bytes of typed arrays = ${perBlob.toFixed(1)} bytes/blob (capacity grows by doubling)`);
  });

  it("stays within 64 bytes per blob of typed-array storage: per slot, and for 1 million blobs", () => {
    // Exactly full (1024 · 2^7 blobs): what one slot costs, before the next doubling.
    const full = 1024 * 128;
    const ids = randomBytes(32 * 1_000_000);
    const m = new MasterIndex(1024);
    const add = (from: number, to: number): void => {
      for (let i = from; i < to; i++) m.add("p", { id: ids.subarray(32 * i, 32 * i + 32), type: "data", offset: 0, length: 1, rawLength: 1, compressed: false });
    };
    add(0, full);
    const perSlot = m.memoryBytes() / full;
    add(full, 1_000_000);
    const perBlob = m.memoryBytes() / 1_000_000;
    console.log(`MasterIndex: ${perSlot.toFixed(1)} bytes per slot; 1e6 blobs in ${(m.memoryBytes() / 1e6).toFixed(1)} MB = ${perBlob.toFixed(1)} bytes/blob`);
    assert.ok(perSlot <= 64, `${perSlot} bytes per slot`);
    assert.ok(perBlob <= 64, `${perBlob} bytes per blob at 1e6 blobs`);
  });
});

describe("key files", () => {
  it("wrap the master key: wrong password → undefined, right one → the master key", async () => {
    const master = newMasterKey();
    const k = await createKeyFile(master, "correct horse", TEST_KDF, new Date("2026-01-01T00:00:00Z"));
    assert.equal(k.id, sha256(k.bytes));
    const f = parseKeyFile(k.bytes, k.id);
    assert.deepEqual([f.version, f.kdf, f.N, f.r, f.p, f.created], [1, "scrypt", 1024, 8, 1, "2026-01-01T00:00:00.000Z"]);
    assert.equal(Buffer.from(f.salt, "base64").length, 32);
    assert.equal(Buffer.from(f.data, "base64").length, 12 + 32 + 16);
    assert.equal(await openKeyFile(f, "wrong horse"), undefined);
    assert.deepEqual(await openKeyFile(f, "correct horse"), master);
  });

  it("derive the wrapping key as scrypt(NFC password, salt, 32 bytes, N, r, p) and seal with AES-256-GCM", async () => {
    const master = newMasterKey();
    const password = "cafe\u0301"; // NFD on input; NFC is what is hashed
    const f = (await createKeyFile(master, password, TEST_KDF, new Date())).file;
    const kek = scryptSync(Buffer.from(password.normalize("NFC")), Buffer.from(f.salt, "base64"), 32, { N: f.N, r: f.r, p: f.p });
    const sealed = Buffer.from(f.data, "base64");
    const d = createDecipheriv("aes-256-gcm", kek, sealed.subarray(0, 12));
    d.setAuthTag(sealed.subarray(sealed.length - 16));
    assert.deepEqual(Buffer.concat([d.update(sealed.subarray(12, sealed.length - 16)), d.final()]), master);
    assert.deepEqual(await openKeyFile(f, "caf\u00e9"), master, "the NFC form opens it too");
  });

  it("refuse an unknown key file version or KDF (UNSUPPORTED)", async () => {
    const k = await createKeyFile(newMasterKey(), "pw", TEST_KDF, new Date());
    for (const change of [{ version: 2 }, { kdf: "argon2id" }]) {
      const bytes = Buffer.from(JSON.stringify({ ...k.file, ...change }));
      assert.throws(() => parseKeyFile(bytes, "x".repeat(64)), (e: unknown) => isCofferError(e, "UNSUPPORTED"));
    }
  });
});

describe("config", () => {
  it("has the documented fields", () => {
    const c = newConfig({ encryption: "aes-256-gcm" });
    assert.deepEqual(Object.keys(c).sort(), ["chunker", "compression", "encryption", "id", "id_hash", "id_key", "pack_hash", "pack_size", "version"]);
    assert.equal(c.id_hash, "blake3");
    assert.equal(c.pack_hash, "blake3");
    assert.equal(c.version, 1);
    assert.match(c.id, /^[0-9a-f]{64}$/);
    assert.match(c.chunker.seed, /^[0-9a-f]{16}$/);
    assert.deepEqual({ ...c.chunker, seed: "" }, { min: 524288, avg: 1048576, max: 8388608, seed: "" });
    assert.equal(Buffer.from(c.id_key, "base64").length, 32);
    assert.deepEqual(c.compression, { algorithm: "zstd", level: 3 });
    assert.equal(c.pack_size, 16 * 1024 * 1024);
  });

  it("refuses an unknown version (UNSUPPORTED), from the parser and when opening", async () => {
    const unsupported = (e: unknown): boolean => isCofferError(e, "UNSUPPORTED");
    const v2 = { ...newConfig({ encryption: "none" }), version: 2 };
    assert.throws(() => parseConfig(Buffer.from(JSON.stringify(v2))), unsupported);

    const plain = new MemoryBackend();
    await Repository.init(plain, { encryption: "none" });
    const stored = await plain.load({ type: "config", name: "" });
    assert.equal(stored[0], 0x7b, "mode none: the config is plain JSON");
    assert.equal(JSON.parse(stored.toString()).version, 1);
    await plain.save({ type: "config", name: "" }, Buffer.from(JSON.stringify({ ...JSON.parse(stored.toString()), version: 2 })));
    await assert.rejects(Repository.open(plain), unsupported);

    const enc = new MemoryBackend();
    const repo = await Repository.init(enc, { password: "pw", kdf: TEST_KDF });
    const crypter = new AesGcmCrypter(repo.masterKey() as Buffer);
    const config = JSON.parse(crypter.open(await enc.load({ type: "config", name: "" }), "config").toString());
    assert.equal(config.version, 1, "encrypted: the config is the sealed JSON, with no compression marker");
    await enc.save({ type: "config", name: "" }, crypter.seal(Buffer.from(JSON.stringify({ ...config, version: 2 }))));
    await assert.rejects(Repository.open(enc, { password: "pw" }), unsupported);
  });
});
