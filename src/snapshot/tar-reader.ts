import { CofferError, isCofferError } from "../core/errors.js";

/**
 * A streaming tar reader for `import` and `verify-archive`: POSIX ustar and pax (extended
 * headers `x`, global headers `g`; keys path, linkpath, size, mtime, uid, gid, uname, gname),
 * GNU long names (`L`, `K`), base-256 numbers, and the old v7 format. It reads a stream once,
 * front to back, so it works on pipes and on decompressed streams (gzip, zstd).
 *
 * Damage is a CofferError CORRUPT whose data names the entry (`path`) and the kind of damage
 * (`damage`: "truncated", "header", "data"):
 *   - a header whose checksum is wrong,
 *   - a body shorter than its header says (the stream ended inside an entry),
 *   - a stream that ends without the two zero blocks that close an archive,
 *   - an error of the stream underneath (a damaged gzip or zstd stream), blamed on the entry
 *     being read when it happened.
 *
 * Each entry's body must be read, or left, before asking for the next entry; what is left
 * is skipped.
 */
export type TarReadType = "file" | "dir" | "symlink" | "hardlink" | "chardev" | "blockdev" | "fifo" | "other";

export interface TarReadEntry {
  /** The path as stored, decoded (UTF-8 when valid, else Latin-1 for display). */
  path: string;
  pathBytes: Buffer;
  type: TarReadType;
  mode: number;
  uid: number;
  gid: number;
  uname?: string;
  gname?: string;
  size: number;
  mtimeNs: bigint;
  /** Symlink target, or the path a hard link points to. */
  linkname?: Buffer;
}

export interface TarItem {
  entry: TarReadEntry;
  /** The entry's body (files only; empty for the rest). */
  body: AsyncIterable<Buffer>;
}

const BLOCK = 512;
const TYPES: Record<string, TarReadType> = {
  "0": "file",
  "\0": "file",
  "7": "file",
  "1": "hardlink",
  "2": "symlink",
  "3": "chardev",
  "4": "blockdev",
  "5": "dir",
  "6": "fifo",
  D: "other", // GNU dumpdir: a directory listing as data
};

/** Reads tar entries from a stream of bytes. */
export async function* readTar(source: AsyncIterable<Uint8Array>): AsyncGenerator<TarItem> {
  const r = new ByteReader(source);
  const globals = new Map<string, Buffer>();
  let last: string | undefined;
  const after = (): string => (last === undefined ? "at its start" : `after ${last}`);
  for (;;) {
    let pax = new Map<string, Buffer>(globals);
    let longName: Buffer | undefined;
    let longLink: Buffer | undefined;
    let header: Buffer;
    // Metadata entries (pax, GNU long names) apply to the next real entry.
    for (;;) {
      header = await r.read(BLOCK, { after: last });
      if (header.length === 0) throw new CofferError("CORRUPT", `The archive ends without tar's end-of-archive marker ${after()}; it is probably truncated.`, { damage: "truncated", ...(last ? { after: last } : {}) });
      if (header.length < BLOCK) throw new CofferError("CORRUPT", `The archive is truncated inside a header ${after()}.`, { damage: "truncated", ...(last ? { after: last } : {}) });
      if (isZero(header)) {
        // The second zero block and any blocking padding: read to the end, so that a damaged
        // compressed stream around them (a gzip trailer) is noticed too.
        try {
          await r.skip(Number.MAX_SAFE_INTEGER, { after: last });
        } catch (err) {
          const why = err instanceof Error && err.cause instanceof Error ? err.cause.message : (err as Error).message;
          throw new CofferError("CORRUPT", `The archive is damaged after its last entry${last ? ` ${last}` : ""} (${why}); the entries themselves are whole.`, { damage: "data", ...(last ? { after: last } : {}) });
        }
        return;
      }
      if (!checksumOk(header)) {
        const guess = cString(header, 0, 100).toString("latin1").replace(/[^\x20-\x7e]/g, "?");
        throw new CofferError("CORRUPT", `The archive has a damaged header ${after()}${guess ? ` (it may have been ${guess})` : ""}: its checksum does not match.`, {
          damage: "header",
          ...(guess ? { path: guess } : {}),
          ...(last ? { after: last } : {}),
        });
      }
      const flag = String.fromCharCode(header[156] ?? 0);
      if (flag === "x" || flag === "g" || flag === "L" || flag === "K") {
        const size = Number(numeric(header, 124, 12));
        if (size > 64 * 1024 * 1024) throw new CofferError("CORRUPT", `The archive has an extended header of ${size} bytes ${after()}; it is damaged.`, { damage: "header" });
        const data = await r.read(size, { after: last });
        if (data.length < size) throw new CofferError("CORRUPT", `The archive is truncated inside an extended header ${after()}.`, { damage: "truncated" });
        await r.skip(padding(size), { after: last });
        if (flag === "x") pax = new Map([...pax, ...parsePax(data)]);
        else if (flag === "g") {
          for (const [k, v] of parsePax(data)) {
            globals.set(k, v);
            pax.set(k, v);
          }
        }
        else if (flag === "L") longName = cString(data, 0, data.length);
        else longLink = cString(data, 0, data.length);
        continue;
      }
      break;
    }
    const entry = parseHeader(header, pax, longName, longLink);
    last = entry.path;
    const bodySize = entry.size;
    const name = entry.path;
    let left = bodySize;
    const body = (async function* (): AsyncGenerator<Buffer> {
      while (left > 0) {
        const chunk = await r.some(left, { path: name });
        if (chunk.length === 0) {
          throw new CofferError("CORRUPT", `${name}: the archive is truncated inside this entry (${bodySize - left} of its ${bodySize} bytes are there).`, {
            path: name,
            damage: "truncated",
          });
        }
        left -= chunk.length;
        yield chunk;
      }
    })();
    yield { entry, body };
    if (left > 0) {
      const got = await r.skip(left, { path: name });
      if (got < left) throw new CofferError("CORRUPT", `${name}: the archive is truncated inside this entry (${bodySize - left + got} of its ${bodySize} bytes are there).`, { path: name, damage: "truncated" });
      left = 0;
    }
    if ((await r.skip(padding(bodySize), { path: name })) < padding(bodySize)) {
      throw new CofferError("CORRUPT", `The archive is truncated after ${name}.`, { damage: "truncated", after: name });
    }
  }
}

