import { createHash, type Hash } from "node:crypto";
import { CofferError } from "../core/errors.js";
import type { Crypter } from "../crypto/aead.js";
import type { BlobEntry, BlobType } from "./blob.js";
import { GrowableBytes } from "./growable-bytes.js";
import { packHasher, packHashHex, type PackHash, type PackHasher } from "./pack-hash.js";
import { uploadCheck, uploadDigest, type UploadCheck, type UploadDigest } from "./upload-digest.js";

/**
 * Pack format: `blob₁ … blobₙ ‖ sealed header ‖ uint32 LE length of the sealed header`.
 * The header holds one 46-byte entry per blob:
 *   type u8 (0 data, 1 tree) | flags u8 (bit 0 compressed) | id 32 | offset u32 | length u32 | raw length u32
 * (all little-endian). A pack's name is the hash of all its bytes, by the config's `pack_hash`
 * (pack-hash.ts).
 */
export const HEADER_ENTRY = 46;
const TYPE_CODE: Record<BlobType, number> = { data: 0, tree: 1 };

export function encodeHeader(entries: readonly BlobEntry[]): Buffer {
  const b = Buffer.alloc(entries.length * HEADER_ENTRY);
  entries.forEach((e, i) => writeHeaderEntry(b, i * HEADER_ENTRY, e));
  return b;
}

/** Writes one header entry at `o`. */
function writeHeaderEntry(b: Buffer, o: number, e: BlobEntry): void {
  b[o] = TYPE_CODE[e.type];
  b[o + 1] = e.compressed ? 1 : 0;
  e.id.copy(b, o + 2);
  b.writeUInt32LE(e.offset, o + 34);
  b.writeUInt32LE(e.length, o + 38);
  b.writeUInt32LE(e.rawLength, o + 42);
}

/** Checks a header's encoding (whole entries of known types) without decoding it. */
export function checkHeader(plain: Uint8Array, what: string): void {
  if (plain.length % HEADER_ENTRY !== 0) throw new CofferError("CORRUPT", `${what} has a header of invalid size.`);
  for (let o = 0; o < plain.length; o += HEADER_ENTRY) {
    const t = plain[o];
    if (t !== 0 && t !== 1) throw new CofferError("CORRUPT", `${what} has a header entry of unknown type.`);
  }
}

export function decodeHeader(plain: Buffer, what: string): BlobEntry[] {
  checkHeader(plain, what);
  const out: BlobEntry[] = [];
  for (let o = 0; o < plain.length; o += HEADER_ENTRY) {
    const t = plain[o];
    out.push({
      type: t === 0 ? "data" : "tree",
      compressed: ((plain[o + 1] ?? 0) & 1) === 1,
      id: Buffer.from(plain.subarray(o + 2, o + 34)),
      offset: plain.readUInt32LE(o + 34),
      length: plain.readUInt32LE(o + 38),
      rawLength: plain.readUInt32LE(o + 42),
    });
  }
  return out;
}

/** Builds one pack in memory. Used on the main thread (trees) and in workers (data). */
export class PackBuilder {
  readonly entries: BlobEntry[] = [];
  #parts: Buffer[] = [];
  #size = 0;

  get size(): number {
    return this.#size;
  }
  get count(): number {
    return this.entries.length;
  }

