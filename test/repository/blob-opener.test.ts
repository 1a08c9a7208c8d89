import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { describe, it } from "node:test";
import { AesGcmCrypter, NoneCrypter } from "../../src/crypto/aead.js";
import { decodeBlob, encodeBlob } from "../../src/repository/blob.js";
import { blobId, type IdKey } from "../../src/repository/blob-id.js";
import { BlobOpener } from "../../src/repository/blob-opener.js";

/**
 * BlobOpener (the restore workers' decoder, reusing its buffers) gives what decodeBlob gives:
 * the same plaintext for a sound blob, compressed or not, and the same error for a damaged one.
 */
const idKey: IdKey = { hash: "blake3", key: randomBytes(32) };

function text(n: number): Buffer {
  return Buffer.from("the quick brown fox jumps over the lazy dog\n".repeat(Math.ceil(n / 44))).subarray(0, n);
}

/** decodeBlob's outcome: the plaintext, or the error's code and message. */
function outcome(f: () => Buffer): { plain?: string; error?: string } {
  try {
    return { plain: Buffer.from(f()).toString("hex") };
  } catch (err) {
    return { error: `${(err as { code?: string }).code}: ${(err as Error).message}` };
  }
}

for (const [name, crypter] of [["aes-256-gcm", new AesGcmCrypter(randomBytes(32))], ["none", new NoneCrypter()]] as const) {
  describe(`BlobOpener (${name})`, () => {
    // Small pieces, so a blob is opened in many of them.
    const opener = new BlobOpener(crypter, idKey, 50_000, 1000);
    const cases: [string, Buffer][] = [
      ["compressed", text(40_000)],
      ["raw", randomBytes(40_000)],
      ["empty", Buffer.alloc(0)],
      ["larger than the buffers", randomBytes(60_000)],
      ["compressed, larger than the buffers", text(80_000)],
    ];
    for (const [what, plain] of cases) {
      it(`opens a ${what} blob as decodeBlob does, and sees the same damage`, () => {
        const enc = encodeBlob(plain, crypter, 3);
        const e = { id: blobId(idKey, plain), type: "data" as const, rawLength: plain.length, compressed: enc.compressed };
        if (what.startsWith("compressed")) assert.ok(enc.compressed);
        const got = opener.open(enc.stored, e, "pack x");
        assert.deepEqual(Buffer.from(got), plain);
        const variants: [string, Uint8Array, typeof e][] = [
          ["sound", enc.stored, e],
          ["wrong id", enc.stored, { ...e, id: randomBytes(32) }],
          ["raw length too small", enc.stored, { ...e, rawLength: Math.max(0, plain.length - 1) }],
          ["raw length too large", enc.stored, { ...e, rawLength: plain.length + 1 }],
        ];
        if (enc.stored.length > 0) {
          const flipped = Buffer.from(enc.stored);
          flipped[flipped.length >> 1] = (flipped[flipped.length >> 1] ?? 0) ^ 0x40;
          variants.push(["a flipped byte", flipped, e]);
        }
        for (const [label, stored, entry] of variants) {
          const want = outcome(() => decodeBlob(stored, entry, crypter, idKey, "pack x"));
          assert.deepEqual(outcome(() => opener.open(stored, entry, "pack x")), want, label);
          // Bytes the caller owns are opened in place: a copy here, so the next variant has its own.
          assert.deepEqual(outcome(() => opener.open(Buffer.from(stored), entry, "pack x", true)), want, `${label}, in place`);
        }
        // In place, the plaintext of a raw blob is a view of the caller's bytes (nothing copied).
        const own = Buffer.concat([Buffer.alloc(5), enc.stored]).subarray(5);
        const inPlace = opener.open(own, e, "pack x", true);
        assert.deepEqual(Buffer.from(inPlace), plain);
        if (!enc.compressed && plain.length > 0 && plain.length <= 50_000) assert.equal(inPlace.buffer, own.buffer);
      });
    }
  });
}
