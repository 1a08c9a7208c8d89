import zstd from "zstd-napi";

/**
 * zstd per blob, before encryption. A blob whose compressed form is not clearly smaller
 * (> 97 % of the plain size) is stored raw, so incompressible data costs no decompression.
 */
export const RAW_THRESHOLD = 0.97;

export function compress(plain: Uint8Array, level: number): Buffer {
  return zstd.compress(plain, { compressionLevel: level });
}

export function decompress(data: Uint8Array): Buffer {
  return zstd.decompress(data);
}

/** Compressed bytes when worth it, else undefined. */
export function compressIfSmaller(plain: Uint8Array, level: number): Buffer | undefined {
  if (plain.length < 64) return undefined;
  const c = compress(plain, level);
  return c.length <= plain.length * RAW_THRESHOLD ? c : undefined;
}
