import type { ZipEntry } from "./zip-writer.js";
import {
  dosTime,
  FLAG_DESCRIPTOR,
  FLAG_UTF8,
  isUtf8,
  MADE_BY_UNIX,
  MAX16,
  MAX32,
  S_IFDIR,
  S_IFLNK,
  S_IFREG,
  SIG_CENTRAL,
  SIG_DESCRIPTOR,
  SIG_END,
  SIG_END64,
  SIG_LOCAL,
  SIG_LOCATOR64,
  unixOwner,
  unixTime,
  writeU64,
} from "./zip-format.js";

/**
 * The records ZipWriter emits, byte for byte (PKWARE APPNOTE 6.3): an entry's local header,
 * its data descriptor and its central directory record, and the end records of the archive.
 * Unix metadata (mode, mtime, uid/gid) goes where Info-ZIP puts it; see ZipWriter.
 */

/** What the records of one entry say about it. */
export interface ZipHeader {
  entry: ZipEntry;
  name: Buffer;
  method: number;
  flags: number;
  crc: number;
  size: number;
  compressedSize: number;
  zip64: boolean;
}

function generalFlags(h: ZipHeader): number {
  return h.flags | (isUtf8(h.name) && !isAscii(h.name) ? FLAG_UTF8 : 0);
}

function versionNeeded(h: ZipHeader): number {
  return h.zip64 ? 45 : 20;
}

/** The local header: written before the entry's data (CRC and sizes zero when a data descriptor follows). */
export function localHeader(h: ZipHeader): Buffer {
  const { time, date } = dosTime(h.entry.mtimeNs);
  const extra = Buffer.concat([h.zip64 ? zip64Local(h) : Buffer.alloc(0), unixTime(h.entry.mtimeNs), unixOwner(h.entry)]);
  const b = Buffer.alloc(30);
  b.writeUInt32LE(SIG_LOCAL, 0);
  b.writeUInt16LE(versionNeeded(h), 4);
  b.writeUInt16LE(generalFlags(h), 6);
  b.writeUInt16LE(h.method, 8);
  b.writeUInt16LE(time, 10);
  b.writeUInt16LE(date, 12);
  b.writeUInt32LE(h.crc >>> 0, 14);
  b.writeUInt32LE(h.zip64 ? MAX32 : h.compressedSize, 18);
  b.writeUInt32LE(h.zip64 ? MAX32 : h.size, 22);
  b.writeUInt16LE(h.name.length, 26);
  b.writeUInt16LE(extra.length, 28);
  return Buffer.concat([b, h.name, extra]);
}

/** ZIP64 field of a local header: both sizes, which the data descriptor gives when streamed. */
function zip64Local(h: ZipHeader): Buffer {
  const b = Buffer.alloc(20);
  b.writeUInt16LE(0x0001, 0);
  b.writeUInt16LE(16, 2);
  if (!(h.flags & FLAG_DESCRIPTOR)) {
    writeU64(b, 4, h.size);
    writeU64(b, 12, h.compressedSize);
  }
  return b;
}

/** The data descriptor after streamed data: CRC and sizes (8-byte sizes for ZIP64). */
export function descriptor(crc: number, size: number, compressedSize: number, zip64: boolean): Buffer {
  const b = Buffer.alloc(zip64 ? 24 : 16);
  b.writeUInt32LE(SIG_DESCRIPTOR, 0);
  b.writeUInt32LE(crc >>> 0, 4);
  if (zip64) {
    writeU64(b, 8, compressedSize);
    writeU64(b, 16, size);
  } else {
    b.writeUInt32LE(compressedSize, 8);
    b.writeUInt32LE(size, 12);
  }
  return b;
}

