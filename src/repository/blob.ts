import { CofferError } from "../core/errors.js";
import type { Crypter } from "../crypto/aead.js";
import { blobId, type IdKey } from "./blob-id.js";
import { compressIfSmaller, decompress } from "./compression.js";

/** The two kinds of blob a pack holds. */
export type BlobType = "data" | "tree";

/** Where a blob lives and how it is stored; the same fields in pack headers and index files. */
export interface BlobEntry {
  id: Buffer;
  type: BlobType;
  offset: number;
  /** Stored (sealed) length. */
  length: number;
  /** Plain length. */
  rawLength: number;
  compressed: boolean;
}


export interface EncodedBlob {
  stored: Buffer;
  compressed: boolean;
  rawLength: number;
}

/** Compress (when worth it; always tried for trees) and seal one blob. */
export function encodeBlob(plain: Uint8Array, crypter: Crypter, level: number): EncodedBlob {
  const c = compressIfSmaller(plain, level);
  return { stored: crypter.seal(c ?? plain), compressed: c !== undefined, rawLength: plain.length };
}

/** Open, decompress and verify one blob against its id. */
export function decodeBlob(stored: Uint8Array, e: Pick<BlobEntry, "id" | "compressed" | "rawLength" | "type">, crypter: Crypter, idKey: IdKey, where: string): Buffer {
  const what = blobWhat(e, where);
  return verifyOpened(crypter.open(stored, what), e, idKey, what);
}

/** How errors name a blob: `data blob 1a2b3c4d in pack 5e6f7a8b`. */
export function blobWhat(e: Pick<BlobEntry, "id" | "type">, where: string): string {
  return `${e.type} blob ${e.id.toString("hex").slice(0, 8)} in ${where}`;
}

/** The plaintext of an opened (decrypted) blob: decompressed when it is, and checked against its id. */
export function verifyOpened(opened: Buffer, e: Pick<BlobEntry, "id" | "compressed" | "rawLength">, idKey: IdKey, what: string): Buffer {
  let plain: Buffer;
  try {
    plain = e.compressed ? decompress(opened) : opened;
  } catch {
    throw new CofferError("CORRUPT", `${what} does not decompress.`, { blob: e.id.toString("hex") });
  }
  if (plain.length !== e.rawLength || !blobId(idKey, plain).equals(e.id)) {
    throw new CofferError("CORRUPT", `${what} does not match its id (hash check failed).`, { blob: e.id.toString("hex") });
  }
  return plain;
}
