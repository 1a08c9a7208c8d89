import { randomBytes } from "node:crypto";
import { CofferError } from "../core/errors.js";
import { defaultIdHash, ID_HASHES, type IdHash } from "./blob-id.js";
import { defaultPackHash, PACK_HASHES, type PackHash } from "./pack-hash.js";

/**
 * The repository config (`config`): parameters fixed at init. Stored sealed with the master
 * key when encrypted; plain JSON in mode `none`. `id_key` keys the hash that names blobs
 * (`id_hash`); repositories that share both and the chunker parameters deduplicate against
 * each other.
 */
export interface RepoConfig {
  version: 1;
  id: string;
  encryption: "aes-256-gcm" | "none";
  compression: { algorithm: "zstd"; level: number };
  chunker: { min: number; avg: number; max: number; seed: string };
  /** base64, 32 bytes. */
  id_key: string;
  /** The keyed hash that names blobs; absent (repositories made before it) means `hmac-sha256`. */
  id_hash?: IdHash;
  /** The hash that names pack files; absent (repositories made before it) means `sha256`. */
  pack_hash?: PackHash;
  pack_size: number;
}

export const FORMAT_VERSION = 1;
export const DEFAULT_PACK_SIZE = 16 * 1024 * 1024;

export function newConfig(opts: { encryption: RepoConfig["encryption"]; packSize?: number; paramsFrom?: RepoConfig; packHash?: PackHash }): RepoConfig {
  const from = opts.paramsFrom;
  return {
    version: 1,
    id: randomBytes(32).toString("hex"),
    encryption: opts.encryption,
    compression: { algorithm: "zstd", level: 3 },
    chunker: from ? { ...from.chunker } : { min: 512 * 1024, avg: 1024 * 1024, max: 8 * 1024 * 1024, seed: randomBytes(8).toString("hex") },
    id_key: from ? from.id_key : randomBytes(32).toString("base64"),
    id_hash: from ? idHashOf(from) : defaultIdHash(),
    pack_hash: opts.packHash ?? defaultPackHash(),
    pack_size: opts.packSize ?? from?.pack_size ?? DEFAULT_PACK_SIZE,
  };
}

/** The config's blob id hash, with the default of repositories that predate the field. */
export function idHashOf(c: Pick<RepoConfig, "id_hash">): IdHash {
  return c.id_hash ?? "hmac-sha256";
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
  if (c.id_hash !== undefined && !ID_HASHES.includes(c.id_hash)) {
    throw new CofferError("UNSUPPORTED", `The repository names its blobs with ${JSON.stringify(c.id_hash)}, which this coffer does not know (it knows ${ID_HASHES.join(", ")}). Upgrade coffer.`);
  }
  if (c.pack_hash !== undefined && !PACK_HASHES.includes(c.pack_hash)) {
    throw new CofferError("UNSUPPORTED", `The repository names its packs with ${JSON.stringify(c.pack_hash)}, which this coffer does not know (it knows ${PACK_HASHES.join(", ")}). Upgrade coffer.`);
  }
  const k = c.chunker;
  const pow2 = (n: number): boolean => Number.isInteger(n) && n > 0 && (n & (n - 1)) === 0;
  const valid =
    /^[0-9a-f]{64}$/.test(c.id) &&
    (c.encryption === "aes-256-gcm" || c.encryption === "none") &&
    c.compression?.algorithm === "zstd" &&
    Number.isInteger(c.compression.level) &&
    k !== undefined &&
    Number.isInteger(k.min) &&
    pow2(k.avg) &&
    Number.isInteger(k.max) &&
    k.min > 0 &&
    k.min < k.avg &&
    k.avg < k.max &&
    /^[0-9a-f]{16}$/.test(k.seed) &&
    Buffer.from(c.id_key ?? "", "base64").length === 32 &&
    Number.isInteger(c.pack_size) &&
    c.pack_size >= 512 &&
    c.pack_size <= 1024 * 1024 * 1024;
  if (!valid) throw new CofferError("CORRUPT", "The repository config has invalid parameters; the repository may be damaged.");
  return c;
}
