import { constants, createDeflateRaw, crc32, deflateRawSync } from "node:zlib";
import { CofferError } from "../core/errors.js";
import { throughTransform } from "./stream-transform.js";
import { FLAG_DESCRIPTOR, MAX16, MAX32 } from "./zip-format.js";
import { centralRecord, descriptor, endRecords, localHeader, type ZipHeader } from "./zip-records.js";

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
    const fields: ZipHeader = { entry, name, method: 0, flags: 0, crc, size: data.length, compressedSize: data.length, zip64 };
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
    const fields: ZipHeader = { entry, name, method, flags: FLAG_DESCRIPTOR, crc: 0, size: 0, compressedSize: 0, zip64 };
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
    const done: ZipHeader = { ...fields, crc, size, compressedSize };
    this.#addCentral(done, offset);
    return { crc, size, compressedSize, zip64 };
  }

  #addCentral(h: ZipHeader, offset: number): void {
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
    await this.#write(endRecords({ count, cdSize, cdOffset, at: this.#offset, zip64 }));
    return { bytes: this.#offset, entries: count };
  }
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

function show(name: Buffer): string {
  return name.toString("utf8");
}