  add(type: BlobType, id: Buffer, stored: Buffer, rawLength: number, compressed: boolean): void {
    this.entries.push({ type, id, offset: this.#size, length: stored.length, rawLength, compressed });
    this.#parts.push(stored);
    this.#size += stored.length;
  }

  /** The complete pack and its id; the builder is empty afterwards. */
  finish(crypter: Crypter, hash: PackHash): { id: string; bytes: Buffer; entries: BlobEntry[] } {
    const header = crypter.seal(encodeHeader(this.entries));
    const len = Buffer.alloc(4);
    len.writeUInt32LE(header.length);
    const bytes = Buffer.concat([...this.#parts, header, len]);
    const id = packHashHex(hash, bytes);
    const entries = this.entries.splice(0);
    this.#parts = [];
    this.#size = 0;
    return { id, bytes, entries };
  }
}

/**
 * Builds one pack straight into a sink (a file being written), hashing as it goes, so a pack
 * never has to be held in memory. Same layout as PackBuilder.
 */
export class PackStreamWriter {
  /**
   * The header's entries, encoded as they come: a pack of small blobs (the main thread's tree
   * pack) holds thousands, and an object per entry made megabytes of the main heap.
   */
  readonly #header = new GrowableBytes(64 * HEADER_ENTRY);
  readonly #entry = Buffer.alloc(HEADER_ENTRY);
  readonly #hash: PackHasher;
  readonly #upload: { digest: UploadDigest; hash: Hash } | undefined;
  #size = 0;

  /** `opts.upload`: also take that digest of the bytes, for a server to check an upload against (see memoryPack). */
  constructor(
    private readonly sink: (b: Uint8Array) => void,
    hash: PackHash,
    opts: { upload?: UploadDigest } = {},
  ) {
    this.#hash = packHasher(hash);
    this.#upload = opts.upload ? { digest: opts.upload, hash: createHash(opts.upload) } : undefined;
  }

  get size(): number {
    return this.#size;
  }
  get count(): number {
    return this.#header.length / HEADER_ENTRY;
  }

  add(type: BlobType, id: Buffer, stored: Buffer, rawLength: number, compressed: boolean): void {
    this.#addEntry({ type, id, offset: this.#size, length: stored.length, rawLength, compressed });
    this.#write(stored);
  }

  /**
   * Seals `plain` (the blob's bytes, compressed or not) straight into the pack: no sealed
   * copy of the blob is built, which in a backup's workers was up to two buffers of 8 MiB
   * of garbage per blob until the next collection.
   */
  addSealed(type: BlobType, id: Buffer, plain: Uint8Array, crypter: Crypter, rawLength: number, compressed: boolean): void {
    const offset = this.#size;
    const length = crypter.sealTo(plain, (b) => this.#write(b));
    this.#addEntry({ type, id, offset, length, rawLength, compressed });
  }

  #addEntry(e: BlobEntry): void {
    writeHeaderEntry(this.#entry, 0, e);
    this.#header.append(this.#entry);
  }

  #write(b: Uint8Array): void {
    this.sink(b);
    this.#hash.update(b);
    this.#upload?.hash.update(b);
    this.#size += b.length;
  }

  /**
   * Writes the header and returns the pack's id, its size, its header's entries, encoded
   * (decodeHeader reads them), and with `opts.upload` the digest for the upload's check; the
   * writer is spent afterwards.
   */
  finish(crypter: Crypter): { id: string; header: Buffer; size: number; check?: UploadCheck } {
    const header = Buffer.from(this.#header.view());
    const sealed = crypter.seal(header);
    const len = Buffer.alloc(4);
    len.writeUInt32LE(sealed.length);
    this.#write(sealed);
    this.#write(len);
    const id = this.#hash.hex();
    return this.#upload ? { id, header, size: this.#size, check: uploadCheck(this.#upload.digest, this.#upload.hash) } : { id, header, size: this.#size };
  }
}

/**
 * A pack built in memory, in one buffer (GrowableBytes) that the writer seals and appends
 * into: for packs bound for a remote repository. `capacity` should hold a full pack; the
 * buffer grows when it does not. A server checks an upload against the pack's SHA-256 name,
 * or, for a pack named by BLAKE3, against a digest taken here in the same pass over the bytes
 * (`finish` returns it): SHA-256 or MD5, whichever this CPU takes faster (uploadDigest).
 */
export function memoryPack(capacity: number, hash: PackHash, reuse?: ArrayBuffer): { bytes: GrowableBytes; pack: PackStreamWriter } {
  const bytes = new GrowableBytes(capacity, reuse);
  return { bytes, pack: new PackStreamWriter((b) => bytes.append(b), hash, hash === "sha256" ? {} : { upload: uploadDigest() }) };
}

/** Reads the header from a pack's tail (the last `tail` bytes, or the whole pack). */
export function parsePackTail(tail: Buffer, packSize: number, crypter: Crypter, packId: string): { entries: BlobEntry[]; headerLength: number } {
  const what = `pack ${packId.slice(0, 8)}`;
  if (tail.length < 4) throw new CofferError("CORRUPT", `${what} is too short to be a pack.`, { pack: packId });
  const hlen = tail.readUInt32LE(tail.length - 4);
  if (hlen + 4 > packSize || hlen + 4 > tail.length) {
    if (hlen + 4 > packSize) throw new CofferError("CORRUPT", `${what} has an invalid header length.`, { pack: packId });
    return { entries: [], headerLength: hlen }; // caller must read more
  }
  const sealed = tail.subarray(tail.length - 4 - hlen, tail.length - 4);
  const entries = decodeHeader(crypter.open(sealed, `header of ${what}`), what);
  const dataEnd = packSize - 4 - hlen;
  for (const e of entries) {
    if (e.offset + e.length > dataEnd) throw new CofferError("CORRUPT", `${what} has a header entry past its data.`, { pack: packId });
  }
  return { entries, headerLength: hlen };
}
