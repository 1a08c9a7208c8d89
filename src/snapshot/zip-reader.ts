import { open, type FileHandle } from "node:fs/promises";
import { createInflateRaw, crc32 } from "node:zlib";
import { CofferError, ioError } from "../core/errors.js";
import { throughTransform } from "./stream-transform.js";
import { decodeName, dosToNs, MAX16, MAX32, SIG_CENTRAL, SIG_DESCRIPTOR, SIG_END, SIG_END64, SIG_LOCAL, SIG_LOCATOR64 } from "./zip-format.js";

/**
 * A ZIP reader for `import` and `verify-archive`, driven by the central directory (as
 * `unzip` is), so it reads any ZIP: coffer's streamed ones, Info-ZIP's, Python's, Windows'.
 * Reads ZIP64 sizes and offsets, Unix modes from the external attributes, extended
 * timestamps ("UT") and Unix owners ("ux"); entries are stored or deflated (other methods
 * and encrypted entries are refused with UNSUPPORTED).
 *
 * Every entry read is checked: its local header against the central directory, its length
 * and its CRC-32. A failure is a CofferError CORRUPT whose message starts with the entry's
 * name and whose data has `path` and `damage`. An archive without an end of central directory
 * record (truncated, or not a ZIP) is walked from its first local header to say which entry
 * is cut short.
 */
export type ZipReadType = "file" | "dir" | "symlink" | "other";

export interface ZipReadEntry {
  /** The name as stored, decoded (UTF-8 when valid, else Latin-1 for display). */
  name: string;
  nameBytes: Buffer;
  type: ZipReadType;
  /** Permission bits, when the archive was made on Unix. */
  mode?: number;
  /** Modification time: the "UT" field when present, else the MS-DOS time read as local time. */
  mtimeNs: bigint;
  /** Whether `mtimeNs` is exact to the second ("UT") rather than a 2-second local time. */
  exactTime: boolean;
  uid?: number;
  gid?: number;
  size: number;
  compressedSize: number;
  crc: number;
  method: number;
  flags: number;
  localOffset: number;
}

const READ_CHUNK = 1 << 20;
const S_IFMT = 0o170000;

export class ZipReader {
  private constructor(
    private readonly fh: FileHandle,
    readonly path: string,
    readonly size: number,
    readonly entries: ZipReadEntry[],
    /** Where the central directory starts: every entry's data must end before it. */
    private readonly cdOffset: number,
  ) {}

  /** Opens a ZIP file and reads its central directory. */
  static async open(path: string): Promise<ZipReader> {
    let fh: FileHandle;
    try {
      fh = await open(path, "r");
    } catch (err) {
      throw ioError(err, `opening ${path}`);
    }
    try {
      const size = (await fh.stat()).size;
      const { entries, cdOffset } = await readCentralDirectory(fh, size, path);
      return new ZipReader(fh, path, size, entries, cdOffset);
    } catch (err) {
      await fh.close().catch(() => undefined);
      throw err;
    }
  }

  find(name: string): ZipReadEntry | undefined {
    return this.entries.find((e) => e.name === name);
  }

  /** The plain bytes of an entry, chunk by chunk, checked against its size and CRC-32. */
  async *read(entry: ZipReadEntry): AsyncGenerator<Buffer> {
    const where = entry.name;
    if (entry.flags & 0x0001) throw new CofferError("UNSUPPORTED", `${where} is encrypted; coffer cannot read encrypted ZIP entries.`, { path: where });
    if (entry.method !== 0 && entry.method !== 8) {
      throw new CofferError("UNSUPPORTED", `${where} is compressed with ZIP method ${entry.method}; coffer reads stored and deflated entries only.`, { path: where });
    }
    const head = await this.#readAt(entry.localOffset, 30);
    if (head.length < 30 || head.readUInt32LE(0) !== SIG_LOCAL) throw damaged(where, "header", "its local header is missing or damaged");
    const nameLen = head.readUInt16LE(26);
    const extraLen = head.readUInt16LE(28);
    const localName = await this.#readAt(entry.localOffset + 30, nameLen);
    if (!localName.equals(entry.nameBytes)) throw damaged(where, "header", "its local header names another file");
    const start = entry.localOffset + 30 + nameLen + extraLen;
    const end = start + entry.compressedSize;
    if (end > this.cdOffset) throw damaged(where, "truncated", "its data runs into the central directory");
    const raw = this.#range(start, end);
    let size = 0;
    let crc = 0;
    try {
      const plain = entry.method === 0 ? raw : throughTransform(raw, createInflateRaw());
      for await (const chunk of plain) {
        size += chunk.length;
        if (size > entry.size) throw damaged(where, "size", `it holds more than the ${entry.size} bytes the central directory says`);
        crc = crc32(chunk, crc);
        yield chunk;
      }
    } catch (err) {
      if (err instanceof CofferError) throw err;
      throw damaged(where, "data", `its compressed data is damaged (${(err as Error).message})`);
    }
    if (size !== entry.size) throw damaged(where, "size", `it holds ${size} bytes, not the ${entry.size} the central directory says`);
    if ((crc >>> 0) !== (entry.crc >>> 0)) throw damaged(where, "crc", "its CRC-32 does not match (the data is damaged)");
  }