function parseHeader(h: Buffer, pax: Map<string, Buffer>, longName: Buffer | undefined, longLink: Buffer | undefined): TarReadEntry {
  const flag = String.fromCharCode(h[156] ?? 0);
  const ustar = h.toString("latin1", 257, 263) === "ustar\0";
  let pathBytes = pax.get("path") ?? longName;
  if (pathBytes === undefined) {
    const name = cString(h, 0, 100);
    const prefix = ustar ? cString(h, 345, 155) : Buffer.alloc(0);
    pathBytes = prefix.length > 0 ? Buffer.concat([prefix, Buffer.from("/"), name]) : name;
  }
  let type = TYPES[flag] ?? "other";
  // v7 archives mark directories with a trailing slash only.
  if (type === "file" && pathBytes[pathBytes.length - 1] === 0x2f) type = "dir";
  const linkname = pax.get("linkpath") ?? longLink ?? cString(h, 157, 100);
  const size = Number(paxNumber(pax, "size") ?? numeric(h, 124, 12));
  if (!Number.isSafeInteger(size) || size < 0) throw new CofferError("CORRUPT", `${pathBytes.toString("utf8")}: its tar header has an impossible size.`, { damage: "header" });
  const entry: TarReadEntry = {
    path: decode(pathBytes),
    pathBytes,
    type,
    mode: Number(numeric(h, 100, 8)) & 0o7777,
    uid: Number(paxNumber(pax, "uid") ?? numeric(h, 108, 8)),
    gid: Number(paxNumber(pax, "gid") ?? numeric(h, 116, 8)),
    // Directories, symlinks and devices have no body whatever their size field says.
    size: type === "file" || type === "other" || type === "hardlink" ? size : 0,
    mtimeNs: paxTime(pax.get("mtime")) ?? numeric(h, 136, 12) * 1_000_000_000n,
  };
  const uname = pax.get("uname")?.toString("utf8") ?? (ustar || h.toString("latin1", 257, 262) === "ustar" ? cString(h, 265, 32).toString("utf8") : "");
  const gname = pax.get("gname")?.toString("utf8") ?? (ustar || h.toString("latin1", 257, 262) === "ustar" ? cString(h, 297, 32).toString("utf8") : "");
  if (uname) entry.uname = uname;
  if (gname) entry.gname = gname;
  if ((type === "symlink" || type === "hardlink") && linkname.length > 0) entry.linkname = linkname;
  return entry;
}

/** Octal (ASCII, NUL- or space-terminated) or GNU base-256 (high bit of the first byte set). */
function numeric(h: Buffer, at: number, len: number): bigint {
  const first = h[at] ?? 0;
  if (first & 0x80) {
    let v = BigInt(first & 0x3f);
    const negative = (first & 0x40) !== 0;
    for (let i = 1; i < len; i++) v = (v << 8n) | BigInt(h[at + i] ?? 0);
    return negative ? v - (1n << BigInt(len * 8 - 2)) : v;
  }
  const s = h.toString("latin1", at, at + len).replace(/[\0 ]+.*$/s, "").trim();
  if (s === "") return 0n;
  if (!/^[0-7]+$/.test(s)) throw new CofferError("CORRUPT", `A tar header has a damaged number field ("${s.replace(/[^\x20-\x7e]/g, "?")}").`, { damage: "header" });
  return BigInt(`0o${s}`);
}

function checksumOk(h: Buffer): boolean {
  let unsigned = 0;
  let signed = 0;
  for (let i = 0; i < BLOCK; i++) {
    const b = i >= 148 && i < 156 ? 0x20 : (h[i] as number);
    unsigned += b;
    signed += b >= 0x80 ? b - 256 : b;
  }
  let stored: bigint;
  try {
    stored = numeric(h, 148, 8);
  } catch {
    return false;
  }
  return stored === BigInt(unsigned) || stored === BigInt(signed);
}

