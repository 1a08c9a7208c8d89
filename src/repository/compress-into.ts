import zbinding from "zstd-napi/binding.js";
import { RAW_THRESHOLD } from "./compression.js";

// One context per level and thread, its level set once (see compression.ts).
const contexts = new Map<number, zbinding.CCtx>();

/**
 * compressIfSmaller without allocating: compresses `plain` into `out` (a caller's reusable
 * buffer) and returns the compressed view of it, or undefined when the data is not worth
 * storing compressed. The output must fit in RAW_THRESHOLD of the input, so data that does
 * not compress stops with zstd's "destination too small" instead of yielding a copy to drop.
 * The view is overwritten by the next call with the same `out`.
 */
export function compressInto(plain: Uint8Array, level: number, out: Buffer): Buffer | undefined {
  if (plain.length < 64) return undefined;
  let c = contexts.get(level);
  if (!c) {
    c = new zbinding.CCtx();
    c.setParameter(zbinding.CParameter.compressionLevel, level);
    contexts.set(level, c);
  }
  const room = Math.min(out.length, Math.floor(plain.length * RAW_THRESHOLD));
  try {
    return out.subarray(0, c.compress2(out.subarray(0, room), plain));
  } catch {
    return undefined; // did not fit: not worth it
  }
}
