/**
 * What coffer's ZIP writer and reader share (PKWARE APPNOTE 6.3): record signatures, limits
 * that call for ZIP64, and the encodings of times and Unix metadata.
 */
export const SIG_LOCAL = 0x04034b50;
export const SIG_CENTRAL = 0x02014b50;
export const SIG_DESCRIPTOR = 0x08074b50;
export const SIG_END = 0x06054b50;
export const SIG_END64 = 0x06064b50;
export const SIG_LOCATOR64 = 0x07064b50;
/** A 32-bit field holding this value means "see the ZIP64 field". */
export const MAX32 = 0xffffffff;
export const MAX16 = 0xffff;
/** General purpose flags: sizes and CRC follow the data (bit 3); the name is UTF-8 (bit 11). */
export const FLAG_DESCRIPTOR = 0x0008;
export const FLAG_UTF8 = 0x0800;
export const MADE_BY_UNIX = 3 << 8;
export const S_IFREG = 0o100000;
export const S_IFDIR = 0o040000;
export const S_IFLNK = 0o120000;

/** "UT": flags (bit 0: modification time) and the time as a signed 32-bit count of seconds. */
export function unixTime(ns: bigint): Buffer {
  const sec = floorSeconds(ns);
  if (sec < 0n || sec > 0x7fffffffn) return Buffer.alloc(0);
  const b = Buffer.alloc(9);
  b.writeUInt16LE(0x5455, 0);
  b.writeUInt16LE(5, 2);
  b.writeUInt8(1, 4);
  b.writeUInt32LE(Number(sec), 5);
  return b;
}

/** "ux" (Info-ZIP new Unix): version 1, then uid and gid as 4-byte values. */
export function unixOwner(e: { uid?: number | undefined; gid?: number | undefined }): Buffer {
  if (e.uid === undefined && e.gid === undefined) return Buffer.alloc(0);
  const b = Buffer.alloc(15);
  b.writeUInt16LE(0x7875, 0);
  b.writeUInt16LE(11, 2);
  b.writeUInt8(1, 4);
  b.writeUInt8(4, 5);
  b.writeUInt32LE((e.uid ?? 0) >>> 0, 6);
  b.writeUInt8(4, 10);
  b.writeUInt32LE((e.gid ?? 0) >>> 0, 11);
  return b;
}

/** MS-DOS date and time (local time, 2-second steps), clamped to 1980–2107. */
export function dosTime(ns: bigint): { time: number; date: number } {
  const d = new Date(Number(floorSeconds(ns)) * 1000);
  const year = d.getFullYear();
  if (Number.isNaN(year) || year < 1980) return { time: 0, date: (1 << 5) | 1 };
  if (year > 2107) return { time: (23 << 11) | (59 << 5) | 29, date: (127 << 9) | (12 << 5) | 31 };
  return {
    time: (d.getHours() << 11) | (d.getMinutes() << 5) | Math.floor(d.getSeconds() / 2),
    date: ((year - 1980) << 9) | ((d.getMonth() + 1) << 5) | d.getDate(),
  };
}

/** The MS-DOS date and time as nanoseconds, read as local time. */
export function dosToNs(time: number, date: number): bigint {
  const d = new Date(1980 + (date >> 9), ((date >> 5) & 15) - 1, date & 31, time >> 11, (time >> 5) & 63, (time & 31) * 2);
  const ms = d.getTime();
  return Number.isNaN(ms) ? 0n : BigInt(ms) * 1_000_000n;
}

/** Whole seconds (floor) of nanoseconds since the epoch. */
export function floorSeconds(ns: bigint): bigint {
  const q = ns / 1_000_000_000n;
  return ns % 1_000_000_000n !== 0n && ns < 0n ? q - 1n : q;
}

export function writeU64(b: Buffer, at: number, v: number): void {
  b.writeBigUInt64LE(BigInt(v), at);
}

const utf8 = new TextDecoder("utf-8", { fatal: true });
export function isUtf8(b: Uint8Array): boolean {
  try {
    utf8.decode(b);
    return true;
  } catch {
    return false;
  }
}

/** A name as text: UTF-8 when valid, else Latin-1 (readable, lossless as bytes). */
export function decodeName(b: Buffer): string {
  try {
    return utf8.decode(b);
  } catch {
    return b.toString("latin1");
  }
}