/** `"%d %s=%s\n"` records. */
function parsePax(data: Buffer): Map<string, Buffer> {
  const out = new Map<string, Buffer>();
  let p = 0;
  while (p < data.length) {
    const sp = data.indexOf(0x20, p);
    if (sp < 0) break;
    const len = Number(data.toString("latin1", p, sp));
    if (!Number.isInteger(len) || len <= 0 || p + len > data.length) throw new CofferError("CORRUPT", "A pax extended header is damaged.", { damage: "header" });
    const rec = data.subarray(sp + 1, p + len - 1); // without the newline
    const eq = rec.indexOf(0x3d);
    if (eq > 0) out.set(rec.toString("utf8", 0, eq), Buffer.from(rec.subarray(eq + 1)));
    p += len;
  }
  return out;
}

function paxNumber(pax: Map<string, Buffer>, key: string): bigint | undefined {
  const v = pax.get(key)?.toString("latin1");
  if (v === undefined || !/^\d+$/.test(v)) return undefined;
  return BigInt(v);
}

/** "1700000000.123456789" or "-1.5" → nanoseconds. */
function paxTime(v: Buffer | undefined): bigint | undefined {
  const m = v === undefined ? null : /^(-?)(\d+)(?:\.(\d+))?$/.exec(v.toString("latin1"));
  if (!m) return undefined;
  const ns = BigInt(m[2] as string) * 1_000_000_000n + BigInt((m[3] ?? "").slice(0, 9).padEnd(9, "0"));
  return m[1] === "-" ? -ns : ns;
}

function cString(b: Buffer, at: number, len: number): Buffer {
  const s = b.subarray(at, at + len);
  const nul = s.indexOf(0);
  return Buffer.from(nul < 0 ? s : s.subarray(0, nul));
}

function isZero(b: Buffer): boolean {
  for (const x of b) if (x !== 0) return false;
  return true;
}

function padding(size: number): number {
  const r = size % BLOCK;
  return r === 0 ? 0 : BLOCK - r;
}

const utf8 = new TextDecoder("utf-8", { fatal: true });
function decode(b: Buffer): string {
  try {
    return utf8.decode(b);
  } catch {
    return b.toString("latin1");
  }
}

/** Where a read is: inside an entry's body, or between entries (after `after`). */
type Where = { path: string } | { after: string | undefined };

/**
 * Exact reads over an async stream of chunks. An error of the stream becomes CORRUPT, blamed
 * on the entry being read, or placed after the last entry read.
 */
class ByteReader {
  readonly #it: AsyncIterator<Uint8Array>;
  #buf: Buffer = Buffer.alloc(0);
  #done = false;

  constructor(source: AsyncIterable<Uint8Array>) {
    this.#it = source[Symbol.asyncIterator]();
  }

  async #fill(where: Where): Promise<boolean> {
    if (this.#done) return false;
    let r: IteratorResult<Uint8Array>;
    try {
      r = await this.#it.next();
    } catch (err) {
      if (isCofferError(err)) throw err;
      const why = (err as Error).message;
      if ("path" in where) {
        throw new CofferError("CORRUPT", `${where.path}: the archive is damaged here (${why}).`, { damage: "data", path: where.path }, { cause: err });
      }
      const at = where.after === undefined ? "at its start" : `after ${where.after}`;
      throw new CofferError("CORRUPT", `The archive is damaged ${at} (${why}).`, { damage: "data", ...(where.after !== undefined ? { after: where.after } : {}) }, { cause: err });
    }
    if (r.done) {
      this.#done = true;
      return false;
    }
    const c = Buffer.from(r.value.buffer, r.value.byteOffset, r.value.byteLength);
    this.#buf = this.#buf.length === 0 ? c : Buffer.concat([this.#buf, c]);
    return true;
  }

  /** Exactly `n` bytes, or fewer at the end of the stream. */
  async read(n: number, where: Where): Promise<Buffer> {
    while (this.#buf.length < n && (await this.#fill(where)));
    const out = this.#buf.subarray(0, Math.min(n, this.#buf.length));
    this.#buf = this.#buf.subarray(out.length);
    return out;
  }

  /** Between 1 and `max` bytes, as they come; empty at the end of the stream. */
  async some(max: number, where: Where): Promise<Buffer> {
    if (this.#buf.length === 0 && !(await this.#fill(where))) return Buffer.alloc(0);
    const out = this.#buf.subarray(0, Math.min(max, this.#buf.length));
    this.#buf = this.#buf.subarray(out.length);
    return out;
  }

  /** Skips `n` bytes; returns how many there were. */
  async skip(n: number, where: Where): Promise<number> {
    let left = n;
    while (left > 0) {
      if (this.#buf.length === 0 && !(await this.#fill(where))) break;
      const k = Math.min(left, this.#buf.length);
      this.#buf = this.#buf.subarray(k);
      left -= k;
    }
    return n - left;
  }
}
