import zstd from "zstd-napi";

/**
 * zstd per blob, before encryption. A blob whose compressed form is not clearly smaller
 * (> 97 % of the plain size) is stored raw, so incompressible data costs no decompression.
 */
export const RAW_THRESHOLD = 0.97;

// One compressor per level and thread, its parameters set once: passing parameters on every
// call resets the context each time, which dominated the cost of many small blobs.
const compressors = new Map<number, zstd.Compressor>();

export function compress(plain: Uint8Array, level: number): Buffer {
  let c = compressors.get(level);
  if (!c) {
    c = new zstd.Compressor();
    c.setParameters({ compressionLevel: level });
    compressors.set(level, c);
  }
  return c.compress(plain);
}

// One decompressor per thread too: zstd.decompress resets a shared one's parameters per call.
let decompressor: zstd.Decompressor | undefined;

export function decompress(data: Uint8Array): Buffer {
  return (decompressor ??= new zstd.Decompressor()).decompress(data);
}

/** Compressed bytes when worth it, else undefined. */
export function compressIfSmaller(plain: Uint8Array, level: number): Buffer | undefined {
  if (plain.length < 64) return undefined;
  const c = compress(plain, level);
  return c.length <= plain.length * RAW_THRESHOLD ? c : undefined;
}
