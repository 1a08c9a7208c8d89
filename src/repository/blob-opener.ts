import zbinding from "zstd-napi/binding.js";
import { CofferError } from "../core/errors.js";
import type { Crypter } from "../crypto/aead.js";
import { type BlobEntry, blobWhat, decodeBlob, verifyOpened } from "./blob.js";
import { blobId, type IdKey } from "./blob-id.js";

/**
 * Opens data blobs as `decodeBlob` does (AES-GCM, zstd, then the length and the keyed id of
 * the plaintext, with the same messages) without allocating anything the size of a blob per
 * blob. Bytes the caller owns (`owned`: a restore worker's range, read or handed to it) are
 * decrypted where they are; otherwise the ciphertext is opened a small piece at a time into a
 * buffer this opener reuses. A compressed blob is decompressed into a second one. The
 * plaintext returned is a view of one of them, valid until the next call. The buffers are
 * allocated once, for the largest blob the chunker makes (replacing large buffers is what
 * fragments the allocator's memory; pages never used are never touched); a larger blob, which
 * only a damaged index can describe, is decoded the plain way. (BlobVerifier, for check, does
 * the same without keeping the plaintext.)
 */
export class BlobOpener {
  readonly #opened: Buffer;
  readonly #plain: Buffer;
  readonly #dctx = new zbinding.DCtx();

  constructor(
    private readonly crypter: Crypter,
    private readonly idKey: IdKey,
    maxPlain: number,
    private readonly piece = 64 * 1024,
  ) {
    this.#opened = Buffer.allocUnsafe(maxPlain);
    this.#plain = Buffer.allocUnsafe(maxPlain);
  }

  /**
   * The plaintext; throws CofferError CORRUPT naming the blob when it does not verify. With
   * `owned`, `stored` is decrypted in place (its ciphertext is lost, also when it fails).
   */
  open(stored: Uint8Array, e: Pick<BlobEntry, "id" | "compressed" | "rawLength" | "type">, where: string, owned = false): Buffer {
    if (stored.length - this.crypter.overhead > this.#opened.length || e.rawLength > this.#plain.length) return decodeBlob(stored, e, this.crypter, this.idKey, where);
    const what = blobWhat(e, where);
    let plain = owned ? this.crypter.openInPlace(stored, what) : undefined;
    if (plain === undefined) {
      let n = 0;
      this.crypter.openPieces(stored, what, this.piece, (p) => {
        n += p.copy(this.#opened, n);
      });
      plain = this.#opened.subarray(0, n);
    }
    if (e.compressed) {
      try {
        plain = this.#plain.subarray(0, this.#dctx.decompress(this.#plain.subarray(0, e.rawLength), plain));
      } catch {
        // Damaged, or more plaintext than the index says: verifyOpened tells which, in decodeBlob's words.
        return verifyOpened(plain, e, this.idKey, what);
      }
    }
    if (plain.length !== e.rawLength || !blobId(this.idKey, plain).equals(e.id)) {
      throw new CofferError("CORRUPT", `${what} does not match its id (hash check failed).`, { blob: e.id.toString("hex") });
    }
    return plain;
  }
}