  /** A whole entry in memory (small entries: manifests, symlink targets). */
  async readAll(entry: ZipReadEntry, limit = 1 << 30): Promise<Buffer> {
    if (entry.size > limit) throw new CofferError("INVALID", `${entry.name} is larger than ${limit} bytes.`, { path: entry.name });
    const parts: Buffer[] = [];
    for await (const c of this.read(entry)) parts.push(c);
    return Buffer.concat(parts);
  }

  async close(): Promise<void> {
    await this.fh.close();
  }

  async #readAt(pos: number, len: number): Promise<Buffer> {
    return readAt(this.fh, pos, len);
  }

  async *#range(start: number, end: number): AsyncGenerator<Buffer> {
    for (let pos = start; pos < end; ) {
      const n = Math.min(READ_CHUNK, end - pos);
      let b: Buffer;
      try {
        b = await this.#readAt(pos, n);
      } catch (err) {
        throw ioError(err, `reading ${this.path}`);
      }
      if (b.length === 0) return;
      pos += b.length;
      yield b;
    }
  }
}

function damaged(path: string, damage: string, why: string): CofferError {
  return new CofferError("CORRUPT", `${path}: ${why}.`, { path, damage });
}

async function readAt(fh: FileHandle, pos: number, len: number): Promise<Buffer> {
  const b = Buffer.alloc(len);
  let got = 0;
  while (got < len) {
    const { bytesRead } = await fh.read(b, got, len - got, pos + got);
    if (bytesRead === 0) break;
    got += bytesRead;
  }
  return got === len ? b : b.subarray(0, got);
}

async function readCentralDirectory(fh: FileHandle, size: number, path: string): Promise<{ entries: ZipReadEntry[]; cdOffset: number }> {
  const tailLen = Math.min(size, 22 + MAX16);
  const tail = await readAt(fh, size - tailLen, tailLen);
  let endAt = -1;
  for (let i = tail.length - 22; i >= 0; i--) {
    if (tail.readUInt32LE(i) === SIG_END && i + 22 + tail.readUInt16LE(i + 20) === tail.length) {
      endAt = i;
      break;
    }
  }
  if (endAt < 0) throw await missingDirectory(fh, size, path);
  const endPos = size - tailLen + endAt;
  let count = tail.readUInt16LE(endAt + 10);
  let cdSize = tail.readUInt32LE(endAt + 12);
  let cdOffset = tail.readUInt32LE(endAt + 16);
  if (endPos >= 20) {
    const loc = await readAt(fh, endPos - 20, 20);
    if (loc.readUInt32LE(0) === SIG_LOCATOR64) {
      const at = Number(loc.readBigUInt64LE(8));
      const r = await readAt(fh, at, 56);
      if (r.length < 56 || r.readUInt32LE(0) !== SIG_END64) throw new CofferError("CORRUPT", `${path}: its ZIP64 end of central directory record is damaged.`, { damage: "directory" });
      count = Number(r.readBigUInt64LE(32));
      cdSize = Number(r.readBigUInt64LE(40));
      cdOffset = Number(r.readBigUInt64LE(48));
    }
  }
  if (cdOffset + cdSize > endPos) throw await missingDirectory(fh, size, path, "its central directory lies beyond the end of the file");
  const entries: ZipReadEntry[] = [];
  const reader = new SequentialReader(fh, cdOffset, cdOffset + cdSize);
  for (let i = 0; i < count; i++) {
    const h = await reader.take(46);
    if (h.length < 46 || h.readUInt32LE(0) !== SIG_CENTRAL) {
      const after = entries[entries.length - 1]?.name;
      throw new CofferError("CORRUPT", `${path}: its central directory is damaged at entry ${i + 1}${after ? ` (after ${after})` : ""}.`, { damage: "directory", ...(after ? { after } : {}) });
    }
    const nameBytes = Buffer.from(await reader.take(h.readUInt16LE(28)));
    const extra = await reader.take(h.readUInt16LE(30));
    await reader.take(h.readUInt16LE(32)); // comment
    entries.push(centralEntry(h, nameBytes, extra));
  }
  return { entries, cdOffset };
}

