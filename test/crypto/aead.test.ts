import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { describe, it } from "node:test";
import { loadAddon } from "../../src/core/native-addon.js";
import { AesGcmCrypter } from "../../src/crypto/aead.js";

/** Every piece `openPieces` hands out, copied (they are valid only during the call). */
function opened(c: AesGcmCrypter, sealed: Uint8Array, piece: number): { plain: Buffer; pieces: number } {
  const parts: Buffer[] = [];
  c.openPieces(sealed, "the blob", piece, (p) => parts.push(Buffer.from(p)));
  return { plain: Buffer.concat(parts), pieces: parts.length };
}

describe("AesGcmCrypter.openPieces", () => {
  const key = randomBytes(32);
  const native = new AesGcmCrypter(key);
  const node = new AesGcmCrypter(key, { native: false });

  it("uses the native addon's AES-256-GCM where it is built", () => {
    assert.equal(typeof loadAddon()?.gcmOpenPieces, "function");
  });

  for (const size of [0, 1, 1000, 64 * 1024, 64 * 1024 + 1, 300_001]) {
    it(`opens ${size} bytes sealed by either path into the same plaintext, a piece at a time`, () => {
      const plain = randomBytes(size);
      for (const [sealer, opener] of [
        [node, native],
        [native, node],
        [native, native],
      ] as const) {
        const got = opened(opener, sealer.seal(plain), 64 * 1024);
        assert.deepEqual(got.plain, plain);
        assert.equal(got.pieces, Math.ceil(size / (64 * 1024)));
      }
    });
  }

  it("refuses a flipped byte in the ciphertext, the nonce or the tag, and another key", () => {
    const sealed = native.seal(randomBytes(5000));
    for (const at of [3, 12, 2000, sealed.length - 1]) {
      const bad = Buffer.from(sealed);
      bad[at]! ^= 1;
      assert.throws(() => opened(native, bad, 4096), /the blob failed authentication/);
      assert.throws(() => opened(node, bad, 4096), /the blob failed authentication/);
    }
    assert.throws(() => opened(new AesGcmCrypter(randomBytes(32)), sealed, 4096), /failed authentication/);
    assert.throws(() => opened(native, sealed.subarray(0, 27), 4096), /too short/);
  });

  it("lets an exception from the sink through and stays usable", () => {
    const sealed = native.seal(randomBytes(10_000));
    assert.throws(
      () =>
        native.openPieces(sealed, "the blob", 1000, () => {
          throw new Error("sink failed");
        }),
      /sink failed/,
    );
    assert.equal(opened(native, sealed, 1000).plain.length, 10_000);
  });
});

describe("AesGcmCrypter.sealTo", () => {
  const key = randomBytes(32);
  const native = new AesGcmCrypter(key);
  const node = new AesGcmCrypter(key, { native: false });

  /** The sealed bytes `sealTo` hands out, copied (its parts are valid only during the call). */
  function sealedTo(c: AesGcmCrypter, plain: Uint8Array): { sealed: Buffer; parts: number } {
    const parts: Buffer[] = [];
    const n = c.sealTo(plain, (p) => parts.push(Buffer.from(p)));
    const sealed = Buffer.concat(parts);
    assert.equal(n, sealed.length);
    return { sealed, parts: parts.length };
  }

  it("uses the native addon's AES-256-GCM where it is built", () => {
    assert.equal(typeof loadAddon()?.gcmSealPieces, "function");
  });

  for (const size of [0, 1, 5000, 1024 * 1024, 2.5 * 1024 * 1024]) {
    it(`seals ${size} bytes into what either path opens, nonce, ciphertext in megabyte pieces, then the tag`, () => {
      const plain = randomBytes(size);
      const { sealed, parts } = sealedTo(native, plain);
      assert.equal(sealed.length, size + native.overhead);
      assert.equal(parts, 2 + Math.ceil(size / (1024 * 1024)));
      assert.deepEqual(node.open(sealed, "the blob"), plain);
      assert.deepEqual(native.open(sealed, "the blob"), plain);
      assert.deepEqual(opened(native, sealed, 64 * 1024).plain, plain);
      assert.deepEqual(native.open(sealedTo(node, plain).sealed, "the blob"), plain);
    });
  }

  it("draws a new nonce for every blob, and a changed byte fails to open", () => {
    const plain = randomBytes(3000);
    const a = sealedTo(native, plain).sealed;
    const b = sealedTo(native, plain).sealed;
    assert.notDeepEqual(a.subarray(0, 12), b.subarray(0, 12));
    const bad = Buffer.from(a);
    bad[bad.length - 1]! ^= 1;
    assert.throws(() => node.open(bad, "the blob"), /failed authentication/);
  });
});