/** The central directory record; `force` writes the ZIP64 offset field whatever the offset (tests). */
export function centralRecord(h: ZipHeader, offset: number, force: boolean): Buffer {
  const { time, date } = dosTime(h.entry.mtimeNs);
  const bigSizes = h.zip64 || h.size >= MAX32 || h.compressedSize >= MAX32;
  const bigOffset = force || offset >= MAX32;
  const z: number[] = [];
  if (bigSizes) z.push(h.size, h.compressedSize);
  if (bigOffset) z.push(offset);
  let z64 = Buffer.alloc(0);
  if (z.length > 0) {
    z64 = Buffer.alloc(4 + 8 * z.length);
    z64.writeUInt16LE(0x0001, 0);
    z64.writeUInt16LE(8 * z.length, 2);
    z.forEach((v, i) => writeU64(z64, 4 + 8 * i, v));
  }
  const extra = Buffer.concat([z64, unixTime(h.entry.mtimeNs), unixOwner(h.entry)]);
  const b = Buffer.alloc(46);
  b.writeUInt32LE(SIG_CENTRAL, 0);
  b.writeUInt16LE(MADE_BY_UNIX | (h.zip64 || z.length > 0 ? 45 : 30), 4);
  b.writeUInt16LE(versionNeeded(h), 6);
  b.writeUInt16LE(generalFlags(h), 8);
  b.writeUInt16LE(h.method, 10);
  b.writeUInt16LE(time, 12);
  b.writeUInt16LE(date, 14);
  b.writeUInt32LE(h.crc >>> 0, 16);
  b.writeUInt32LE(bigSizes ? MAX32 : h.compressedSize, 20);
  b.writeUInt32LE(bigSizes ? MAX32 : h.size, 24);
  b.writeUInt16LE(h.name.length, 28);
  b.writeUInt16LE(extra.length, 30);
  b.writeUInt16LE(0, 32); // comment length
  b.writeUInt16LE(0, 34); // disk number start
  b.writeUInt16LE(0, 36); // internal attributes
  b.writeUInt32LE(externalAttributes(h.entry), 38);
  b.writeUInt32LE(bigOffset ? MAX32 : offset, 42);
  return Buffer.concat([b, h.name, extra]);
}

function externalAttributes(e: ZipEntry): number {
  const type = e.type === "dir" ? S_IFDIR : e.type === "symlink" ? S_IFLNK : S_IFREG;
  const dos = e.type === "dir" ? 0x10 : 0;
  return (((type | (e.mode & 0o7777)) << 16) | dos) >>> 0;
}

/** The end of the archive after its central directory: ZIP64 end record and locator when `zip64`, then the end record. `at`: where they start. */
export function endRecords(o: { count: number; cdSize: number; cdOffset: number; at: number; zip64: boolean }): Buffer {
  const { count, cdSize, cdOffset, at, zip64 } = o;
  const tail: Buffer[] = [];
  if (zip64) {
    const r = Buffer.alloc(56);
    r.writeUInt32LE(SIG_END64, 0);
    writeU64(r, 4, 44); // size of the rest of this record
    r.writeUInt16LE(MADE_BY_UNIX | 45, 12);
    r.writeUInt16LE(45, 14);
    r.writeUInt32LE(0, 16); // this disk
    r.writeUInt32LE(0, 20); // disk of the central directory
    writeU64(r, 24, count);
    writeU64(r, 32, count);
    writeU64(r, 40, cdSize);
    writeU64(r, 48, cdOffset);
    const loc = Buffer.alloc(20);
    loc.writeUInt32LE(SIG_LOCATOR64, 0);
    loc.writeUInt32LE(0, 4);
    writeU64(loc, 8, at);
    loc.writeUInt32LE(1, 16);
    tail.push(r, loc);
  }
  const end = Buffer.alloc(22);
  end.writeUInt32LE(SIG_END, 0);
  end.writeUInt16LE(0, 4);
  end.writeUInt16LE(0, 6);
  end.writeUInt16LE(zip64 ? MAX16 : count, 8);
  end.writeUInt16LE(zip64 ? MAX16 : count, 10);
  end.writeUInt32LE(zip64 ? MAX32 : cdSize, 12);
  end.writeUInt32LE(zip64 ? MAX32 : cdOffset, 16);
  end.writeUInt16LE(0, 20); // comment length
  tail.push(end);
  return Buffer.concat(tail);
}

function isAscii(b: Uint8Array): boolean {
  for (const x of b) if (x >= 0x80) return false;
  return true;
}
