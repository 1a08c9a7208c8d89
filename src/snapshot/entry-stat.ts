import { type BigIntStats, constants } from "node:fs";
import { getSystemErrorMap } from "node:util";
import { isoFromNs, isoFromSeconds } from "./tree.js";

/**
 * The lstat fields a backup's walk reads: a BigIntStats from fs, or a ListedStat from the
 * native addon's directory listing (see `parseListing`).
 */
export type EntryStat = Pick<
  BigIntStats,
  "dev" | "ino" | "mode" | "nlink" | "uid" | "gid" | "rdev" | "size" | "atimeNs" | "mtimeNs" | "ctimeNs" | "isFile" | "isDirectory" | "isSymbolicLink"
>;

/**
 * The layout of the addon's `scandir` (native/coffer_native.c): per entry, 12 little-endian
 * int64 (dev, ino, mode, nlink, uid, gid, rdev, size, atime, mtime and ctime in ns, and the
 * errno of its lstat or 0), the name's length (uint32), the name, zeros to a multiple of 8.
 */
const FIELDS = 12;
const NAME_LEN_AT = FIELDS * 8;
const NAME_AT = NAME_LEN_AT + 4;
const ERRNO_AT = 11 * 8;

/** Where each field sits in a listed entry. */
const AT = { dev: 0, ino: 8, mode: 16, nlink: 24, uid: 32, gid: 40, rdev: 48, size: 56, atimeNs: 64, mtimeNs: 72, ctimeNs: 80 } as const;

/** Fields a tree stores as numbers, as decimal strings, and as ISO times. */
export type NumberField = "mode" | "nlink" | "uid" | "gid" | "size";
export type DecimalField = "dev" | "ino" | "rdev";
export type TimeField = "mtimeNs" | "ctimeNs";

/**
 * One entry's lstat, read from a listing. It keeps the listing and decodes a field when it is
 * asked for: the walk reads most fields through `statNumber`, `statDecimal` and `statIso`,
 * which make no bigint (11 bigints per entry were a large part of the walk's garbage).
 */
export class ListedStat implements EntryStat {
  readonly #b: Buffer;
  readonly #at: number;

  constructor(b: Buffer, at: number) {
    this.#b = b;
    this.#at = at;
  }

  get dev(): bigint {
    return this.#big(AT.dev);
  }
  get ino(): bigint {
    return this.#big(AT.ino);
  }
  get mode(): bigint {
    return this.#big(AT.mode);
  }
  get nlink(): bigint {
    return this.#big(AT.nlink);
  }
  get uid(): bigint {
    return this.#big(AT.uid);
  }
  get gid(): bigint {
    return this.#big(AT.gid);
  }
  get rdev(): bigint {
    return this.#big(AT.rdev);
  }
  get size(): bigint {
    return this.#big(AT.size);
  }
  get atimeNs(): bigint {
    return this.#big(AT.atimeNs);
  }
  get mtimeNs(): bigint {
    return this.#big(AT.mtimeNs);
  }
  get ctimeNs(): bigint {
    return this.#big(AT.ctimeNs);
  }

  #big(off: number): bigint {
    return this.#b.readBigInt64LE(this.#at + off);
  }

  /** The field as Number(bigint) would give it: exact below 2^53, else rounded the same way. */
  number(f: NumberField | DecimalField): number {
    const at = this.#at + AT[f];
    return this.#b.readInt32LE(at + 4) * 4294967296 + this.#b.readUInt32LE(at);
  }

  decimal(f: DecimalField): string {
    const n = this.number(f);
    return Number.isSafeInteger(n) ? String(n) : this.#big(AT[f]).toString();
  }

  iso(f: TimeField): string {
    const at = this.#at + AT[f];
    const hi = this.#b.readInt32LE(at + 4);
    if (hi < 0) return isoFromNs(this.#big(AT[f]));
    // Seconds and nanoseconds of hi * 2^32 + lo by long division in base 2^16: every step
    // stays below 2^53, so it is exact without a bigint.
    const lo = this.#b.readUInt32LE(at);
    let r = hi >>> 16;
    let cur = r * 65536 + (hi & 0xffff);
    const q2 = Math.floor(cur / 1e9);
    r = cur - q2 * 1e9;
    cur = r * 65536 + (lo >>> 16);
    const q1 = Math.floor(cur / 1e9);
    r = cur - q1 * 1e9;
    cur = r * 65536 + (lo & 0xffff);
    const q0 = Math.floor(cur / 1e9);
    r = cur - q0 * 1e9;
    return isoFromSeconds((q2 * 65536 + q1) * 65536 + q0, r);
  }

  #type(): number {
    return this.#b.readUInt32LE(this.#at + AT.mode) & constants.S_IFMT;
  }

  isFile(): boolean {
    return this.#type() === constants.S_IFREG;
  }

  isDirectory(): boolean {
    return this.#type() === constants.S_IFDIR;
  }

  isSymbolicLink(): boolean {
    return this.#type() === constants.S_IFLNK;
  }
}

/** Number(stat[f]), without a bigint for a listed entry. */
export function statNumber(st: EntryStat, f: NumberField): number {
  return st instanceof ListedStat ? st.number(f) : Number(st[f]);
}

/** stat[f].toString(), without a bigint for a listed entry. */
export function statDecimal(st: EntryStat, f: DecimalField): string {
  return st instanceof ListedStat ? st.decimal(f) : st[f].toString();
}

/** isoFromNs(stat[f]), without a bigint for a listed entry. */
export function statIso(st: EntryStat, f: TimeField): string {
  return st instanceof ListedStat ? st.iso(f) : isoFromNs(st[f]);
}

/** A listed entry: its lstat, or the error its lstat failed with (as fs would throw it). */
export interface ListedEntry {
  name: Buffer;
  stat: ListedStat | undefined;
  error: NodeJS.ErrnoException | undefined;
}

/**
 * The entries of a `scandir` listing of `dir`, in the order the directory gave them. Names are
 * views into `listing`.
 */
export function parseListing(listing: Buffer, dir: Buffer): ListedEntry[] {
  const out: ListedEntry[] = [];
  for (let at = 0; at + NAME_AT <= listing.length; ) {
    const len = listing.readUInt32LE(at + NAME_LEN_AT);
    const name = listing.subarray(at + NAME_AT, at + NAME_AT + len);
    const errno = listing.readInt32LE(at + ERRNO_AT); // small and positive: the high half is 0
    out.push({ name, stat: errno === 0 ? new ListedStat(listing, at) : undefined, error: errno === 0 ? undefined : lstatError(errno, dir, name) });
    at += (NAME_AT + len + 7) & ~7;
  }
  return out;
}

/** The error fs.lstatSync would have thrown (same code, errno and message). */
function lstatError(errno: number, dir: Buffer, name: Buffer): NodeJS.ErrnoException {
  const [code, description] = getSystemErrorMap().get(-errno) ?? [`E${errno}`, "unknown error"];
  const path = `${dir.toString()}/${name.toString()}`;
  const err: NodeJS.ErrnoException = new Error(`${code}: ${description}, lstat '${path}'`);
  err.code = code;
  err.errno = -errno;
  err.syscall = "lstat";
  err.path = path;
  return err;
}
