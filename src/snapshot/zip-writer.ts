import { constants, createDeflateRaw, crc32, deflateRawSync } from "node:zlib";
import { CofferError } from "../core/errors.js";
import { throughTransform } from "./stream-transform.js";
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
 * A streaming ZIP writer (PKWARE APPNOTE 6.3), for `export`. Entries are written one after the
 * other and never revisited, so the output may be a pipe: a file's local header carries no
 * CRC or sizes, and a data descriptor after its data gives them (general purpose bit 3). The
 * central directory, kept in memory as encoded records (about 100 bytes per entry plus its
 * name), is written by `finish`.
 *
 * - Files are deflated (method 8) unless `level` is 0 or their first 64 KiB do not compress
 *   (then stored, method 0); empty files, directories and symlinks are stored with their CRC
 *   and sizes in the local header.
 * - ZIP64: a file whose declared size could reach 4 GiB once compressed gets a ZIP64 extra
 *   field in its local header and 8-byte sizes in its data descriptor; the central directory
 *   gets ZIP64 fields for sizes and offsets past 4 GiB, and the archive a ZIP64 end record
 *   when it has 65 535 entries or more, or its central directory lies past 4 GiB.
 * - Unix metadata as Info-ZIP writes and `unzip` restores it: "version made by" Unix, the
 *   mode (with the file type) in the high 16 bits of the external attributes, the
 *   modification time to the second in an extended-timestamp field ("UT", 0x5455) next to
 *   the 2-second local-time MS-DOS time, and uid/gid in a "ux" field (0x7875).
 * - Names are bytes; a name that is valid UTF-8 is flagged so (bit 11). Symlinks are entries
 *   of type S_IFLNK whose content is the link target.
 */
export type ZipEntryType = "file" | "dir" | "symlink";

export interface ZipEntry {
  /** Relative path ("app/a.txt"); a directory's trailing "/" is added when missing. */
  name: string | Uint8Array;
  type: ZipEntryType;
  /** Permission and special bits (0o7777). */
  mode: number;
  /** Nanoseconds since the epoch (the archive keeps whole seconds). */
  mtimeNs: bigint;
  uid?: number;
  gid?: number;
  /** A file's exact size in bytes, known before its body is written (decides ZIP64). */
  size?: number;
  /** A symlink's target. */
  linkname?: string | Uint8Array;
}

export interface ZipWriterOptions {
  /** 0 stores files; 1–9 deflates them (default 6). */
  level?: number;
  /** ZIP64 fields for every entry and a ZIP64 end record (tests; readers of old ZIPs fail). */
  forceZip64?: boolean;
}

/** Where the archive goes. `write` may return a promise to apply backpressure. */
export interface ZipSink {
  write(chunk: Buffer): void | Promise<void>;
}

export interface ZipEntryResult {
  crc: number;
  size: number;
  compressedSize: number;
  zip64: boolean;
}

/** Deflate can grow incompressible data by about 0.008 %; below this a file stays under 4 GiB. */
const DEFLATE_ZIP64_FROM = 0xfff00000;

export class ZipWriter {
  #offset = 0;
  #central: Buffer[] = [];
  #centralBytes = 0;
  #busy = false;
  #finished = false;
  readonly #level: number;
  readonly #force: boolean;

