import { jsonBytes } from "./tree-json.js";

/**
 * The tree format (repository format v1): a directory listing stored as one `tree` blob.
 * JSON `{ "nodes": [...] }`, nodes sorted by the bytes of their name. Names that are valid
 * UTF-8 are stored in `name`; any other name is stored losslessly as `name_raw` (base64) with
 * `name` holding a readable replacement. Times are ISO-8601 with nanoseconds.
 */
export type NodeType = "file" | "dir" | "symlink" | "dev" | "chardev" | "fifo" | "socket";

export interface TreeNode {
  name: string;
  /** base64 of the name bytes, only when they are not valid UTF-8. */
  name_raw?: string;
  type: NodeType;
  mode: number;
  uid: number;
  gid: number;
  user?: string;
  group?: string;
  mtime: string;
  atime?: string;
  ctime: string;
  inode: string;
  device: string;
  links: number;
  size: number;
  /** Data blob ids, in order (files). */
  content?: string[];
  /** Tree blob id (directories). */
  subtree?: string;
  /** Symlink target; `linktarget_raw` (base64) when it is not valid UTF-8. */
  linktarget?: string;
  linktarget_raw?: string;
  /** Device number for dev/chardev nodes. */
  rdev?: string;
  xattrs?: { name: string; value: string }[];
}

export interface Tree {
  nodes: TreeNode[];
}

// ignoreBOM: a name that starts with U+FEFF keeps it (without it, the mark was dropped from `name`).
const utf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

/** Decodes bytes as strict UTF-8, or returns undefined. */
export function strictUtf8(b: Uint8Array): string | undefined {
  try {
    return utf8.decode(b);
  } catch {
    return undefined;
  }
}

/** Sets `name` (and `name_raw` when needed) from the raw bytes of a file name. */
export function encodeName(raw: Uint8Array): { name: string; name_raw?: string } {
  const s = strictUtf8(raw);
  if (s !== undefined) return { name: s };
  return { name: Buffer.from(raw).toString("latin1"), name_raw: Buffer.from(raw).toString("base64") };
}

/** The raw bytes of a node's name. */
export function nameBytes(n: { name: string; name_raw?: string }): Buffer {
  return n.name_raw !== undefined ? Buffer.from(n.name_raw, "base64") : Buffer.from(n.name, "utf8");
}

export function linkTargetBytes(n: TreeNode): Buffer {
  if (n.linktarget_raw !== undefined) return Buffer.from(n.linktarget_raw, "base64");
  return Buffer.from(n.linktarget ?? "", "utf8");
}

export function compareNames(a: TreeNode, b: TreeNode): number {
  return Buffer.compare(nameBytes(a), nameBytes(b));
}

/** Nanosecond-precision ISO time from a bigint of nanoseconds since the epoch. */
export function isoFromNs(ns: bigint): string {
  let sec = Number(ns / 1_000_000_000n);
  let frac = Number(ns % 1_000_000_000n);
  if (frac < 0) {
    frac += 1_000_000_000;
    sec -= 1;
  }
  return isoFromSeconds(sec, frac);
}

/** The ISO string of every time from 1970 to the end of 9999 has this layout and length. */
const ISO_LEN = "YYYY-MM-DDTHH:MM:SS.nnnnnnnnnZ".length;
/** Seconds from 1970-01-01 to 10000-01-01. */
const YEAR_10000 = 253402300800;

/** A time being written: its digits, and the second and day they show. */
interface IsoScratch {
  b: Buffer;
  sec: number;
  day: number;
}
const scratch = (): IsoScratch => ({ b: Buffer.from("0000-00-00T00:00:00.000000000Z", "latin1"), sec: -1, day: -1 });
/** Two: a node's mtime and ctime alternate, and each tends to repeat its own second and day. */
const isoA = scratch();
const isoB = scratch();
let isoLast = isoA;

/**
 * isoFromNs of `sec` seconds and `frac` nanoseconds (0 <= frac < 1e9) since the epoch.
 * Hot path (twice per entry of every backup): a time from 1970 to 9999 is written as digits
 * into a buffer that keeps its last date and second, and read out as one string, which
 * allocates only that string (building it from parts made a dozen intermediate strings).
 */
export function isoFromSeconds(sec: number, frac: number): string {
  if (!(sec >= 0 && sec < YEAR_10000)) return isoFromParts(sec, frac);
  let s = isoLast;
  if (s.sec !== sec) {
    s = s === isoA ? isoB : isoA;
    if (s.sec !== sec) setSecond(s, sec);
  }
  isoLast = s;
  digits(s.b, 20, frac, 9);
  return s.b.toString("latin1", 0, ISO_LEN);
}