function centralEntry(h: Buffer, nameBytes: Buffer, extra: Buffer): ZipReadEntry {
  const madeBy = h.readUInt16LE(4) >> 8;
  const flags = h.readUInt16LE(8);
  const method = h.readUInt16LE(10);
  const dosT = h.readUInt16LE(12);
  const dosD = h.readUInt16LE(14);
  let compressedSize = h.readUInt32LE(20);
  let size = h.readUInt32LE(24);
  const external = h.readUInt32LE(38);
  let localOffset = h.readUInt32LE(42);
  let mtimeNs = dosToNs(dosT, dosD);
  let exactTime = false;
  let uid: number | undefined;
  let gid: number | undefined;
  for (let p = 0; p + 4 <= extra.length; ) {
    const id = extra.readUInt16LE(p);
    const len = extra.readUInt16LE(p + 2);
    const body = extra.subarray(p + 4, p + 4 + len);
    p += 4 + len;
    if (id === 0x0001) {
      let q = 0;
      const next = (): number => {
        const v = q + 8 <= body.length ? Number(body.readBigUInt64LE(q)) : MAX32;
        q += 8;
        return v;
      };
      if (size === MAX32) size = next();
      if (compressedSize === MAX32) compressedSize = next();
      if (localOffset === MAX32) localOffset = next();
    } else if (id === 0x5455 && body.length >= 5 && body[0]! & 1) {
      mtimeNs = BigInt(body.readInt32LE(1)) * 1_000_000_000n;
      exactTime = true;
    } else if (id === 0x7875 && body.length >= 3 && body[0] === 1) {
      const us = body[1]!;
      if (us > 0 && us <= 6 && body.length >= 2 + us + 1) {
        uid = body.readUIntLE(2, us);
        const gs = body[2 + us]!;
        if (gs > 0 && gs <= 6 && body.length >= 3 + us + gs) gid = body.readUIntLE(3 + us, gs);
      }
    }
  }
  const unixMode = madeBy === 3 || madeBy === 19 ? external >>> 16 : 0;
  let type: ZipReadType;
  if (unixMode !== 0) {
    const fmt = unixMode & S_IFMT;
    type = fmt === 0o040000 ? "dir" : fmt === 0o120000 ? "symlink" : fmt === 0o100000 || fmt === 0 ? "file" : "other";
  } else {
    type = nameBytes[nameBytes.length - 1] === 0x2f || external & 0x10 ? "dir" : "file";
  }
  if (type === "file" && nameBytes[nameBytes.length - 1] === 0x2f) type = "dir";
  const name = decodeName(nameBytes);
  const entry: ZipReadEntry = { name, nameBytes, type, mtimeNs, exactTime, size, compressedSize, crc: h.readUInt32LE(16), method, flags, localOffset };
  if (unixMode !== 0) entry.mode = unixMode & 0o7777;
  if (uid !== undefined) entry.uid = uid;
  if (gid !== undefined) entry.gid = gid;
  return entry;
}

/** Reads consecutive bytes of a file range through a buffer. */
class SequentialReader {
  #buf = Buffer.alloc(0);
  #pos: number;
  constructor(
    private readonly fh: FileHandle,
    start: number,
    private readonly end: number,
  ) {
    this.#pos = start;
  }

