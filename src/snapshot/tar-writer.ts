import { CofferError } from "../core/errors.js";

/**
 * A minimal streaming tar writer (POSIX.1-2001 "pax": ustar headers, plus a pax extended
 * header where ustar cannot hold a value), for `dump` and for tar exports.
 *
 * ustar alone is used when everything fits: a path of at most 100 bytes (or a prefix of up to
 * 155 and a name of up to 100 bytes split at a "/"), a link target of at most 100 bytes,
 * sizes below 8 GiB, ids below 2 097 152, whole-second times from 1970 to 2242, and names
 * of at most 32 bytes. Anything else gets a pax record (`path`, `linkpath`, `size`, `uid`,
 * `gid`, `uname`, `gname`, `mtime`/`atime`/`ctime` with nanoseconds, `SCHILY.xattr.*`), and
 * the ustar field holds a truncated or zero value that readers ignore. Paths and link targets
 * that are not valid UTF-8 are written with `hdrcharset=BINARY`, as GNU tar and bsdtar do.
 *
 * Times are nanoseconds since the epoch (bigint). Entry bodies are streamed: the size is
 * given first, and the writer checks that exactly that many bytes follow.
 */
export type TarEntryType = "file" | "hardlink" | "symlink" | "chardev" | "blockdev" | "dir" | "fifo";

export interface TarEntry {
  /** Path inside the archive, relative ("srv/data/a.txt"); a directory may end in "/". Bytes allowed. */
  path: string | Uint8Array;
  type: TarEntryType;
  /** Permission and special bits (0o7777). */
  mode: number;
  uid?: number;
  gid?: number;
  uname?: string;
  gname?: string;
  /** Bytes of the body; files only (0 for everything else). */
  size?: number;
  /** Nanoseconds since the epoch. */
  mtimeNs: bigint;
  atimeNs?: bigint;
  ctimeNs?: bigint;
  /** Symlink target, or the path of the entry a hard link points to. */
  linkname?: string | Uint8Array;
  devmajor?: number;
  devminor?: number;
  /** Extended attributes, name → value (raw bytes), as `SCHILY.xattr.<name>`. */
  xattrs?: ReadonlyArray<{ name: string; value: Uint8Array }>;
}

/** Where the archive goes. `write` may return a promise to apply backpressure. */
export interface TarSink {
  write(chunk: Buffer): void | Promise<void>;
}

/** A sink over a Node stream that waits for "drain" when the stream's buffer is full. */
export function streamSink(stream: NodeJS.WritableStream): TarSink {
  return {
    write(chunk) {
      if (stream.write(chunk)) return;
      return new Promise<void>((resolve, reject) => {
        const done = (err?: unknown): void => {
          stream.off("drain", done);
          stream.off("error", done);
          if (err) reject(err);
          else resolve();
        };
        stream.on("drain", done);
        stream.on("error", done);
      });
    },
  };
}

const BLOCK = 512;
const TYPEFLAG: Record<TarEntryType, string> = { file: "0", hardlink: "1", symlink: "2", chardev: "3", blockdev: "4", dir: "5", fifo: "6" };
const MAX_OCTAL_11 = 0o77777777777;
const MAX_OCTAL_7 = 0o7777777;
const NS = 1_000_000_000n;

export class TarWriter {
  /** Body bytes the current entry still needs. */
  #pending = 0;
  /** The current entry's size, for the padding after its body. */
  #size = 0;
  #finished = false;
  #seq = 0;

  constructor(private readonly sink: TarSink) {}

