import { createHash, randomBytes } from "node:crypto";
import { hostname, userInfo } from "node:os";
import { CofferError } from "../core/errors.js";
import { AesGcmCrypter } from "./aead.js";
import { deriveKey, type KdfParams } from "./kdf.js";

/**
 * A key file (`keys/<id>`, plain JSON): scrypt parameters and salt, and the master key sealed
 * with the key derived from a password. Several key files may wrap the same master key.
 */
export interface KeyFile {
  version: 1;
  created: string;
  hostname: string;
  username: string;
  kdf: "scrypt";
  N: number;
  r: number;
  p: number;
  salt: string;
  /** base64 of AES-256-GCM(derived key, master key). */
  data: string;
}

export function newMasterKey(): Buffer {
  return randomBytes(32);
}

export async function createKeyFile(masterKey: Uint8Array, password: string, params: KdfParams, now: Date): Promise<{ id: string; bytes: Buffer; file: KeyFile }> {
  const salt = randomBytes(32);
  const kek = await deriveKey(password, salt, params);
  const file: KeyFile = {
    version: 1,
    created: now.toISOString(),
    hostname: hostname(),
    username: safeUser(),
    kdf: "scrypt",
    N: params.N,
    r: params.r,
    p: params.p,
    salt: salt.toString("base64"),
    data: new AesGcmCrypter(kek).seal(masterKey).toString("base64"),
  };
  const bytes = Buffer.from(JSON.stringify(file, null, 2) + "\n");
  return { id: createHash("sha256").update(bytes).digest("hex"), bytes, file };
}

export function parseKeyFile(bytes: Uint8Array, id: string): KeyFile {
  let f: KeyFile;
  try {
    f = JSON.parse(Buffer.from(bytes).toString("utf8")) as KeyFile;
  } catch {
    throw new CofferError("CORRUPT", `Key file ${id.slice(0, 8)} is not valid JSON.`, { id });
  }
  if (f.version !== 1 || f.kdf !== "scrypt") {
    throw new CofferError("UNSUPPORTED", `Key file ${id.slice(0, 8)} has a format this version of coffer does not know.`, { id });
  }
  return f;
}

/** The master key, or undefined when the password does not open this key file. */
export async function openKeyFile(f: KeyFile, password: string): Promise<Buffer | undefined> {
  const kek = await deriveKey(password, Buffer.from(f.salt, "base64"), { N: f.N, r: f.r, p: f.p });
  try {
    return new AesGcmCrypter(kek).open(Buffer.from(f.data, "base64"), "key");
  } catch {
    return undefined;
  }
}

function safeUser(): string {
  try {
    return userInfo().username;
  } catch {
    return "";
  }
}
