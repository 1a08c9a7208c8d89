import { createHash } from "node:crypto";
import { jsBlake3, nativeBlake3 } from "./blob-id.js";

/**
 * The hash that names pack files (`data/<2 hex>/<id>`): the config's `pack_hash`.
 *
 * `sha256` (what repositories made before the field use) lets `sha256sum` check a pack; it runs
 * at about 260 MB/s on CPUs without SHA extensions, a tenth of a backup's CPU time. `blake3`
 * (plain, unkeyed BLAKE3, the default for new repositories where the native build loads) runs
 * at several GB/s, and `b3sum` checks a pack. Index, snapshot and key files stay named by
 * SHA-256 in every repository: they are small. See docs/format.md.
 */
export type PackHash = "sha256" | "blake3";

export const PACK_HASHES: readonly PackHash[] = ["sha256", "blake3"];

/** An incremental pack hash: `update` with the pack's bytes in order, then `hex` once. */
export interface PackHasher {
  update(piece: Uint8Array): void;
  hex(): string;
}

export function packHasher(kind: PackHash): PackHasher {
  if (kind === "sha256") {
    const h = createHash("sha256");
    return { update: (p) => void h.update(p), hex: () => h.digest("hex") };
  }
  const n = nativeBlake3();
  if (n) {
    const h = new n.Blake3Hasher();
    return { update: (p) => void h.update(p), hex: () => h.digestBuffer().toString("hex") };
  }
  const h = jsBlake3().create({});
  return { update: (p) => void h.update(p), hex: () => Buffer.from(h.digest()).toString("hex") };
}

/** The name of a pack whose bytes are all here. */
export function packHashHex(kind: PackHash, bytes: Uint8Array): string {
  const h = packHasher(kind);
  h.update(bytes);
  return h.hex();
}

/** The pack hash new repositories use: BLAKE3 where its native build loads, SHA-256 elsewhere. */
export function defaultPackHash(): PackHash {
  return nativeBlake3() ? "blake3" : "sha256";
}

/** The config's pack hash, with the default of repositories that predate the field. */
export function packHashOf(c: { pack_hash?: PackHash }): PackHash {
  return c.pack_hash ?? "sha256";
}