  async take(n: number): Promise<Buffer> {
    if (this.#buf.length < n) {
      const want = Math.min(Math.max(n - this.#buf.length, READ_CHUNK), this.end - this.#pos);
      if (want > 0) {
        const more = await readAt(this.fh, this.#pos, want);
        this.#pos += more.length;
        this.#buf = Buffer.concat([this.#buf, more]);
      }
    }
    const out = this.#buf.subarray(0, Math.min(n, this.#buf.length));
    this.#buf = this.#buf.subarray(out.length);
    return out;
  }
}

/**
 * The error for an archive without a readable central directory. Walks the local headers
 * from the start to name the entry that is cut short: an entry is whole when its data ends
 * where its header or its data descriptor says (a streamed entry's descriptor is found by
 * its signature and a compressed size that matches its position).
 */
async function missingDirectory(fh: FileHandle, size: number, path: string, why = "it has no end of central directory record"): Promise<CofferError> {
  const first = await readAt(fh, 0, 4);
  if (first.length < 4 || first.readUInt32LE(0) !== SIG_LOCAL) {
    return new CofferError("CORRUPT", `${path} is not a ZIP archive, or is damaged from its start (${why}).`, { damage: "directory" });
  }
  let pos = 0;
  let whole = 0;
  for (;;) {
    const h = await readAt(fh, pos, 30);
    if (h.length >= 4 && (h.readUInt32LE(0) === SIG_CENTRAL || h.readUInt32LE(0) === SIG_END || h.readUInt32LE(0) === SIG_END64)) {
      return new CofferError("CORRUPT", `${path} is truncated or damaged in its central directory (${why}); the data of ${whole === 1 ? "the one entry" : `all ${whole} entries`} before it is whole.`, { damage: "directory", entries: whole });
    }
    if (h.length < 30 || h.readUInt32LE(0) !== SIG_LOCAL) {
      return new CofferError("CORRUPT", `${path} is damaged after its ${whole} first entries (${why}).`, { damage: "directory", entries: whole });
    }
    const flags = h.readUInt16LE(6);
    const nameLen = h.readUInt16LE(26);
    const extraLen = h.readUInt16LE(28);
    const name = decodeName(await readAt(fh, pos + 30, nameLen));
    const extra = await readAt(fh, pos + 30 + nameLen, extraLen);
    const dataStart = pos + 30 + nameLen + extraLen;
    const cut = (): CofferError =>
      new CofferError("CORRUPT", `${name}: the archive ${path} is truncated or damaged inside this entry (${why}); ${whole === 1 ? "the entry" : `the ${whole} entries`} before it ${whole === 1 ? "is" : "are"} whole.`, {
        path: name,
        damage: "truncated",
        entries: whole,
      });
    if (dataStart > size) return cut();
    let next: number | undefined;
    if (flags & 0x0008) {
      next = await findDescriptor(fh, dataStart, size);
    } else {
      let csize = h.readUInt32LE(18);
      if (csize === MAX32) {
        for (let p = 0; p + 4 <= extra.length; p += 4 + extra.readUInt16LE(p + 2)) {
          if (extra.readUInt16LE(p) === 0x0001 && extra.readUInt16LE(p + 2) >= 16) csize = Number(extra.readBigUInt64LE(p + 12));
        }
      }
      next = dataStart + csize <= size ? dataStart + csize : undefined;
    }
    if (next === undefined) return cut();
    whole++;
    pos = next;
  }
}

/** The position just after the data descriptor of a streamed entry whose data starts at `dataStart`. */
async function findDescriptor(fh: FileHandle, dataStart: number, size: number): Promise<number | undefined> {
  const sig = Buffer.alloc(4);
  sig.writeUInt32LE(SIG_DESCRIPTOR, 0);
  for (let pos = dataStart; pos < size; pos += READ_CHUNK) {
    const win = await readAt(fh, pos, Math.min(READ_CHUNK + 24, size - pos));
    for (let i = win.indexOf(sig); i >= 0 && i < READ_CHUNK; i = win.indexOf(sig, i + 1)) {
      const at = pos + i;
      const d = i + 24 <= win.length ? win.subarray(i, i + 24) : await readAt(fh, at, 24);
      const csize = at - dataStart;
      if (d.length >= 16 && d.readUInt32LE(8) === csize) return at + 16;
      if (d.length >= 24 && Number(d.readBigUInt64LE(8)) === csize) return at + 24;
    }
  }
  return undefined;
}