  constructor(
    private readonly sink: ZipSink,
    opts: ZipWriterOptions = {},
  ) {
    this.#level = opts.level ?? 6;
    if (!Number.isInteger(this.#level) || this.#level < 0 || this.#level > 9) throw new CofferError("INVALID", `A ZIP compression level is 0 to 9, not ${opts.level}.`);
    this.#force = opts.forceZip64 ?? false;
  }

  /** Bytes written so far. */
  get bytesWritten(): number {
    return this.#offset;
  }

  get entries(): number {
    return this.#central.length;
  }

  /** Writes one entry; a file's body is its bytes or an iterable of chunks, exactly `size` bytes long. */
  async add(entry: ZipEntry, body?: Uint8Array | AsyncIterable<Uint8Array> | Iterable<Uint8Array>): Promise<ZipEntryResult> {
    if (this.#finished) throw new CofferError("INVALID", "The ZIP archive is already finished; no entry can be added.");
    if (this.#busy) throw new CofferError("INVALID", "A ZIP entry is still being written.");
    this.#busy = true;
    try {
      const name = entryName(entry);
      if (name.length > MAX16) throw new CofferError("INVALID", `The path ${name.toString("utf8", 0, 200)}… is too long for a ZIP archive (over 65 535 bytes).`);
      if (entry.type === "file" && (entry.size ?? 0) > 0) return await this.#streamed(entry, name, body ?? new Uint8Array(0));
      const data = entry.type === "symlink" ? toBytes(entry.linkname ?? "") : entry.type === "file" ? await collect(body) : Buffer.alloc(0);
      if (entry.type === "file" && data.length !== 0) throw new CofferError("INVALID", `The body of ${show(name)} is longer than its size 0.`);
      return await this.#whole(entry, name, data);
    } finally {
      this.#busy = false;
    }
  }

  /** An entry whose bytes are known up front: CRC and sizes in the local header, no descriptor. */
  async #whole(entry: ZipEntry, name: Buffer, data: Buffer): Promise<ZipEntryResult> {
    const crc = data.length > 0 ? crc32(data) : 0;
    const offset = this.#offset;
    const zip64 = this.#force;
    const fields: Header = { entry, name, method: 0, flags: 0, crc, size: data.length, compressedSize: data.length, zip64 };
    await this.#write(localHeader(fields));
    if (data.length > 0) await this.#write(data);
    this.#addCentral(fields, offset);
    return { crc, size: data.length, compressedSize: data.length, zip64 };
  }

  async #streamed(entry: ZipEntry, name: Buffer, body: Uint8Array | AsyncIterable<Uint8Array> | Iterable<Uint8Array>): Promise<ZipEntryResult> {
    const declared = entry.size as number;
    if (!Number.isSafeInteger(declared) || declared < 0) throw new CofferError("INVALID", `A ZIP entry cannot have the size ${declared}.`);
    // The first chunk decides between deflating and storing.
    const { first, chunks } = await peekFirst(body);
    const method = this.#level === 0 || (first !== undefined && incompressible(first)) ? 0 : 8;
    const zip64 = this.#force || declared >= (method === 0 ? MAX32 : DEFLATE_ZIP64_FROM);
    const offset = this.#offset;
    const fields: Header = { entry, name, method, flags: FLAG_DESCRIPTOR, crc: 0, size: 0, compressedSize: 0, zip64 };
    await this.#write(localHeader(fields));
    let crc = 0;
    let size = 0;
    const counted = async function* (): AsyncGenerator<Uint8Array> {
      for await (const chunk of chunks) {
        size += chunk.length;
        if (size > declared) throw new CofferError("INVALID", `The body of ${show(name)} is longer than its size ${declared}.`);
        crc = crc32(chunk, crc);
        yield chunk;
      }
    };
    let compressedSize = 0;
    const out = method === 0 ? counted() : throughTransform(counted(), createDeflateRaw({ level: this.#level, memLevel: 9, strategy: constants.Z_DEFAULT_STRATEGY }));
    for await (const chunk of out) {
      compressedSize += chunk.length;
      await this.#write(Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength));
    }
    if (size !== declared) throw new CofferError("INVALID", `The body of ${show(name)} is ${declared - size} bytes shorter than its size ${declared}.`);
    if (!zip64 && compressedSize >= MAX32) throw new CofferError("INVALID", `${show(name)} compressed to more than 4 GiB without ZIP64.`);
    await this.#write(descriptor(crc, size, compressedSize, zip64));
    const done: Header = { ...fields, crc, size, compressedSize };
    this.#addCentral(done, offset);
    return { crc, size, compressedSize, zip64 };
  }

  #addCentral(h: Header, offset: number): void {
    const rec = centralRecord(h, offset, this.#force);
    this.#central.push(rec);
    this.#centralBytes += rec.length;
  }

  async #write(chunk: Buffer): Promise<void> {
    if (chunk.length === 0) return;
    this.#offset += chunk.length;
    await this.sink.write(chunk);
  }

  /** Writes the central directory and the end records; the sink is not closed. */
  async finish(): Promise<{ bytes: number; entries: number }> {
    if (this.#finished) return { bytes: this.#offset, entries: this.#central.length };
    if (this.#busy) throw new CofferError("INVALID", "A ZIP entry is still being written.");
    this.#finished = true;
    const cdOffset = this.#offset;
    const count = this.#central.length;
    // Batches of records: one write per entry would cost more than the records themselves.
    let batch: Buffer[] = [];
    let batchBytes = 0;
    for (const rec of this.#central) {
      batch.push(rec);
      batchBytes += rec.length;
      if (batchBytes >= 1 << 20) {
        await this.#write(Buffer.concat(batch));
        batch = [];
        batchBytes = 0;
      }
    }
    await this.#write(Buffer.concat(batch));
    this.#central = [];
    const cdSize = this.#centralBytes;
    const zip64 = this.#force || count >= MAX16 || cdSize >= MAX32 || cdOffset >= MAX32;
    const tail: Buffer[] = [];
    if (zip64) {
      const end64At = this.#offset;
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
      writeU64(loc, 8, end64At);
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
    await this.#write(Buffer.concat(tail));
    return { bytes: this.#offset, entries: count };
  }
}

interface Header {
  entry: ZipEntry;
  name: Buffer;
  method: number;
  flags: number;
  crc: number;
  size: number;
  compressedSize: number;
  zip64: boolean;
}

/**
 * Whether a file's first chunk looks incompressible (media, archives, encrypted data): its
 * first 64 KiB do not shrink below 97 % at deflate level 1. Such a file is stored: deflating
 * it would cost time and gain nothing.
 */
function incompressible(first: Uint8Array): boolean {
  const sample = first.subarray(0, 64 * 1024);
  if (sample.length < 4096) return false;
  return deflateRawSync(sample, { level: 1 }).length > sample.length * 0.97;
}

/** The first chunk of a body, and an iterable of all of it (that chunk included). */
async function peekFirst(body: Uint8Array | AsyncIterable<Uint8Array> | Iterable<Uint8Array>): Promise<{ first: Uint8Array | undefined; chunks: AsyncIterable<Uint8Array> }> {
  if (body instanceof Uint8Array) return { first: body, chunks: (async function* () { yield body; })() };
  const it: AsyncIterator<Uint8Array> | Iterator<Uint8Array> = Symbol.asyncIterator in body ? body[Symbol.asyncIterator]() : body[Symbol.iterator]();
  const head = await it.next();
  const chunks = (async function* (): AsyncGenerator<Uint8Array> {
    if (head.done) return;
    yield head.value;
    try {
      for (let r = await it.next(); !r.done; r = await it.next()) yield r.value;
    } finally {
      await it.return?.();
    }
  })();
  return { first: head.done ? undefined : head.value, chunks };
}

function entryName(e: ZipEntry): Buffer {
  let name = toBytes(e.name);
  while (name.length > 0 && name[0] === 0x2f) name = name.subarray(1);
  if (e.type === "dir" && name[name.length - 1] !== 0x2f) name = Buffer.concat([name, Buffer.from("/")]);
  if (name.length === 0) throw new CofferError("INVALID", "A ZIP entry needs a name.");
  return name;
}

function generalFlags(h: Header): number {
  return h.flags | (isUtf8(h.name) && !isAscii(h.name) ? FLAG_UTF8 : 0);
}

function versionNeeded(h: Header): number {
  return h.zip64 ? 45 : 20;
}

function localHeader(h: Header): Buffer {
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
function zip64Local(h: Header): Buffer {
  const b = Buffer.alloc(20);
  b.writeUInt16LE(0x0001, 0);
  b.writeUInt16LE(16, 2);
  if (!(h.flags & FLAG_DESCRIPTOR)) {
    writeU64(b, 4, h.size);
    writeU64(b, 12, h.compressedSize);
  }
  return b;
}

function descriptor(crc: number, size: number, compressedSize: number, zip64: boolean): Buffer {
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

function centralRecord(h: Header, offset: number, force: boolean): Buffer {
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

async function collect(body: Uint8Array | AsyncIterable<Uint8Array> | Iterable<Uint8Array> | undefined): Promise<Buffer> {
  if (body === undefined) return Buffer.alloc(0);
  if (body instanceof Uint8Array) return Buffer.from(body);
  const parts: Uint8Array[] = [];
  for await (const c of body) parts.push(c);
  return Buffer.concat(parts);
}

function toBytes(v: string | Uint8Array): Buffer {
  return typeof v === "string" ? Buffer.from(v, "utf8") : Buffer.from(v.buffer, v.byteOffset, v.byteLength);
}

function isAscii(b: Uint8Array): boolean {
  for (const x of b) if (x >= 0x80) return false;
  return true;
}

function show(name: Buffer): string {
  return name.toString("utf8");
}
