import zbinding from "zstd-napi/binding.js";
import { CofferError } from "../core/errors.js";
import type { Crypter } from "../crypto/aead.js";
import { type BlobEntry, decodeBlob } from "./blob.js";
import { blobId, type IdKey } from "./blob-id.js";

/**
 * Opens data blobs as `decodeBlob` does (AES-GCM, zstd, then the length and the keyed HMAC id
 * of the plaintext, with the same messages) into two buffers it reuses, so that nothing the
 * size of a blob is allocated per blob: the ciphertext is opened a small piece at a time into
 * one, and a compressed blob is decompressed into the other. The plaintext returned is a view
 * of them, valid until the next call. Both are allocated once, for the largest blob the
 * chunker makes (replacing large buffers is what fragments the allocator's memory; pages never
 * used are never touched); a larger blob, which only a damaged index can describe, is decoded
 * the plain way. (BlobVerifier, for check, does the same without keeping the plaintext.)
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

  /** The plaintext; throws CofferError CORRUPT naming the blob when it does not verify. */
  open(stored: Uint8Array, e: Pick<BlobEntry, "id" | "compressed" | "rawLength" | "type">, where: string): Buffer {
    if (stored.length - this.crypter.overhead > this.#opened.length || e.rawLength > this.#plain.length) return decodeBlob(stored, e, this.crypter, this.idKey, where);
    const what = `${e.type} blob ${e.id.toString("hex").slice(0, 8)} in ${where}`;
    let n = 0;
    this.crypter.openPieces(stored, what, this.piece, (p) => {
      n += p.copy(this.#opened, n);
    });
    let plain = this.#opened.subarray(0, n);
    if (e.compressed) {
      try {
        plain = this.#plain.subarray(0, this.#dctx.decompress(this.#plain.subarray(0, e.rawLength), plain));
      } catch {
        // Damaged, or more plaintext than the index says: decodeBlob tells which, in its words.
        return decodeBlob(stored, e, this.crypter, this.idKey, where);
      }
    }
    if (plain.length !== e.rawLength || !blobId(this.idKey, plain).equals(e.id)) {
      throw new CofferError("CORRUPT", `${what} does not match its id (hash check failed).`, { blob: e.id.toString("hex") });
    }
    return plain;
  }
}
