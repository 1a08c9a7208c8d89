import { createHash } from "node:crypto";
import { CofferError } from "../core/errors.js";

const LABEL = "coffer-gear";
const U64 = (1n << 64n) - 1n;

/**
 * 256 pseudo-random 32-bit values derived deterministically from a 64-bit seed.
 *
 * Derivation (part of the repository format; do not change):
 *   for counter c = 0 .. 31:
 *     d_c = SHA-256( ASCII "coffer-gear" ‖ seed as 8 bytes big-endian ‖ c as 4 bytes big-endian )
 *     table[8c + j] = bytes 4j .. 4j+3 of d_c read as an unsigned 32-bit big-endian integer (j = 0 .. 7)
 *
 * `seed` must be an integer in [0, 2^64).
 */
export function gearTable(seed: bigint): Uint32Array {
  if (typeof seed !== "bigint" || seed < 0n || seed > U64) {
    throw new CofferError("INVALID", `Chunker seed must be an unsigned 64-bit integer (bigint), got ${String(seed)}.`);
  }
  const prefix = Buffer.alloc(LABEL.length + 8);
  prefix.write(LABEL, 0, "ascii");
  prefix.writeBigUInt64BE(seed, LABEL.length);
  const counter = Buffer.alloc(4);
  const table = new Uint32Array(256);
  for (let c = 0; c < 32; c++) {
    counter.writeUInt32BE(c, 0);
    const d = createHash("sha256").update(prefix).update(counter).digest();
    for (let j = 0; j < 8; j++) table[8 * c + j] = d.readUInt32BE(4 * j);
  }
  return table;
}
