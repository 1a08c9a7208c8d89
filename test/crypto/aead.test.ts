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
