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
  const what = `${e.type} blob ${e.id.toString("hex").slice(0, 8)} in ${where}`;
  const opened = crypter.open(stored, what);
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