describe("AesGcmCrypter.seal and open", () => {
  const key = randomBytes(32);
  const native = new AesGcmCrypter(key);
  const node = new AesGcmCrypter(key, { native: false });

  for (const size of [0, 1, 15, 16, 17, 4096, 100_003]) {
    it(`agree with Node's cipher both ways for ${size} bytes, in place`, () => {
      const plain = randomBytes(size);
      const byNative = native.seal(plain);
      const byNode = node.seal(plain);
      assert.equal(byNative.length, size + native.overhead);
      assert.deepEqual(node.open(byNative, "the blob"), plain);
      assert.deepEqual(native.open(byNode, "the blob"), plain);
      assert.deepEqual(native.open(byNative, "the blob"), plain);
    });
  }

  it("refuses a flipped byte anywhere, another key and short input when opening natively", () => {
    const sealed = native.seal(randomBytes(700));
    for (const at of [0, 11, 12, 300, sealed.length - 16, sealed.length - 1]) {
      const bad = Buffer.from(sealed);
      bad[at]! ^= 0x80;
      assert.throws(() => native.open(bad, "tree 1a2b"), /tree 1a2b failed authentication/);
    }
    assert.throws(() => new AesGcmCrypter(randomBytes(32)).open(sealed, "the blob"), /failed authentication/);
    assert.throws(() => native.open(sealed.subarray(0, 20), "the blob"), /too short/);
  });

  it("opens in place, into the sealed bytes' own buffer, what Node's cipher sealed; refuses damage there too", () => {
    for (const size of [1, 16, 4097, 100_003]) {
      const plain = randomBytes(size);
      const sealed = Buffer.concat([Buffer.from("head"), node.seal(plain)]).subarray(4);
      const got = native.openInPlace(sealed, "the blob");
      assert.deepEqual(got, plain);
      assert.equal(got?.buffer, sealed.buffer);
      assert.equal(got?.byteOffset, sealed.byteOffset + 12);
    }
    const sealed = native.seal(randomBytes(300));
    sealed[100]! ^= 1;
    assert.throws(() => native.openInPlace(sealed, "data 1a2b"), /data 1a2b failed authentication/);
    assert.throws(() => native.openInPlace(sealed.subarray(0, 27), "the blob"), /too short/);
    // Nothing to decrypt, and without the addon: the caller opens the usual way.
    assert.equal(native.openInPlace(native.seal(Buffer.alloc(0)), "the blob"), undefined);
    assert.equal(node.openInPlace(native.seal(randomBytes(10)), "the blob"), undefined);
  });

  it("the addon refuses a scratch too small for the whole when no sink is given", () => {
    const addon = loadAddon()!;
    const sealed = native.seal(randomBytes(100));
    const open = addon.gcmOpenPieces as (k: Uint8Array, s: Uint8Array, scratch: Uint8Array, sink?: unknown) => boolean;
    assert.throws(() => open(key, sealed, Buffer.alloc(50)), /scratch must hold the whole/);
    const whole = Buffer.alloc(100);
    assert.equal(open(key, sealed, whole), true);
  });
});