function setSecond(s: IsoScratch, sec: number): void {
  const days = Math.floor(sec / 86400);
  if (days !== s.day) {
    const ymd = civil(days);
    const y = Math.floor(ymd / 10000);
    digits(s.b, 0, y, 4);
    digits(s.b, 5, Math.floor((ymd - y * 10000) / 100), 2);
    digits(s.b, 8, ymd - Math.floor(ymd / 100) * 100, 2);
    s.day = days;
  }
  const rem = sec - days * 86400;
  const hh = Math.floor(rem / 3600);
  const mi = Math.floor((rem - hh * 3600) / 60);
  digits(s.b, 11, hh, 2);
  digits(s.b, 14, mi, 2);
  digits(s.b, 17, rem - hh * 3600 - mi * 60, 2);
  s.sec = sec;
}

/** Writes `n` as `width` decimal digits at `at`. */
function digits(b: Buffer, at: number, n: number, width: number): void {
  for (let i = at + width - 1; i >= at; i--) {
    const q = Math.floor(n / 10);
    b[i] = 0x30 + (n - q * 10);
    n = q;
  }
}

/**
 * The civil date of a day since 1970-01-01 (H. Hinnant's algorithm) as one number,
 * year * 10000 + month * 100 + day (no object: it runs for many files).
 */
function civil(days: number): number {
  const z = days + 719468;
  const era = Math.floor(z / 146097);
  const doe = z - era * 146097;
  const yoe = Math.floor((doe - Math.floor(doe / 1460) + Math.floor(doe / 36524) - Math.floor(doe / 146096)) / 365);
  const doy = doe - (365 * yoe + Math.floor(yoe / 4) - Math.floor(yoe / 100));
  const mp = Math.floor((5 * doy + 2) / 153);
  const d = doy - Math.floor((153 * mp + 2) / 5) + 1;
  const m = mp < 10 ? mp + 3 : mp - 9;
  return (yoe + era * 400 + (m <= 2 ? 1 : 0)) * 10000 + m * 100 + d;
}

/** Any time, before 1970 and after 9999 too (as Date#toISOString writes years, with nanoseconds). */
function isoFromParts(sec: number, frac: number): string {
  const days = Math.floor(sec / 86400);
  let rem = sec - days * 86400;
  const hh = Math.floor(rem / 3600);
  rem -= hh * 3600;
  const mi = Math.floor(rem / 60);
  const ss = rem - mi * 60;
  const ymd = civil(days);
  const y = Math.floor(ymd / 10000); // month and day are positive: this holds for years before 0 too
  const m = Math.floor((ymd - y * 10000) / 100);
  const d = ymd - Math.floor(ymd / 100) * 100;
  return `${y < 0 || y > 9999 ? (y < 0 ? "-" : "+") + String(Math.abs(y)).padStart(6, "0") : String(y).padStart(4, "0")}-${p2(m)}-${p2(d)}T${p2(hh)}:${p2(mi)}:${p2(ss)}.${String(frac).padStart(9, "0")}Z`;
}

function p2(n: number): string {
  return n < 10 ? `0${n}` : String(n);
}

/** Parses an ISO time with up to nanoseconds into nanoseconds since the epoch. */
export function nsFromIso(iso: string): bigint {
  const m = /^(.*T\d\d:\d\d:\d\d)(?:\.(\d{1,9}))?(Z|[+-]\d\d:\d\d)$/.exec(iso);
  if (!m) return BigInt(Date.parse(iso)) * 1_000_000n;
  const secs = BigInt(Date.parse(`${m[1]}${m[3]}`)) / 1000n;
  const frac = BigInt((m[2] ?? "").padEnd(9, "0"));
  return secs * 1_000_000_000n + frac;
}

/** `Buffer.from(JSON.stringify(t))`, without the string (see jsonBytes). */
export function encodeTree(t: Tree): Buffer {
  return jsonBytes(t);
}

export function decodeTree(b: Uint8Array): Tree {
  // A view, not Buffer.from(b): that copies the bytes first.
  const t = JSON.parse(Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString("utf8")) as Tree;
  if (!t || !Array.isArray(t.nodes)) throw new Error("not a tree");
  lastTree = t;
  return lastTree;
}

/**
 * The last tree decoded, kept only so that one object of its shape stays alive: callers keep
 * the nodes and drop the `{ nodes }` around them, whose map V8 then let die at a full
 * collection, taking with it the optimized code of every caller that had met it (restore's
 * tree loader was compiled again six times; `--trace-deopt`, "weak objects").
 */
let lastTree: Tree | undefined;
