import type { Transform } from "node:stream";
import { createGunzip, createGzip } from "node:zlib";
import zstd from "zstd-napi";
import { CofferError } from "../core/errors.js";

/**
 * The archive formats of `export`, `import` and `verify-archive`, how a format is named by a
 * file name, recognised by its first bytes, and (for tar) compressed.
 */
export type ArchiveFormat = "zip" | "tar" | "tar.gz" | "tar.zst";

export const ARCHIVE_FORMATS: readonly ArchiveFormat[] = ["zip", "tar", "tar.gz", "tar.zst"];

const SUFFIXES: readonly [string, ArchiveFormat][] = [
  [".tar.gz", "tar.gz"],
  [".tgz", "tar.gz"],
  [".tar.zst", "tar.zst"],
  [".tar.zstd", "tar.zst"],
  [".tzst", "tar.zst"],
  [".tar", "tar"],
  [".zip", "zip"],
];

/** The format a file name's extension names, or undefined. */
export function formatFromName(name: string): ArchiveFormat | undefined {
  const lower = name.toLowerCase();
  return SUFFIXES.find(([s]) => lower.endsWith(s))?.[1];
}

/** The file name without its archive extension ("backup.tar.gz" → "backup"). */
export function stripArchiveSuffix(name: string): string {
  const lower = name.toLowerCase();
  const hit = SUFFIXES.find(([s]) => lower.endsWith(s));
  return hit ? name.slice(0, name.length - hit[0].length) : name;
}

/** The format of an archive from its first bytes (at least 512 for a plain tar), or undefined. */
export function detectFormat(head: Uint8Array): ArchiveFormat | undefined {
  const b = Buffer.from(head.buffer, head.byteOffset, head.byteLength);
  if (b.length >= 4 && b[0] === 0x50 && b[1] === 0x4b && (b[2] === 3 || b[2] === 5 || b[2] === 7) && (b[3] === 4 || b[3] === 6 || b[3] === 8)) return "zip";
  if (b.length >= 2 && b[0] === 0x1f && b[1] === 0x8b) return "tar.gz";
  if (b.length >= 4 && b.readUInt32LE(0) === 0xfd2fb528) return "tar.zst";
  if (b.length >= 263 && b.toString("latin1", 257, 262) === "ustar") return "tar";
  if (b.length >= 512 && tarChecksumOk(b)) return "tar";
  return undefined;
}

function tarChecksumOk(b: Buffer): boolean {
  let sum = 0;
  for (let i = 0; i < 512; i++) sum += i >= 148 && i < 156 ? 0x20 : (b[i] as number);
  const stored = Number.parseInt(b.toString("latin1", 148, 156).replace(/[\0 ]/g, ""), 8);
  return stored === sum && sum !== 8 * 0x20;
}

/** A compressing transform for a tar format, or undefined for plain tar. */
export function compressor(format: ArchiveFormat, level?: number): Transform | undefined {
  switch (format) {
    case "tar.gz":
      return createGzip({ level: checkLevel(level ?? 6, 1, 9, "gzip") });
    case "tar.zst":
      return new zstd.CompressStream({ compressionLevel: checkLevel(level ?? 3, 1, 19, "zstd"), checksumFlag: true });
    default:
      return undefined;
  }
}

/** A decompressing transform for a tar format, or undefined for plain tar. */
export function decompressor(format: ArchiveFormat): Transform | undefined {
  switch (format) {
    case "tar.gz":
      return createGunzip();
    case "tar.zst":
      return new zstd.DecompressStream();
    default:
      return undefined;
  }
}

function checkLevel(level: number, min: number, max: number, what: string): number {
  if (!Number.isInteger(level) || level < min || level > max) throw new CofferError("USAGE", `A ${what} compression level is ${min} to ${max}, not ${level}.`);
  return level;
}
