import zbinding from "zstd-napi/binding.js";
import { CofferError } from "../core/errors.js";
import type { Crypter } from "../crypto/aead.js";
import { type BlobEntry, blobWhat, decodeBlob } from "../repository/blob.js";
import { blobId, idHasher, type IdKey } from "../repository/blob-id.js";

/**
 * Verifies data blobs as `decodeBlob` does (AES-GCM, zstd, then the length and the keyed
 * hash id of the plaintext, with the same messages) without allocating anything the size of a
 * blob: the ciphertext is opened a small piece at a time, straight into the id hash (stored raw)
 * or into a reused buffer that is decompressed into another reused buffer. What a blob leaves
 * behind is small pieces, so a worker's memory does not grow with blob sizes. The two buffers
 * are allocated once, for the largest blob the chunker makes, and never replaced (replacing
 * large buffers is what fragments the allocator's memory); a larger blob, which only a damaged
 * index can describe, is decoded the plain way.
 */
export class BlobVerifier {
  readonly #opened: Buffer;
  readonly #plain: Buffer;
  #dctx = new zbinding.DCtx();

  constructor(
    private readonly crypter: Crypter,
    private readonly idKey: IdKey,
    maxPlain: number,
    private readonly piece = 64 * 1024,
  ) {
    this.#opened = Buffer.allocUnsafe(maxPlain + crypter.overhead);
    this.#plain = Buffer.allocUnsafe(maxPlain);
  }

  /** Throws CofferError CORRUPT naming the blob when it does not verify. */
  verify(stored: Uint8Array, e: Pick<BlobEntry, "id" | "compressed" | "rawLength" | "type">, where: string): void {
    if (e.compressed && (stored.length > this.#opened.length || e.rawLength > this.#plain.length)) {
      decodeBlob(stored, e, this.crypter, this.idKey, where);
      return;
    }
    const what = blobWhat(e, where);
    const hasher = e.compressed ? undefined : idHasher(this.idKey);
    let n = 0;
    this.crypter.openPieces(stored, what, this.piece, (p) => {
      if (hasher) hasher.update(p);
      else p.copy(this.#opened, n);
      n += p.length;
    });
    let id: Buffer;
    if (hasher) id = hasher.digest();
    else {
      const opened = this.#opened.subarray(0, n);
      try {
        n = this.#dctx.decompress(this.#plain.subarray(0, e.rawLength), opened);
      } catch {
        // More plaintext than the index says does not fit: a wrong length, not bad data.
        throw contentSize(opened) > e.rawLength ? mismatch(what, e.id) : new CofferError("CORRUPT", `${what} does not decompress.`, { blob: e.id.toString("hex") });
      }
      id = blobId(this.idKey, this.#plain.subarray(0, n));
    }
    if (n !== e.rawLength || !id.equals(e.id)) throw mismatch(what, e.id);
  }
}

function mismatch(what: string, id: Buffer): CofferError {
  return new CofferError("CORRUPT", `${what} does not match its id (hash check failed).`, { blob: id.toString("hex") });
}

/** The plaintext size the zstd frames declare, or -1 when they do not say. */
function contentSize(frames: Uint8Array): number {
  let size = 0;
  try {
    for (let f = frames; f.length > 0; f = f.subarray(zbinding.findFrameCompressedSize(f))) {
      const s = zbinding.getFrameContentSize(f);
      if (s === null) return -1;
      size += s;
    }
  } catch {
    return -1;
  }
  return size;
}