  /**
   * Writes one entry. A file's body is given here (bytes or an iterable of chunks) or written
   * afterwards with `write` until `size` bytes have gone; other entries have no body.
   */
  async add(entry: TarEntry, body?: Uint8Array | AsyncIterable<Uint8Array> | Iterable<Uint8Array>): Promise<void> {
    if (this.#finished) throw new CofferError("INVALID", "The tar archive is already finished; no entry can be added.");
    if (this.#pending > 0) throw new CofferError("INVALID", `The previous tar entry is ${this.#pending} bytes short of its size.`);
    const size = entry.type === "file" ? (entry.size ?? 0) : 0;
    if (!Number.isSafeInteger(size) || size < 0) throw new CofferError("INVALID", `A tar entry cannot have the size ${size}.`);
    await this.sink.write(encodeHeader(entry, size, this.#seq++));
    this.#pending = size;
    this.#size = size;
    if (body === undefined) return;
    if (body instanceof Uint8Array) await this.write(body);
    else for await (const chunk of body) await this.write(chunk);
    if (this.#pending > 0) throw new CofferError("INVALID", `The body of ${showPath(entry.path)} is ${this.#pending} bytes shorter than its size ${size}.`);
  }

  /** Part of the current entry's body. */
  async write(chunk: Uint8Array): Promise<void> {
    if (chunk.length === 0) return;
    if (chunk.length > this.#pending) throw new CofferError("INVALID", `A tar entry's body is longer than its size (${chunk.length - this.#pending} bytes too many).`);
    this.#pending -= chunk.length;
    await this.sink.write(Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength));
    if (this.#pending === 0) {
      const pad = padding(this.#size);
      if (pad > 0) await this.sink.write(Buffer.alloc(pad));
    }
  }

  /** Ends the archive with two zero blocks; the sink is not closed. */
  async finish(): Promise<void> {
    if (this.#finished) return;
    if (this.#pending > 0) throw new CofferError("INVALID", `The last tar entry is ${this.#pending} bytes short of its size.`);
    this.#finished = true;
    await this.sink.write(Buffer.alloc(2 * BLOCK));
  }
}

/**
 * The header block(s) of one entry: a pax extended header when needed, then the ustar
 * header. Exported for writers that frame bodies themselves; `TarWriter` is the usual way.
 */
export function encodeHeader(entry: TarEntry, size: number, seq = 0): Buffer {
  const pax: [string, Buffer][] = [];
  let binary = false;
  const path = toBytes(entry.path);
  const fullPath = entry.type === "dir" && path[path.length - 1] !== 0x2f ? Buffer.concat([path, Buffer.from("/")]) : path;
  const split = splitUstarPath(fullPath);
  if (split === undefined) {
    pax.push(["path", fullPath]);
    if (!isUtf8(fullPath)) binary = true;
  }
  const link = entry.linkname !== undefined ? toBytes(entry.linkname) : Buffer.alloc(0);
  if (link.length > 100) {
    pax.push(["linkpath", link]);
    if (!isUtf8(link)) binary = true;
  }
  if (size > MAX_OCTAL_11) pax.push(["size", Buffer.from(String(size))]);
  const uid = entry.uid ?? 0;
  const gid = entry.gid ?? 0;
  if (uid > MAX_OCTAL_7 || uid < 0) pax.push(["uid", Buffer.from(String(uid))]);
  if (gid > MAX_OCTAL_7 || gid < 0) pax.push(["gid", Buffer.from(String(gid))]);
  const uname = Buffer.from(entry.uname ?? "");
  const gname = Buffer.from(entry.gname ?? "");
  if (uname.length > 32) pax.push(["uname", uname]);
  if (gname.length > 32) pax.push(["gname", gname]);
  const mtimeSec = floorDiv(entry.mtimeNs, NS);
  if (entry.mtimeNs % NS !== 0n || mtimeSec < 0n || mtimeSec > BigInt(MAX_OCTAL_11)) pax.push(["mtime", Buffer.from(paxTime(entry.mtimeNs))]);
  if (entry.atimeNs !== undefined) pax.push(["atime", Buffer.from(paxTime(entry.atimeNs))]);
  if (entry.ctimeNs !== undefined) pax.push(["ctime", Buffer.from(paxTime(entry.ctimeNs))]);
  for (const x of entry.xattrs ?? []) pax.push([`SCHILY.xattr.${x.name}`, Buffer.from(x.value)]);

  const header = ustarHeader({
    name: split?.name ?? truncate(fullPath, 100),
    prefix: split?.prefix ?? Buffer.alloc(0),
    mode: entry.mode & 0o7777,
    uid: uid >= 0 && uid <= MAX_OCTAL_7 ? uid : 0,
    gid: gid >= 0 && gid <= MAX_OCTAL_7 ? gid : 0,
    size: size <= MAX_OCTAL_11 ? size : 0,
    mtime: mtimeSec >= 0n && mtimeSec <= BigInt(MAX_OCTAL_11) ? Number(mtimeSec) : 0,
    typeflag: TYPEFLAG[entry.type],
    linkname: truncate(link, 100),
    uname: truncate(uname, 32),
    gname: truncate(gname, 32),
    devmajor: entry.devmajor ?? 0,
    devminor: entry.devminor ?? 0,
  });
  if (pax.length === 0) return header;
  if (binary) pax.unshift(["hdrcharset", Buffer.from("BINARY")]);
  const records = Buffer.concat(pax.map(([k, v]) => paxRecord(k, v)));
  const base = lastComponent(fullPath);
  const paxHeader = ustarHeader({
    name: truncate(Buffer.concat([Buffer.from(`PaxHeaders.${seq}/`), base]), 100),
    prefix: Buffer.alloc(0),
    mode: 0o644,
    uid: 0,
    gid: 0,
    size: records.length,
    mtime: 0,
    typeflag: "x",
    linkname: Buffer.alloc(0),
    uname: Buffer.alloc(0),
    gname: Buffer.alloc(0),
    devmajor: 0,
    devminor: 0,
  });
  return Buffer.concat([paxHeader, records, Buffer.alloc(padding(records.length)), header]);
}

/** Zero bytes needed after a body of `size` bytes to reach a block boundary. */
export function padding(size: number): number {
  const r = size % BLOCK;
  return r === 0 ? 0 : BLOCK - r;
}

interface UstarFields {
  name: Buffer;
  prefix: Buffer;
  mode: number;
  uid: number;
  gid: number;
  size: number;
  mtime: number;
  typeflag: string;
  linkname: Buffer;
  uname: Buffer;
  gname: Buffer;
  devmajor: number;
  devminor: number;
}

function ustarHeader(f: UstarFields): Buffer {
  const b = Buffer.alloc(BLOCK);
  f.name.copy(b, 0);
  octal(b, 100, 8, f.mode);
  octal(b, 108, 8, f.uid);
  octal(b, 116, 8, f.gid);
  octal(b, 124, 12, f.size);
  octal(b, 136, 12, f.mtime);
  b.fill(0x20, 148, 156); // the checksum counts its own field as spaces
  b.write(f.typeflag, 156, "latin1");
  f.linkname.copy(b, 157);
  b.write("ustar\u000000", 257, "latin1");
  f.uname.copy(b, 265);
  f.gname.copy(b, 297);
  octal(b, 329, 8, f.devmajor);
  octal(b, 337, 8, f.devminor);
  f.prefix.copy(b, 345);
  let sum = 0;
  for (const x of b) sum += x;
  b.write(sum.toString(8).padStart(6, "0") + "\u0000 ", 148, "latin1");
  return b;
}

/** A zero-padded octal number in `width - 1` digits and a NUL. */
function octal(b: Buffer, at: number, width: number, value: number): void {
  b.write(value.toString(8).padStart(width - 1, "0") + "\u0000", at, "latin1");
}

/** `"%d %s=%s\n"`, where the leading length counts the whole record, itself included. */
function paxRecord(key: string, value: Buffer): Buffer {
  const rest = Buffer.byteLength(key) + value.length + 3; // space, "=", newline
  let len = rest + String(rest).length;
  while (rest + String(len).length !== len) len = rest + String(len).length;
  return Buffer.concat([Buffer.from(`${len} ${key}=`), value, Buffer.from("\n")]);
}

/** Seconds with up to nine decimals: "1700000000.123456789", "-1.5". */
function paxTime(ns: bigint): string {
  const sign = ns < 0n ? "-" : "";
  const abs = ns < 0n ? -ns : ns;
  const frac = abs % NS;
  const secs = abs / NS;
  if (frac === 0n) return `${sign}${secs}`;
  return `${sign}${secs}.${frac.toString().padStart(9, "0").replace(/0+$/, "")}`;
}

function floorDiv(a: bigint, b: bigint): bigint {
  const q = a / b;
  return a % b !== 0n && a < 0n ? q - 1n : q;
}

/** name ≤ 100 bytes, or prefix ≤ 155 and name ≤ 100 split at a "/"; undefined when neither fits. */
function splitUstarPath(p: Buffer): { name: Buffer; prefix: Buffer } | undefined {
  if (p.length <= 100) return { name: p, prefix: Buffer.alloc(0) };
  if (p.length > 256) return undefined;
  // The last slash that leaves a name of at most 100 bytes; a directory's trailing slash stays in the name.
  const searchEnd = p[p.length - 1] === 0x2f ? p.length - 2 : p.length - 1;
  for (let i = Math.max(0, p.length - 101); i <= searchEnd; i++) {
    if (p[i] !== 0x2f) continue;
    if (i > 155 || i === 0) continue;
    const name = p.subarray(i + 1);
    if (name.length === 0 || name.length > 100) continue;
    return { name, prefix: p.subarray(0, i) };
  }
  return undefined;
}

function lastComponent(p: Buffer): Buffer {
  let end = p.length;
  while (end > 0 && p[end - 1] === 0x2f) end--;
  const start = p.lastIndexOf(0x2f, end - 1) + 1;
  return p.subarray(start, end);
}

function truncate(b: Buffer, n: number): Buffer {
  return b.length <= n ? b : b.subarray(0, n);
}

function toBytes(v: string | Uint8Array): Buffer {
  return typeof v === "string" ? Buffer.from(v, "utf8") : Buffer.from(v.buffer, v.byteOffset, v.byteLength);
}

const utf8 = new TextDecoder("utf-8", { fatal: true });
function isUtf8(b: Uint8Array): boolean {
  try {
    utf8.decode(b);
    return true;
  } catch {
    return false;
  }
}

function showPath(p: string | Uint8Array): string {
  return typeof p === "string" ? p : Buffer.from(p).toString("utf8");
}
