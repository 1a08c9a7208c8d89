import { createHash } from "node:crypto";
import { CofferError } from "../core/errors.js";
import type { Crypter } from "../crypto/aead.js";
import { compress, decompress } from "./compression.js";

/**
 * Whole files (index, snapshot, lock) are JSON, zstd-compressed when larger than a few hundred
 * bytes (marked by a leading 0x02 byte, which JSON never starts with), then sealed.
 * Their name is the SHA-256 of the stored bytes, checked on every read.
 */
const ZSTD_MARK = 0x02;

export function encodeJsonFile(value: unknown, crypter: Crypter): { id: string; bytes: Buffer } {
  return encodeJsonText(JSON.stringify(value), crypter);
}

/** encodeJsonFile for a value already written as JSON text. */
export function encodeJsonText(text: string, crypter: Crypter): { id: string; bytes: Buffer } {
  const json = Buffer.from(text);
  const plain = json.length > 512 ? Buffer.concat([Buffer.of(ZSTD_MARK), compress(json, 3)]) : json;
  const bytes = crypter.seal(plain);
  return { id: sha256Hex(bytes), bytes };
}

export function decodeJsonFile(bytes: Uint8Array, crypter: Crypter, what: string, expectId?: string): unknown {
  if (expectId !== undefined && sha256Hex(bytes) !== expectId) {
    throw new CofferError("CORRUPT", `${what} does not match its name (hash check failed).`, { what });
  }
  const plain = crypter.open(bytes, what);
  let json: Buffer = plain;
  if (plain[0] === ZSTD_MARK) {
    try {
      json = decompress(plain.subarray(1));
    } catch {
      throw new CofferError("CORRUPT", `${what} does not decompress.`, { what });
    }
  }
  try {
    return JSON.parse(json.toString("utf8"));
  } catch {
    throw new CofferError("CORRUPT", `${what} is not valid JSON.`, { what });
  }
}

export function sha256Hex(b: Uint8Array): string {
  return createHash("sha256").update(b).digest("hex");
}
