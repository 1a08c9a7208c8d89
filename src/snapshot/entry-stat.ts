import { type BigIntStats, constants } from "node:fs";
import { getSystemErrorMap } from "node:util";

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

/** One entry's lstat, read from a listing: 11 fields instead of fs's 18 bigints and 4 Dates. */
export class ListedStat implements EntryStat {
  readonly dev: bigint;
  readonly ino: bigint;
  readonly mode: bigint;
  readonly nlink: bigint;
  readonly uid: bigint;
  readonly gid: bigint;
  readonly rdev: bigint;
  readonly size: bigint;
  readonly atimeNs: bigint;
  readonly mtimeNs: bigint;
  readonly ctimeNs: bigint;

  constructor(b: Buffer, at: number) {
    this.dev = b.readBigInt64LE(at);
    this.ino = b.readBigInt64LE(at + 8);
    this.mode = b.readBigInt64LE(at + 16);
    this.nlink = b.readBigInt64LE(at + 24);
    this.uid = b.readBigInt64LE(at + 32);
    this.gid = b.readBigInt64LE(at + 40);
    this.rdev = b.readBigInt64LE(at + 48);
    this.size = b.readBigInt64LE(at + 56);
    this.atimeNs = b.readBigInt64LE(at + 64);
    this.mtimeNs = b.readBigInt64LE(at + 72);
    this.ctimeNs = b.readBigInt64LE(at + 80);
  }

  #type(): number {
    return Number(this.mode) & constants.S_IFMT;
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
    const errno = Number(listing.readBigInt64LE(at + ERRNO_AT));
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
