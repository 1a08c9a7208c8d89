import { randomBytes } from "node:crypto";
import { CofferError } from "../core/errors.js";

/**
 * The repository config (`config`): parameters fixed at init. Stored sealed with the master
 * key when encrypted; plain JSON in mode `none`. `id_key` keys the HMAC that names blobs;
 * repositories that share it and the chunker seed deduplicate against each other.
 */
export interface RepoConfig {
  version: 1;
  id: string;
  encryption: "aes-256-gcm" | "none";
  compression: { algorithm: "zstd"; level: number };
  chunker: { min: number; avg: number; max: number; seed: string };
  /** base64, 32 bytes. */
  id_key: string;
  pack_size: number;
}

export const FORMAT_VERSION = 1;
export const DEFAULT_PACK_SIZE = 16 * 1024 * 1024;

export function newConfig(opts: { encryption: RepoConfig["encryption"]; packSize?: number; paramsFrom?: RepoConfig }): RepoConfig {
  const from = opts.paramsFrom;
  return {
    version: 1,
    id: randomBytes(32).toString("hex"),
    encryption: opts.encryption,
    compression: { algorithm: "zstd", level: 3 },
    chunker: from ? { ...from.chunker } : { min: 512 * 1024, avg: 1024 * 1024, max: 8 * 1024 * 1024, seed: randomBytes(8).toString("hex") },
    id_key: from ? from.id_key : randomBytes(32).toString("base64"),
    pack_size: opts.packSize ?? from?.pack_size ?? DEFAULT_PACK_SIZE,
  };
}

export function parseConfig(plain: Uint8Array): RepoConfig {
  let c: RepoConfig;
  try {
    c = JSON.parse(Buffer.from(plain).toString("utf8")) as RepoConfig;
  } catch {
    throw new CofferError("CORRUPT", "The repository config is not valid; the repository may be damaged.");
  }
  if (typeof c !== "object" || c === null || typeof c.version !== "number") {
    throw new CofferError("CORRUPT", "The repository config is not valid; the repository may be damaged.");
  }
  if (c.version !== FORMAT_VERSION) {
    throw new CofferError("UNSUPPORTED", `The repository has format version ${c.version}; this coffer reads version ${FORMAT_VERSION}. Upgrade coffer.`);
  }
  return c;
}
